package extent

import (
	"iter"
	"math"
	"slices"
)

// Coalesce merges the extents of seq, sorted by Offset, into maximal extents: two
// extents merge when they overlap, touch, or are at most gap bytes apart (the
// bytes between them then become part of the result; a negative gap means 0).
// The output is normalised. Coalesce keeps one pending extent and allocates
// nothing per extent.
func Coalesce(seq iter.Seq[Extent], gap int64) iter.Seq[Extent] {
	return func(yield func(Extent) bool) {
		m := newMerger(gap)
		c := &m.c
		for e := range seq {
			// The fast path of m.push, inlined.
			if c.have && e.Offset >= c.start && e.Length > 0 && e.Length <= math.MaxInt64-e.Offset {
				if e.Offset-c.end <= m.gap {
					c.end = max(c.end, e.Offset+e.Length)
					continue
				}
				if c.start >= m.floor {
					out := Extent{Offset: c.start, Length: c.end - c.start}
					m.floor = c.end
					c.start, c.end = e.Offset, e.Offset+e.Length
					if !yield(out) {
						return
					}
					continue
				}
			}
			if out, ok := m.push(e); ok && !yield(out) {
				return
			}
		}
		if out, ok := m.flush(); ok {
			yield(out)
		}
	}
}

// CoalesceSlice is Coalesce for a slice: it merges es in place and returns
// es[:n], the merged extents. The elements of es past n are left unspecified.
func CoalesceSlice(es []Extent, gap int64) []Extent {
	return overwrite(es, Coalesce(slices.Values(es), gap))
}

// overwrite stores the output of seq, an operation reading es in order that
// yields an extent only after reading more input extents than it has yielded,
// into es, and returns the part of es it filled.
func overwrite(es []Extent, seq iter.Seq[Extent]) []Extent {
	n := 0
	for e := range seq {
		es[n] = e
		n++
	}
	return es[:n]
}

// merger is a Coalescer whose output stays ascending and non-overlapping even when
// its input breaks the ordering contract: an extent that reaches below the end of
// the previous output is cut at that end (those bytes were already yielded).
// Its push merges an extent into the pending one without a call when it can.
type merger struct {
	c     Coalescer
	gap   int64 // c.Gap, at least 0
	floor int64 // end of the last extent returned
}

func newMerger(gap int64) merger {
	return merger{c: Coalescer{Gap: gap}, gap: max(gap, 0)}
}

// push is Coalescer.Push, then above. It handles the two common cases, a valid
// extent at or after the start of the pending one that extends it or that ends
// it, without calling Push; Push does the rest.
func (m *merger) push(e Extent) (Extent, bool) {
	c := &m.c
	if !c.have || e.Offset < c.start || e.Length <= 0 || e.Length > math.MaxInt64-e.Offset {
		return m.pushSlow(e)
	}
	if e.Offset-c.end <= m.gap { // c.end >= 0: no overflow
		c.end = max(c.end, e.Offset+e.Length)
		return Extent{}, false
	}
	out := Extent{Offset: c.start, Length: c.end - c.start}
	c.start, c.end = e.Offset, e.Offset+e.Length
	if out.Offset < m.floor {
		return m.above(out)
	}
	m.floor = out.Offset + out.Length
	return out, true
}

func (m *merger) pushSlow(e Extent) (Extent, bool) {
	out, ok := m.c.Push(e)
	if !ok {
		return Extent{}, false
	}
	return m.above(out)
}
func (m *merger) flush() (Extent, bool) {
	out, ok := m.c.Flush()
	if !ok {
		return Extent{}, false
	}
	return m.above(out)
}

// above returns the part of a normalised extent at or above m.floor and moves the
// floor to its end.
func (m *merger) above(e Extent) (Extent, bool) {
	end := e.Offset + e.Length
	if e.Offset < m.floor {
		if end <= m.floor {
			return Extent{}, false
		}
		e = Extent{Offset: m.floor, Length: end - m.floor}
	}
	m.floor = end
	return e, true
}
