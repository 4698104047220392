package qemu

import (
	"context"
	"iter"
	"math"
	"sync"

	"github.com/changedblocks/sdk/cbt/driver"
	"github.com/changedblocks/sdk/extent"
)

// Paging: a page covers at most pageL2Tables L2 tables of the chain's smallest
// mapping span (at least minPageBytes), and at most pageExtents extents from
// each source; the caller asks again from where a page stops.
const (
	pageL2Tables = 64
	minPageBytes = 1 << 20

	// planCacheSize bounds the bases a disk keeps resolved.
	planCacheSize = 8
)

// pageExtents bounds the extents one page takes from each source (a variable
// for tests).
var pageExtents = 8192

// qdisk is the driver of one point of an image.
type qdisk struct {
	c     *chain
	at    *resolved
	gran  int64
	page  int64 // window size in bytes
	close sync.Once

	mu    sync.Mutex
	plans []*plan // most recent last

	scratch sync.Pool // of *[]extent.Extent: the extents a page gathers, reused across pages
}

func newDisk(c *chain, at *resolved) *qdisk {
	d := &qdisk{c: c, at: at, gran: c.top().q.Header.SubclusterSize()}
	span := int64(math.MaxInt64)
	for _, l := range c.layers {
		if l.q != nil {
			span = min(span, l.q.Header.L1Span())
		}
	}
	d.page = max(span*pageL2Tables, minPageBytes)
	return d
}

func (d *qdisk) Info() driver.Info {
	return driver.Info{
		Name:        d.c.path,
		Scheme:      Scheme,
		Capacity:    d.at.capacity,
		Granularity: d.gran,
		ChangeID:    d.at.id,
	}
}

func (d *qdisk) Close() error {
	var err error
	d.close.Do(func() { err = d.c.release() })
	return err
}

// planFor returns the resolved plan for a base, from the disk's small cache.
func (d *qdisk) planFor(since string) (*plan, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range d.plans {
		if p.since == since {
			return p, nil
		}
	}
	p, err := d.c.planChanges(d.at, since)
	if err != nil {
		return nil, err
	}
	if len(d.plans) >= planCacheSize {
		d.plans = append(d.plans[:0:0], d.plans[1:]...)
	}
	d.plans = append(d.plans, p)
	return p, nil
}

func (d *qdisk) ChangedExtents(ctx context.Context, req driver.Request, buf []extent.Extent) ([]extent.Extent, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	p, err := d.planFor(req.Since)
	if err != nil {
		return nil, 0, err
	}
	off := req.Offset
	end := min(req.End, (off/d.page+1)*d.page)
	capacity := d.at.capacity
	// Extents are widened to the granularity, so what lies within a granule of
	// the window counts for it too: walk the window widened to granules.
	wide, _ := extent.AlignOut(extent.Extent{Offset: off, Length: end - off}, d.gran, capacity)

	sp, _ := d.scratch.Get().(*[]extent.Extent)
	if sp == nil {
		sp = new([]extent.Extent)
	}
	defer d.scratch.Put(sp)
	all := (*sp)[:0]
	next := end
	for _, src := range p.sources {
		s, t := wide.Offset, min(wide.End(), src.limit)
		if s >= t {
			continue
		}
		var cut int64
		var err error
		all, cut, err = collect(ctx, src.walk(s, t), all, pageExtents, d.gran)
		*sp = all[:0] // keep what grew, even on error
		if err != nil {
			return nil, 0, err
		}
		next = min(next, cut)
	}
	// Past the smallest size along the way everything counts as changed.
	// Compare with the widened window: the tail, widened to granules, may
	// start in the window's last granule although tail itself lies beyond.
	if p.tail < capacity && p.tail < wide.End() {
		s := max(p.tail, wide.Offset)
		all = append(all, extent.Extent{Offset: s, Length: capacity - s})
	}
	*sp = all[:0]
	out := buf[:0]
	for _, e := range extent.Normalize(all) {
		if a, ok := extent.AlignOut(e, d.gran, capacity); ok {
			if a.Offset >= next {
				break
			}
			if n := len(out); n > 0 && out[n-1].End() >= a.Offset {
				out[n-1].Length = max(out[n-1].End(), a.End()) - out[n-1].Offset
				continue
			}
			out = append(out, a)
		}
	}
	return out, next, nil
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
