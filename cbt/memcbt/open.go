package memcbt

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/driver"
	"github.com/changedblocks/sdk/extent"
)

// Open returns the volume at the change point at, as a *cbt.Disk whose
// ChangeID is at. A zero at opens the live volume: it has no ChangeID (an
// error says so) and its Changes see writes made while it is open.
//
// Errors: cbt.ErrInvalidArgument for a change ID of another scheme or a
// malformed one, cbt.ErrNotFound for a point that does not exist (anymore).
func (v *Volume) Open(at cbt.ChangeID) (*cbt.Disk, error) {
	drv, err := v.OpenDriver(at)
	if err != nil {
		return nil, err
	}
	return cbt.NewDisk(drv)
}

// OpenDriver is Open without the cbt wrapper: it returns the raw driver, for
// tests that wrap it (to inject faults, for instance).
func (v *Volume) OpenDriver(at cbt.ChangeID) (driver.Disk, error) {
	d := &memDisk{v: v, epoch: -1}
	if !at.IsZero() {
		v.mu.Lock()
		p, err := v.lookup(at)
		gen := v.gen
		v.mu.Unlock()
		if err != nil {
			if errors.Is(err, cbt.ErrChangeIDInvalid) {
				// As a point to open, a stale or deleted change ID is a
				// missing object, not a reason for a full backup.
				msg := strings.TrimPrefix(err.Error(), cbt.ErrChangeIDInvalid.Error()+": ")
				err = fmt.Errorf("%w: %s", cbt.ErrNotFound, msg)
			}
			return nil, &cbt.Error{Op: "open", Disk: v.name, Err: err}
		}
		d.epoch, d.gen, d.id = p.epoch, gen, at.Value()
	}
	return d, nil
}

// memDisk is the driver for one point of a Volume (epoch -1: the live state).
type memDisk struct {
	v     *Volume
	epoch int64
	gen   int64
	id    string

	// The set last computed, for the base and volume version it was for.
	cacheMu      sync.Mutex
	cacheSince   string
	cacheVersion uint64
	cacheSet     []extent.Extent
	cacheOK      bool
}

func (d *memDisk) Info() driver.Info {
	return driver.Info{
		Name:        d.v.name,
		Scheme:      Scheme,
		Capacity:    d.v.capacity,
		Granularity: d.v.opts.Granularity,
		ChangeID:    d.id,
		NoChangeID:  d.noID(),
		MaxRead:     d.v.opts.MaxRead,
	}
}

// noID says why the live volume hands out no change ID.
func (d *memDisk) noID() string {
	if d.id != "" {
		return ""
	}
	return "the live volume is still written: take a change point (Volume.ChangePoint) and open the disk at it"
}

func (d *memDisk) Close() error { return nil }

func (d *memDisk) ChangedExtents(ctx context.Context, req driver.Request, buf []extent.Extent) ([]extent.Extent, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	set, err := d.changed(req.Since)
	if err != nil {
		return nil, 0, err
	}
	v := d.v
	next := req.End
	if w := req.Offset + min(v.opts.PageBytes, req.End-req.Offset); w < next {
		next = w
	}
	// The first extent ending after the offset.
	i := sort.Search(len(set), func(i int) bool { return set[i].End() > req.Offset })
	out := buf[:0]
	for ; i < len(set) && set[i].Offset < next; i++ {
		if len(out) == v.opts.PageExtents {
			next = max(set[i].Offset, req.Offset+1)
			break
		}
		out = append(out, set[i])
	}
	return out, next, nil
}

// changed returns the set changed since the base value, up to this disk's
// point, computed afresh whenever the volume changed. The slice returned is
// never modified afterwards.
func (d *memDisk) changed(since string) ([]extent.Extent, error) {
	v := d.v
	v.mu.Lock()
	defer v.mu.Unlock()
	d.cacheMu.Lock()
	defer d.cacheMu.Unlock()
	if d.cacheOK && d.cacheSince == since && d.cacheVersion == v.version {
		return d.cacheSet, nil
	}
	set, err := d.compute(since)
	if err != nil {
		return nil, err
	}
	d.cacheSince, d.cacheVersion, d.cacheSet, d.cacheOK = since, v.version, set, true
	return set, nil
}

// compute builds a fresh set; v.mu must be held.
func (d *memDisk) compute(since string) ([]extent.Extent, error) {
	v := d.v
	if d.epoch >= 0 && d.gen != v.gen {
		// The point itself was reset away; its data is unknown now.
		return nil, fmt.Errorf("%w: memcbt: tracking was reset after this point was opened", cbt.ErrChangeIDInvalid)
	}
	if d.epoch >= 0 && v.points[d.epoch].deleted {
		return nil, fmt.Errorf("%w: memcbt: the change point this disk is at was deleted", cbt.ErrNotFound)
	}
	if since == "" {
		if d.epoch < 0 {
			return append([]extent.Extent(nil), v.allocated...), nil
		}
		return append([]extent.Extent(nil), v.points[d.epoch].allocated...), nil
	}
	id, err := cbt.NewChangeID(Scheme, since)
	if err != nil {
		return nil, err
	}
	p, err := v.lookup(id)
	if err != nil {
		return nil, err
	}
	upto := d.epoch
	if upto < 0 {
		upto = int64(len(v.epochs))
	}
	if p.epoch > upto {
		return nil, fmt.Errorf("%w: memcbt: base %q is later than the point this disk is at (epoch %d > %d): a listing goes forward in time; list since an earlier point, or open the disk at a later one",
			cbt.ErrInvalidArgument, id.String(), p.epoch, upto)
	}
	var all []extent.Extent
	for e := p.epoch + 1; e <= upto; e++ {
		all = append(all, v.epochs[e-1].changed...)
	}
	if d.epoch < 0 {
		all = append(all, v.cur...)
	}
	return extent.Normalize(all), nil
}
