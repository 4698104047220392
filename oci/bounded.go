package oci

import "github.com/changedblocks/sdk/extent"

// minCoarseGap is the first gap merged when a delta has too many extents.
const minCoarseGap = 4096

// boundedList gathers ascending extents in at most max entries (max >= 2):
// when it would hold more, neighbours are merged across gaps of up to a
// growing size, reporting those unchanged bytes as changed. It never drops
// a byte it was given.
type boundedList struct {
	exts []extent.Extent  // final: every extent but the last
	co   extent.Coalescer // holds the last extent; co.Gap is the gap merged
	max  int
}

// add appends e; extents come ascending and do not overlap.
func (b *boundedList) add(e extent.Extent) {
	if out, ok := b.co.Push(e); ok {
		b.exts = append(b.exts, out)
		if len(b.exts)+1 > b.max { // the list and the last extent
			b.coarsen()
		}
	}
}

// coarsen doubles the gap and merges the list with it, until it holds at
// most half of max.
func (b *boundedList) coarsen() {
	if last, ok := b.co.Flush(); ok {
		b.exts = append(b.exts, last)
	}
	for len(b.exts) > b.max/2 {
		b.co.Gap = max(b.co.Gap*2, minCoarseGap)
		out := b.exts[:0] // each merged extent is written before the ones it read
		for _, e := range b.exts {
			if m, ok := b.co.Push(e); ok {
				out = append(out, m)
			}
		}
		if m, ok := b.co.Flush(); ok {
			out = append(out, m)
		}
		b.exts = out
	}
	// What comes next may merge into the last extent.
	n := len(b.exts) - 1
	b.co.Push(b.exts[n])
	b.exts = b.exts[:n]
}

// gap returns the largest gap merged so far: 0 when no extents were merged
// but touching ones.
func (b *boundedList) gap() int64 { return b.co.Gap }

// list returns the extents gathered (empty, not nil, when none). The list
// takes no more extents after it.
func (b *boundedList) list() []extent.Extent {
	if last, ok := b.co.Flush(); ok {
		b.exts = append(b.exts, last)
	}
	if b.exts == nil {
		return []extent.Extent{}
	}
	return b.exts
}
