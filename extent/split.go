package extent

import (
	"iter"
	"slices"
)

// Split merges the extents of seq, sorted by Offset, as Coalesce with gap 0 does,
// and cuts each merged extent into pieces of at most maxLen bytes, from its start:
// every piece but the last of an extent is exactly maxLen bytes long. A maxLen <= 0
// means no cutting. The output is ascending, non-overlapping and non-empty, but
// the pieces of one extent touch. The output may be much longer than the input:
// one extent of n bytes becomes ceil(n/maxLen) pieces.
func Split(seq iter.Seq[Extent], maxLen int64) iter.Seq[Extent] {
	if maxLen <= 0 {
		return Coalesce(seq, 0)
	}
	return func(yield func(Extent) bool) {
		m := newMerger(0)
		for e := range seq {
			if out, ok := m.push(e); ok && !splitYield(out, maxLen, yield) {
				return
			}
		}
		if out, ok := m.flush(); ok {
			splitYield(out, maxLen, yield)
		}
	}
}

// SplitSlice is Split for a slice. It returns a new slice and leaves es unchanged.
func SplitSlice(es []Extent, maxLen int64) []Extent {
	return slices.AppendSeq(make([]Extent, 0, len(es)), Split(slices.Values(es), maxLen))
}

// splitYield yields e, a normalised extent, in pieces of at most maxLen > 0 bytes. It
// reports whether the consumer wants more.
func splitYield(e Extent, maxLen int64, yield func(Extent) bool) bool {
	for e.Length > maxLen {
		if !yield(Extent{Offset: e.Offset, Length: maxLen}) {
			return false
		}
		e.Offset += maxLen
		e.Length -= maxLen
	}
	return yield(e)
}
