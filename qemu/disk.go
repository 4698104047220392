package qemu

import (
	"context"
	"math"
	"sync"

	"github.com/changedblocks/sdk/cbt/driver"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/unionpage"
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
// for tests); see unionpage.Layout.PerSource.
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
	d := &qdisk{c: c, at: at, gran: c.top().Granularity()}
	span := int64(math.MaxInt64)
	for _, l := range c.layers {
		if s := l.MappingSpan(); s > 0 { // 0: a raw layer maps nothing
			span = min(span, s)
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
		NoChangeID:  d.at.noID,
		MaxRead:     maxRead,
		NoRead:      d.c.noRead(d.at.depth),
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
	sp, _ := d.scratch.Get().(*[]extent.Extent)
	if sp == nil {
		sp = new([]extent.Extent)
	}
	defer d.scratch.Put(sp)
	lay := unionpage.Layout{Capacity: d.at.capacity, Gran: d.gran, PageBytes: d.page, PerSource: pageExtents}
	out, next, grown, err := lay.Page(ctx, p.sources, p.tail, req.Offset, req.End, buf, *sp)
	*sp = grown // keep what grew, even on error
	return out, next, err
}
