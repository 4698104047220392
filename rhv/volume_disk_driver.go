package rhv

import (
	"context"
	"fmt"

	"log/slog"
	"math"
	"sync"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/driver"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/unionpage"
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

	guardMu sync.Mutex
	guards  map[int]string // guard of the volumes up to index j

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
	info := driver.Info{Name: d.name, Scheme: Scheme, Capacity: d.capacity, Granularity: d.gran, ChangeID: d.id, MaxRead: volMaxRead}
	if d.id == "" {
		info.NoChangeID = "the leaf volume of the chain is still written: open the disk at a snapshot's volume, or use OpenBackup (oVirt 4.4+ checkpoints)"
	}
	return info
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
			first = driver.WithClass(cbt.ErrCorrupt, fmt.Errorf("rhv: close volume %s (%s): %w", l.vol.ID, l.f.Path(), err))
		}
	}
	return first
}

// volPlan is how to list the changes since one base: the union of what the
// sources (the layers, each below the smallest size of it and the layers
// above it) allocate, plus everything from tail to the capacity.
type volPlan struct {
	sources []unionpage.Source
	tail    int64
}

// planFor resolves a base (a change-ID value; "" for none).
func (d *volumeDisk) planFor(ctx context.Context, since string) (*volPlan, error) {
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
	case bp.Guard == "":
		return nil, fmt.Errorf("%w: rhv: change ID %q carries no guard of the volumes from the base of image %s up to %s (it was made from a bare volume UUID, or handed out before guards existed): whether those volumes still hold the state it names cannot be proven; take a full backup and store the change ID the disk hands out now", cbt.ErrChangeIDInvalid, clipID(since), d.image, bp.Volume)
	}
	g, err := d.guardAt(ctx, b)
	if err != nil {
		return nil, err
	}
	if g != bp.Guard {
		return nil, fmt.Errorf("%w: rhv: the volumes from the base of image %s up to %s are not those change ID %q names: one of them was written, replaced, restored from an older copy or re-created under its UUID, or a snapshot below it was deleted (merged) or the chain rebased, so the state at %s cannot be proven unchanged; take a full backup", cbt.ErrChangeIDInvalid, d.image, bp.Volume, clipID(since), bp.Volume)
	}
	if b == d.at {
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
		walk := unionpage.Whole // a RAW base: allocated all over
		if !l.raw {
			walk = l.allocated
		}
		p.sources = append(p.sources, unionpage.Source{Limit: limit, Walk: walk})
	}
}

func (d *volumeDisk) ChangedExtents(ctx context.Context, req driver.Request, buf []extent.Extent) ([]extent.Extent, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	p, err := d.planFor(ctx, req.Since)
	if err != nil {
		return nil, 0, err
	}
	lay := unionpage.Layout{Capacity: d.capacity, Gran: d.gran, PageBytes: d.page, PerSource: volPageExtents}
	out, next, _, err := lay.Page(ctx, p.sources, p.tail, req.Offset, req.End, buf, nil)
	return out, next, err
}
