package extent

import "iter"

// Subtract yields the bytes that a covers and b does not (a minus b). Both inputs
// must be sorted by Offset; they may overlap within themselves. The output is
// normalised. Subtract stops reading both inputs as soon as a is exhausted or the
// consumer stops; see the package documentation for how far it reads ahead.
func Subtract(a, b iter.Seq[Extent]) iter.Seq[Extent] {
	return pairSeq(a, b, subtract)
}

// SubtractSlices is Subtract for slices. It returns a new slice and leaves a and b
// unchanged.
func SubtractSlices(a, b []Extent) []Extent {
	out := make([]Extent, 0, len(a)) // often enough: holes split few extents
	subtract(advanced(sliceCursor(a)), advanced(sliceCursor(b)), func(e Extent) bool {
		out = append(out, e)
		return true
	})
	return out
}

func subtract(a, b *cursor, yield func(Extent) bool) {
	for ; a.ok; a.advance() {
		s, t := a.s, a.t
		for b.ok && b.t <= s {
			b.advance()
		}
		for b.ok && b.s < t {
			if b.s > s && !yield(Extent{Offset: s, Length: b.s - s}) {
				return
			}
			if b.t >= t {
				s = t
				break
			}
			s = b.t
			b.advance()
		}
		if s < t && !yield(Extent{Offset: s, Length: t - s}) {
			return
		}
	}
}
