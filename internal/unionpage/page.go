package unionpage

import (
	"context"
	"iter"
	"math"

	"github.com/changedblocks/sdk/extent"
)

// Source is one stream of changed ranges, walked window by window.
type Source struct {
	// Limit: nothing at or beyond it counts (the source lies under a
	// smaller layer, or ends there).
	Limit int64
	// Walk yields the source's ranges that touch [off, end), ascending.
	Walk func(ctx context.Context, off, end int64) iter.Seq2[extent.Extent, error]
}

// Whole is a Walk for a source that counts everywhere (a raw base).
func Whole(_ context.Context, off, end int64) iter.Seq2[extent.Extent, error] {
	return func(yield func(extent.Extent, error) bool) {
		yield(extent.Extent{Offset: off, Length: end - off}, nil)
	}
}

// Layout is what stays the same across the pages of one disk.
type Layout struct {
	Capacity int64
	// Gran is the granularity extents are widened to (>= 1).
	Gran int64
	// PageBytes bounds a page's window to the multiple of PageBytes its
	// start lies in; 0 or math.MaxInt64: no bound.
	PageBytes int64
	// PerSource is about the most extents a page takes from each source;
	// past it the page stops at the next granule boundary.
	PerSource int
}

// Page answers the changes within [off, end): the union of the sources
// over that window widened to granules, and [tail, Capacity) when tail is
// below the capacity, each extent widened to granules, merged. It returns
// the extents (appended to buf[:0]), next (everything below next is in
// them; the caller asks again from next), and scratch grown for reuse.
// Every extent starts before next; it may reach beyond it.
func (lay Layout) Page(ctx context.Context, sources []Source, tail, off, end int64, buf, scratch []extent.Extent) (out []extent.Extent, next int64, grown []extent.Extent, err error) {
	if lay.PageBytes > 0 && lay.PageBytes < math.MaxInt64 {
		end = min(end, (off/lay.PageBytes+1)*lay.PageBytes)
	}
	// Extents are widened to the granularity, so what lies within a granule
	// of the window counts for it too: walk the window widened to granules.
	wide, _ := extent.AlignOut(extent.Extent{Offset: off, Length: end - off}, lay.Gran, lay.Capacity)
	all := scratch[:0]
	next = end
	for _, src := range sources {
		s, t := wide.Offset, min(wide.End(), src.Limit)
		if s >= t {
			continue
		}
		var cut int64
		all, cut, err = collect(ctx, src.Walk(ctx, s, t), all, lay.PerSource, lay.Gran)
		if err != nil {
			return nil, 0, all[:0], err
		}
		next = min(next, cut)
	}
	// Past tail everything counts. Compare with the widened window: the
	// tail, widened to granules, may start in the window's last granule
	// although tail itself lies beyond.
	if tail < lay.Capacity && tail < wide.End() {
		s := max(tail, wide.Offset)
		all = append(all, extent.Extent{Offset: s, Length: lay.Capacity - s})
	}
	out = buf[:0]
	var co extent.Coalescer // widened extents may now overlap or touch
	for _, e := range extent.Normalize(all) {
		a, ok := extent.AlignOut(e, lay.Gran, lay.Capacity)
		if !ok {
			continue
		}
		if a.Offset >= next {
			break
		}
		if m, ok := co.Push(a); ok {
			out = append(out, m)
		}
	}
	if m, ok := co.Flush(); ok {
		out = append(out, m)
	}
	return out, next, all[:0], nil
}

// collect appends to dst the extents of a walk, about limit of them: once it
// has limit, it goes on to the end of the granule (of gran bytes) the next one
// starts in, and stops there; cut is that granule boundary (everything that
// starts below it was gathered), or math.MaxInt64 when the walk ended first.
// The context is checked between extents. On error it returns dst as it grew
// (for reuse), the error, and cut 0.
func collect(ctx context.Context, seq iter.Seq2[extent.Extent, error], dst []extent.Extent, limit int, gran int64) (exts []extent.Extent, cut int64, err error) {
	cut = math.MaxInt64
	stop := int64(math.MaxInt64)
	exts, n := dst, 0
	for e, err := range seq {
		if err != nil {
			return exts, 0, err
		}
		if err := ctx.Err(); err != nil {
			return exts, 0, err
		}
		if e.Offset >= stop {
			cut = stop
			break
		}
		if n == limit && stop == math.MaxInt64 {
			stop = e.Offset - e.Offset%gran + gran
		}
		exts = append(exts, e)
		n++
	}
	return exts, cut, nil
}
