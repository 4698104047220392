package extent

import (
	"iter"
	"slices"
)

// Clip yields the parts of the extents of seq, sorted by Offset, that lie inside
// [start, end); a negative start means 0. The output is normalised. Clip stops
// reading seq at the first extent that starts at or beyond end, and reads nothing
// when the window is empty.
func Clip(seq iter.Seq[Extent], start, end int64) iter.Seq[Extent] {
	start = max(start, 0)
	return func(yield func(Extent) bool) {
		if end <= start {
			return
		}
		st := &clipState{start: start, end: end, m: newMerger(0)}
		c := &st.m.c
		for e := range seq {
			if e.Length <= 0 {
				continue
			}
			if e.Offset >= st.end {
				break
			}
			// Fast path: a valid extent inside the window at or after the start
			// of the pending extent: the fast path of merger.push, inlined.
			if e.Offset >= st.start && e.Length <= st.end-e.Offset && c.have && e.Offset >= c.start {
				if e.Offset <= c.end {
					c.end = max(c.end, e.Offset+e.Length)
					continue
				}
				if c.start >= st.m.floor {
					out := Extent{Offset: c.start, Length: c.end - c.start}
					st.m.floor = c.end
					c.start, c.end = e.Offset, e.Offset+e.Length
					if !yield(out) {
						return
					}
					continue
				}
			}
			e, ok := ClipTo(e, st.start, st.end)
			if !ok {
				continue
			}
			if out, ok := st.m.push(e); ok && !yield(out) {
				return
			}
		}
		if out, ok := st.m.flush(); ok {
			yield(out)
		}
	}
}

// clipState is the state of Clip.
type clipState struct {
	start, end int64
	m          merger
}

// ClipSlice is Clip for a slice: it clips es in place and returns es[:n], the
// clipped and merged extents. The elements of es past n are left unspecified.
func ClipSlice(es []Extent, start, end int64) []Extent {
	return overwrite(es, Clip(slices.Values(es), start, end))
}
