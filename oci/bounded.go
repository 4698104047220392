package oci

import "github.com/changedblocks/sdk/extent"

// minCoarseGap is the first gap merged when a delta has too many extents.
const minCoarseGap = 4096

// boundedList gathers ascending extents in at most max entries (max >= 2):
// when it would hold more, neighbours are merged across gaps of up to a
// growing size, reporting those unchanged bytes as changed. It never drops
// a byte it was given.
type boundedList struct {
	exts []extent.Extent
	max  int
	gap  int64 // extents at most this far apart are merged
}

// add appends e; extents come ascending and do not overlap.
func (b *boundedList) add(e extent.Extent) {
	if n := len(b.exts); n > 0 {
		last := &b.exts[n-1]
		if e.Offset-last.End() <= b.gap {
			if end := e.End(); end > last.End() {
				last.Length = end - last.Offset
			}
			return
		}
	}
	b.exts = append(b.exts, e)
	for len(b.exts) > b.max {
		b.coarsen()
	}
}

// coarsen doubles the gap and merges the list with it, until it holds at
// most half of max.
func (b *boundedList) coarsen() {
	for len(b.exts) > b.max/2 {
		b.gap = max(b.gap*2, minCoarseGap)
		out := b.exts[:1]
		for _, e := range b.exts[1:] {
			last := &out[len(out)-1]
			if e.Offset-last.End() <= b.gap {
				last.Length = max(last.End(), e.End()) - last.Offset
				continue
			}
			out = append(out, e)
		}
		b.exts = out
	}
}
