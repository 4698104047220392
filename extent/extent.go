package extent

import (
	"math"
	"strconv"
)

// Extent is the half-open byte range [Offset, Offset+Length).
//
// A valid extent has Offset >= 0, Length > 0 and Offset+Length <= math.MaxInt64.
// The operations of this package skip extents whose Length is zero or negative,
// treat a negative Offset as 0 (dropping the part below it), and saturate the end of
// an extent whose Offset+Length would overflow at math.MaxInt64: no operation
// ever overflows.
type Extent struct {
	Offset int64 `json:"offset"`
	Length int64 `json:"length"`
}

// End returns Offset+Length, saturated at math.MaxInt64 when the sum would overflow.
func (e Extent) End() int64 {
	if e.Length > 0 && e.Offset > math.MaxInt64-e.Length {
		return math.MaxInt64
	}
	return e.Offset + e.Length
}

// IsEmpty reports whether the extent covers no byte (Length <= 0).
func (e Extent) IsEmpty() bool { return e.Length <= 0 }

// Valid reports whether the extent is non-empty, starts at or after 0 and ends at
// or before math.MaxInt64.
func (e Extent) Valid() bool {
	return e.Offset >= 0 && e.Length > 0 && e.Offset <= math.MaxInt64-e.Length
}

// Contains reports whether the byte at off lies inside the extent.
func (e Extent) Contains(off int64) bool {
	return e.Length > 0 && off >= e.Offset && off < e.End()
}

// String formats the extent as "[offset, end)" in decimal bytes.
func (e Extent) String() string {
	b := make([]byte, 0, 48)
	b = append(b, '[')
	b = strconv.AppendInt(b, e.Offset, 10)
	b = append(b, ", "...)
	b = strconv.AppendInt(b, e.End(), 10)
	b = append(b, ')')
	return string(b)
}

// FromRange returns the extent [start, end); it is empty when end <= start.
func FromRange(start, end int64) Extent {
	if end <= start {
		return Extent{Offset: start}
	}
	return Extent{Offset: start, Length: end - start}
}

// normal returns e with a negative offset raised to 0 and an overflowing end
// saturated at math.MaxInt64. ok is false when nothing of e remains.
func normal(e Extent) (Extent, bool) {
	if e.Length <= 0 {
		return Extent{}, false
	}
	end := e.End()
	start := e.Offset
	if start < 0 {
		start = 0
	}
	if end <= start {
		return Extent{}, false
	}
	return Extent{Offset: start, Length: end - start}, true
}

// ClipTo returns the part of e inside [start, end); ok is false when nothing is.
func ClipTo(e Extent, start, end int64) (Extent, bool) {
	e, ok := normal(e)
	if !ok {
		return Extent{}, false
	}
	s, t := e.Offset, e.Offset+e.Length
	if s < start {
		s = start
	}
	if t > end {
		t = end
	}
	if t <= s {
		return Extent{}, false
	}
	return Extent{Offset: s, Length: t - s}, true
}

// AlignOut widens e to whole blocks of the given size: its start is rounded down
// and its end up to a multiple of block, then the result is clipped to
// [0, capacity). A capacity <= 0 means no capacity limit (math.MaxInt64); a block
// <= 1 leaves e unchanged but for the clipping. Rounding never overflows: an end
// that cannot be rounded up within int64 becomes math.MaxInt64. ok is false when
// nothing of e lies below the capacity.
func AlignOut(e Extent, block, capacity int64) (Extent, bool) {
	e, ok := normal(e)
	if !ok {
		return Extent{}, false
	}
	if capacity <= 0 {
		capacity = math.MaxInt64
	}
	s, t := e.Offset, e.Offset+e.Length
	if block > 1 {
		s -= s % block
		if r := t % block; r != 0 {
			if t > math.MaxInt64-(block-r) {
				t = math.MaxInt64
			} else {
				t += block - r
			}
		}
	}
	if t > capacity {
		t = capacity
	}
	if t <= s {
		return Extent{}, false
	}
	return Extent{Offset: s, Length: t - s}, true
}
