package extent

import (
	"iter"
	"math"
	"slices"
)

// Total returns the number of bytes that the extents of seq, sorted by Offset,
// cover, counting bytes covered twice once. It saturates at math.MaxInt64.
func Total(seq iter.Seq[Extent]) int64 {
	var sum int64
	for e := range Coalesce(seq, 0) {
		sum = addSat(sum, e.Length)
	}
	return sum
}

// TotalSlice is Total for a slice; es is left unchanged.
func TotalSlice(es []Extent) int64 {
	return Total(slices.Values(es))
}

// addSat returns a+b for a, b >= 0, saturated at math.MaxInt64.
func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
