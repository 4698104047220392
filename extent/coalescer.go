package extent

import "math"

// Coalescer merges a stream of extents, pushed in ascending order of Offset, into
// maximal extents: two extents merge when they overlap, touch, or are separated by
// at most Gap bytes. It keeps one pending extent and allocates nothing.
//
// The zero value merges overlapping and adjacent extents (Gap 0).
//
//	var c extent.Coalescer
//	for _, e := range in {
//		if out, ok := c.Push(e); ok {
//			emit(out)
//		}
//	}
//	if out, ok := c.Flush(); ok {
//		emit(out)
//	}
type Coalescer struct {
	// Gap is the largest distance in bytes between two extents that still merges
	// them; the bytes in between become part of the result. Negative means 0.
	Gap int64

	start, end int64
	have       bool
}

// Push adds e, which must not start before the previous extent pushed. When e
// does not merge with the pending extent, Push returns the pending one, which is
// final, and e becomes pending. Empty extents are ignored. An extent that starts
// before the pending one is still merged correctly when it overlaps it; one that
// starts before it and does not overlap it breaks the ordering contract and is
// merged into the pending extent (covering the bytes between), so that nothing is
// lost.
func (c *Coalescer) Push(e Extent) (Extent, bool) {
	e, ok := normal(e)
	if !ok {
		return Extent{}, false
	}
	s, t := e.Offset, e.Offset+e.Length
	if !c.have {
		c.start, c.end, c.have = s, t, true
		return Extent{}, false
	}
	gap := c.Gap
	if gap < 0 {
		gap = 0
	}
	limit := c.end
	if limit > math.MaxInt64-gap {
		limit = math.MaxInt64
	} else {
		limit += gap
	}
	if s <= limit {
		if s < c.start {
			c.start = s
		}
		if t > c.end {
			c.end = t
		}
		return Extent{}, false
	}
	out := Extent{Offset: c.start, Length: c.end - c.start}
	c.start, c.end = s, t
	return out, true
}

// Flush returns the pending extent, if any, and resets the Coalescer (keeping Gap).
func (c *Coalescer) Flush() (Extent, bool) {
	if !c.have {
		return Extent{}, false
	}
	c.have = false
	return Extent{Offset: c.start, Length: c.end - c.start}, true
}

// Pending returns the extent not yet returned, if any, without removing it.
func (c *Coalescer) Pending() (Extent, bool) {
	if !c.have {
		return Extent{}, false
	}
	return Extent{Offset: c.start, Length: c.end - c.start}, true
}
