package extent

import (
	"iter"
	"math"
	"slices"
)

// Align widens every extent of seq, sorted by Offset, to whole blocks as AlignOut
// does (start rounded down and end rounded up to a multiple of block, then clipped
// to [0, capacity); capacity <= 0 means no limit, block <= 1 means no rounding),
// and merges the extents that widening made overlap or touch. The output is
// normalised. Align stops reading seq at the first extent that starts at or beyond
// the capacity.
func Align(seq iter.Seq[Extent], block, capacity int64) iter.Seq[Extent] {
	return func(yield func(Extent) bool) {
		// The state is in one struct so that the loop body loads one pointer
		// from its closure instead of every variable it uses.
		st := &alignState{a: newAligner(block, capacity), m: newMerger(0)}
		st.maxLast = math.MaxInt64 - st.a.block
		c := &st.m.c
		for e := range seq {
			// Fast path: a valid extent, and a result that needs no clipping or
			// saturation and extends or follows the pending extent.
			if e.Offset >= 0 && e.Length > 0 && e.Length <= math.MaxInt64-e.Offset {
				s, last := e.Offset, e.Offset+e.Length-1 // last: the last byte
				switch mask := st.a.mask; {
				case mask >= 0:
					s, last = s&^mask, last|mask
				case last <= st.maxLast:
					b := st.a.block
					s, last = s-s%b, last+b-1-last%b
				default:
					last = st.a.capacity // take the slow path
				}
				if last < st.a.capacity && c.have && s >= c.start {
					if s <= c.end {
						c.end = max(c.end, last+1)
						continue
					}
					if c.start >= st.m.floor {
						out := Extent{Offset: c.start, Length: c.end - c.start}
						st.m.floor = c.end
						c.start, c.end = s, last+1
						if !yield(out) {
							return
						}
						continue
					}
				}
			}
			w, ok := st.a.align(e)
			if !ok {
				if e.Length > 0 && e.End() > 0 { // non-empty, hence at or past the capacity
					break
				}
				continue
			}
			if out, ok := st.m.push(w); ok && !yield(out) {
				return
			}
		}
		if out, ok := st.m.flush(); ok {
			yield(out)
		}
	}
}

// alignState is the state of Align.
type alignState struct {
	a       aligner
	maxLast int64 // math.MaxInt64 - a.block: rounding a last byte up to here cannot overflow
	m       merger
}

// AlignSlice is Align for a slice: it aligns es in place and returns es[:n], the
// aligned and merged extents. The elements of es past n are left unspecified.
func AlignSlice(es []Extent, block, capacity int64) []Extent {
	return overwrite(es, Align(slices.Values(es), block, capacity))
}

// aligner computes AlignOut with the block and capacity fixed, using masks instead
// of divisions when the block is a power of two.
type aligner struct {
	block    int64 // > 1, or 1 for no rounding
	mask     int64 // block-1 when block is a power of two, else -1
	capacity int64 // > 0
}

func newAligner(block, capacity int64) aligner {
	if block < 1 {
		block = 1
	}
	if capacity <= 0 {
		capacity = math.MaxInt64
	}
	mask := int64(-1)
	if block&(block-1) == 0 {
		mask = block - 1
	}
	return aligner{block: block, mask: mask, capacity: capacity}
}

// align returns AlignOut(e, a.block, a.capacity).
func (a *aligner) align(e Extent) (Extent, bool) {
	if e.Length <= 0 {
		return Extent{}, false
	}
	s, t := e.Offset, e.End()
	if s < 0 {
		s = 0
	}
	if t <= s {
		return Extent{}, false
	}
	if a.mask >= 0 {
		s &^= a.mask
		if t&a.mask != 0 {
			t &^= a.mask
			if t > math.MaxInt64-a.block {
				t = math.MaxInt64
			} else {
				t += a.block
			}
		}
	} else {
		s -= s % a.block
		if r := t % a.block; r != 0 {
			if t > math.MaxInt64-(a.block-r) {
				t = math.MaxInt64
			} else {
				t += a.block - r
			}
		}
	}
	if t > a.capacity {
		t = a.capacity
	}
	if t <= s {
		return Extent{}, false
	}
	return Extent{Offset: s, Length: t - s}, true
}
