package extent

import (
	"iter"
	"slices"
)

// Union yields the bytes that any of seqs covers. Each input must be sorted by
// Offset and may overlap within itself. The output is normalised. Union merges
// the k inputs with a heap: O(log k) per extent, O(k) memory. See the package
// documentation for how far it reads ahead.
func Union(seqs ...iter.Seq[Extent]) iter.Seq[Extent] {
	switch len(seqs) {
	case 0:
		return func(func(Extent) bool) {}
	case 1:
		return Coalesce(seqs[0], 0)
	}
	seqs = slices.Clone(seqs)
	return func(yield func(Extent) bool) {
		cs := make([]*cursor, len(seqs))
		for i, seq := range seqs {
			c, stop := seqCursor(seq)
			defer stop()
			cs[i] = c
		}
		union(cs, yield)
	}
}

// UnionSlices is Union for slices. It returns a new slice and leaves its inputs
// unchanged.
func UnionSlices(ss ...[]Extent) []Extent {
	if len(ss) == 1 {
		return CoalesceSlice(slices.Clone(ss[0]), 0)
	}
	n := 0
	cs := make([]*cursor, len(ss))
	for i, es := range ss {
		n += len(es)
		cs[i] = sliceCursor(es)
	}
	out := make([]Extent, 0, min(n, 1024))
	union(cs, func(e Extent) bool {
		out = append(out, e)
		return true
	})
	return out
}

// union steps the cursors cs and merges their extents into a normalised
// sequence. An extent that merges with the pending one is taken from its cursor
// without touching the heap: all heads start at or after the pending extent.
func union(cs []*cursor, yield func(Extent) bool) {
	h := make(cursorHeap, 0, len(cs))
	for i, c := range cs {
		if c.step(); c.ok {
			h = append(h, head{c.s, i})
		}
	}
	h.init()
	var s, t, floor int64
	have := false
	for len(h) > 0 {
		c := cs[h[0].i]
		if have && c.s <= t {
			t = max(t, c.t)
		} else {
			if have {
				if s < floor { // an input broke the ordering contract
					s = min(floor, t)
				}
				if s < t && !yield(Extent{Offset: s, Length: t - s}) {
					return
				}
				floor = t
			}
			s, t, have = c.s, c.t, true
		}
		for c.step(); c.ok && c.s <= t && c.s >= s; c.step() {
			t = max(t, c.t)
		}
		if c.ok {
			h[0].s = c.s
		} else {
			h[0] = h[len(h)-1]
			h = h[:len(h)-1]
		}
		h.down(0)
	}
	if have {
		if s < floor {
			s = min(floor, t)
		}
		if s < t {
			yield(Extent{Offset: s, Length: t - s})
		}
	}
}

// head is a cursor in a cursorHeap, by its index, and the start of its current
// extent. It holds no pointer, so that moving it needs no write barrier.
type head struct {
	s int64
	i int
}

// cursorHeap is a binary min-heap of cursors ordered by the start of their
// current extent.
type cursorHeap []head

func (h cursorHeap) init() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

func (h cursorHeap) down(i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		j := l
		if r := l + 1; r < n && h[r].s < h[l].s {
			j = r
		}
		if h[i].s <= h[j].s {
			return
		}
		h[i], h[j] = h[j], h[i]
		i = j
	}
}
