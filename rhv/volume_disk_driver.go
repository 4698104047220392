package rhv

import (
	"context"
	"fmt"
	"iter"
	"log/slog"
	"math"
	"sync"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/driver"
	"github.com/changedblocks/sdk/extent"
)

// Paging: a page covers at most volPageL2Tables L2 tables of the chain's
// smallest mapping span (at least volMinPageBytes), and takes about
// volPageExtents extents from each layer; the caller asks again from where a
// page stops.
const (
	volPageL2Tables = 64
	volMinPageBytes = 1 << 20
)

// volPageExtents bounds the extents one page takes from each layer (a
// variable for tests).
var volPageExtents = 8192

// volumeDisk is the driver of the disk at one volume of a chain.
type volumeDisk struct {
	name     string // path of the volume's file
	image    string
	ids      []string    // the chain's volume IDs when opened, base first
	layers   []*volLayer // opened volumes, base first, up to at
	at       int         // index of the disk's volume
	id       string      // change-ID value handed out; "" at the leaf
	capacity int64
	gran     int64
	page     int64
	log      *slog.Logger

	close sync.Once
}

// volPageFor returns the page size for a chain's opened layers.
func volPageFor(layers []*volLayer) int64 {
	span := int64(math.MaxInt64)
	for _, l := range layers {
		if s := l.f.MappingSpan(); s > 0 {
			span = min(span, s)
		}
	}
	if span == math.MaxInt64 {
		return math.MaxInt64 // raw only: one extent
	}
	if span > math.MaxInt64/volPageL2Tables {
		return math.MaxInt64
	}
	return max(span*volPageL2Tables, volMinPageBytes)
}

func (d *volumeDisk) Info() driver.Info {
	return driver.Info{Name: d.name, Scheme: Scheme, Capacity: d.capacity, Granularity: d.gran, ChangeID: d.id}
}

func (d *volumeDisk) Close() error {
	var err error
	d.close.Do(func() { err = d.closeFiles() })
	return err
}

func (d *volumeDisk) closeFiles() error {
	var first error
	for _, l := range d.layers {
		if err := l.f.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// volSource is one layer to walk: what it allocates below limit (beyond,
// an upper layer is smaller and reads as zeros).
type volSource struct {
	l     *volLayer
	limit int64
}

// volPlan is how to list the changes since one base: the union of what the
// sources allocate, plus everything from tail to the capacity.
type volPlan struct {
	sources []volSource
	tail    int64
}

// planFor resolves a base (a change-ID value; "" for none).
func (d *volumeDisk) planFor(since string) (*volPlan, error) {
	p := &volPlan{tail: math.MaxInt64}
	if since == "" {
		d.addSources(p, 0)
		return p, nil
	}
	bp, err := ParseVolumePoint(since)
	if err != nil {
		return nil, err
	}
	x := d.ids[d.at]
	b := -1
	for i, id := range d.ids {
		if id == bp.Volume {
			b = i
		}
	}
	last := len(d.ids) - 1
	switch {
	case b < 0:
		return nil, fmt.Errorf("%w: rhv: base volume %s is no longer in the chain of image %s: a snapshot was deleted and the volume merged into another one (or removed), so what changed since it is unknown; take a full backup", cbt.ErrChangeIDInvalid, bp.Volume, d.image)
	case b > d.at:
		return nil, fmt.Errorf("%w: rhv: base volume %s is above the disk's volume %s in the chain of image %s: the base must be an earlier volume", cbt.ErrInvalidArgument, bp.Volume, x, d.image)
	case bp.Child != "" && (b == last || d.ids[b+1] != bp.Child):
		now := "it is now the leaf"
		if b < last {
			now = "its child is now " + d.ids[b+1]
		}
		return nil, fmt.Errorf("%w: rhv: base volume %s of image %s had child %s when its change ID was handed out, and %s: the snapshot above it was merged into it (or the chain rebuilt), so the volume no longer holds the state that change ID names; take a full backup", cbt.ErrChangeIDInvalid, bp.Volume, d.image, bp.Child, now)
	case b == last:
		return nil, fmt.Errorf("%w: rhv: base volume %s is the leaf of the chain of image %s: the VM writes to it, so it names no fixed point; take a full backup, and store the change ID of a snapshot's volume (an internal volume) instead", cbt.ErrChangeIDInvalid, bp.Volume, d.image)
	case b == d.at:
		return p, nil // since itself: nothing
	}
	d.addSources(p, b+1)
	for j := b; j <= d.at; j++ {
		p.tail = min(p.tail, d.layers[j].size)
	}
	return p, nil
}

// addSources adds the layers from index from up to the disk's volume, each
// limited to the smallest size of it and the layers above it.
func (d *volumeDisk) addSources(p *volPlan, from int) {
	limit := d.capacity
	for j := d.at; j >= from; j-- {
		l := d.layers[j]
		limit = min(limit, l.size)
		p.sources = append(p.sources, volSource{l: l, limit: limit})
	}
}

func (d *volumeDisk) ChangedExtents(ctx context.Context, req driver.Request, buf []extent.Extent) ([]extent.Extent, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	p, err := d.planFor(req.Since)
	if err != nil {
		return nil, 0, err
	}
	off := req.Offset
	end := req.End
	if d.page < math.MaxInt64 {
		end = min(end, (off/d.page+1)*d.page)
	}
	// Extents are widened to the granularity, so what lies within a granule
	// of the window counts for it too: walk the window widened to granules.
	wide, _ := extent.AlignOut(extent.Extent{Offset: off, Length: end - off}, d.gran, d.capacity)
	var all []extent.Extent
	next := end
	for _, src := range p.sources {
		s, t := wide.Offset, min(wide.End(), src.limit)
		if s >= t {
			continue
		}
		if src.l.raw {
			all = append(all, extent.Extent{Offset: s, Length: t - s})
			continue
		}
		var cut int64
		all, cut, err = volCollect(src.l.f.Allocated(ctx, s, t), all, volPageExtents, d.gran)
		if err != nil {
			return nil, 0, err
		}
		next = min(next, cut)
	}
	if p.tail < d.capacity && p.tail < wide.End() {
		s := max(p.tail, wide.Offset)
		all = append(all, extent.Extent{Offset: s, Length: d.capacity - s})
	}
	out := buf[:0]
	for _, e := range extent.Normalize(all) {
		a, ok := extent.AlignOut(e, d.gran, d.capacity)
		if !ok {
			continue
		}
		if a.Offset >= next {
			break
		}
		if n := len(out); n > 0 && out[n-1].End() >= a.Offset {
			out[n-1].Length = max(out[n-1].End(), a.End()) - out[n-1].Offset
			continue
		}
		out = append(out, a)
	}
	return out, next, nil
}

// volCollect appends to dst the extents of a walk, about limit of them: once
// it has limit, it goes on to the end of the granule (of gran bytes) the
// next one starts in, and stops there; cut is that granule boundary
// (everything that starts below it was gathered), or math.MaxInt64 when the
// walk ended first.
func volCollect(seq iter.Seq2[extent.Extent, error], dst []extent.Extent, limit int, gran int64) ([]extent.Extent, int64, error) {
	cut := int64(math.MaxInt64)
	stop := int64(math.MaxInt64)
	n := 0
	for e, err := range seq {
		if err != nil {
			return dst, 0, err
		}
		if e.Offset >= stop {
			cut = stop
			break
		}
		if n == limit && stop == math.MaxInt64 {
			stop = e.Offset - e.Offset%gran + gran
		}
		dst = append(dst, e)
		n++
	}
	return dst, cut, nil
}
