package extent

import "iter"

// Intersect yields the bytes that both a and b cover (for example dirty ∩
// allocated). Both inputs must be sorted by Offset; they may overlap within
// themselves. The output is normalised. Intersect stops reading both inputs as
// soon as one is exhausted or the consumer stops; see the package documentation
// for how far it reads ahead.
func Intersect(a, b iter.Seq[Extent]) iter.Seq[Extent] {
	return pairSeq(a, b, intersect)
}

// IntersectSlices is Intersect for slices. It returns a new slice and leaves a and
// b unchanged.
func IntersectSlices(a, b []Extent) []Extent {
	out := make([]Extent, 0, min(len(a), len(b)))
	intersect(advanced(sliceCursor(a)), advanced(sliceCursor(b)), func(e Extent) bool {
		out = append(out, e)
		return true
	})
	return out
}

func intersect(a, b *cursor, yield func(Extent) bool) {
	for a.ok && b.ok {
		s, t := max(a.s, b.s), min(a.t, b.t)
		if s < t && !yield(Extent{Offset: s, Length: t - s}) {
			return
		}
		at, bt := a.t, b.t
		if at <= bt {
			a.advance()
		}
		if bt <= at {
			b.advance()
		}
	}
}
