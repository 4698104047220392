package extent

import (
	"cmp"
	"slices"
)

// Normalize sorts es, which may be in any order, and merges it as CoalesceSlice
// with gap 0 does: empty extents are dropped, negative offsets raised to 0,
// overflowing ends saturated, and overlapping or adjacent extents merged. It works
// in place and returns es[:n]; the elements of es past n are left unspecified.
// The result satisfies IsNormalized.
func Normalize(es []Extent) []Extent {
	n := 0
	for _, e := range es {
		if e, ok := normal(e); ok {
			es[n] = e
			n++
		}
	}
	es = es[:n]
	if !slices.IsSortedFunc(es, byOffset) {
		slices.SortFunc(es, byOffset)
	}
	return CoalesceSlice(es, 0)
}

func byOffset(a, b Extent) int { return cmp.Compare(a.Offset, b.Offset) }

// IsNormalized reports whether es is what the operations of this package yield:
// every extent Valid, ascending, non-overlapping and non-adjacent (at least one
// byte between two extents). An empty or nil slice is normalised.
func IsNormalized(es []Extent) bool {
	return isSorted(es, 1)
}

// IsSorted reports whether every extent of es is Valid and starts at or after the
// end of the previous one: IsNormalized but allowing adjacent extents, as Split
// yields them. An empty or nil slice is sorted.
func IsSorted(es []Extent) bool {
	return isSorted(es, 0)
}

// isSorted reports whether every extent is valid and starts at least space bytes
// after the end of the previous one.
func isSorted(es []Extent, space int64) bool {
	end := -space // the first extent may start at 0
	for _, e := range es {
		if !e.Valid() || e.Offset-end < space {
			return false
		}
		end = e.Offset + e.Length
	}
	return true
}
