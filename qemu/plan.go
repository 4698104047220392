package qemu

import (
	"context"
	"iter"
	"math"
	"strconv"
	"time"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/qcow2"
	"github.com/changedblocks/sdk/internal/unionpage"
)

// plan is how to list the changes since one base up to a disk's point: the
// union of what its sources yield, each below its limit, plus everything from
// tail to the capacity (a disk size that differs between the two points).
type plan struct {
	since   string
	sources []source
	tail    int64
}

// source is one stream of changed ranges, walked window by window.
type source = unionpage.Source

// planChanges resolves a base (a change-ID value; "" for none) for the disk at
// a point.
func (c *chain) planChanges(at *resolved, since string) (*plan, error) {
	p := &plan{since: since, tail: math.MaxInt64}
	if since == "" {
		return p, c.planAllocated(p, at)
	}
	base, err := ParsePoint(since)
	if err != nil {
		return nil, err
	}
	switch base.Kind {
	case PointActive:
		if at.depth == 0 && at.active() {
			return p, nil
		}
		return nil, errf(cbt.ErrChangeIDInvalid, "%q names no fixed point of %s (it is whatever the image holds now); store the change ID of a snapshot, bitmap or layer instead, and take a full backup", since, c.path)
	case PointSnapshot:
		return p, c.planSinceSnapshot(p, at, base)
	case PointBitmap:
		return p, c.planSinceBitmap(p, at, base)
	case PointLayer:
		return p, c.planSinceLayer(p, at, base)
	}
	return nil, base.check()
}

// errBusyActive refuses to read the active tables of a file another process
// holds for writing: qemu keeps them in memory, so the file is stale.
func errBusyActive(l *layerFile) error {
	return errf(cbt.ErrBusy, "%s is held for writing by a running qemu: its active tables on disk are stale (opened with ForceShare, only its snapshots can be read); stop the VM or use the libvirt checkpoint path", l.Path())
}

// layerSource walks what layer k of the chain holds at the disk's point,
// below limit: the point's snapshot view for a snapshot of the top image,
// else what the layer itself allocates (imagelayer.Layer.Allocated: a qcow2
// file's active tables, a raw file's data), which a file another process
// holds for writing cannot tell.
func (c *chain) layerSource(at *resolved, k int, limit int64) (source, error) {
	l := c.layers[k]
	if k == at.depth && !at.active() {
		v := at.view
		return source{Limit: min(limit, v.DiskSize), Walk: func(_ context.Context, off, end int64) iter.Seq2[extent.Extent, error] {
			return wrapSeq(c.q.AllocatedRange(v, off, end), l.Path())
		}}, nil
	}
	if l.Busy() {
		return source{}, errBusyActive(l)
	}
	return source{Limit: min(limit, l.VirtualSize()), Walk: func(_ context.Context, off, end int64) iter.Seq2[extent.Extent, error] {
		return wrapSeq(l.Allocated(off, end), l.Path())
	}}, nil
}

// planAllocated: with no base, every allocated area of the point's view, down
// the backing chain; a lower layer counts only below the size of every layer
// above it (beyond, the upper layer reads as zeros).
func (c *chain) planAllocated(p *plan, at *resolved) error {
	_, err := c.addLayers(p, at, len(c.layers))
	return err
}

// addLayers adds the sources of the layers from the point's down to the one
// above layer below, each limited to the smallest size of it and the layers
// above it, and returns that limit.
func (c *chain) addLayers(p *plan, at *resolved, below int) (int64, error) {
	limit := at.capacity
	for k := at.depth; k < below; k++ {
		src, err := c.layerSource(at, k, limit)
		if err != nil {
			return 0, err
		}
		p.sources = append(p.sources, src)
		limit = src.Limit
	}
	return limit, nil
}

// planSinceSnapshot: the mapping difference between the base snapshot and the
// point's view of the top image.
func (c *chain) planSinceSnapshot(p *plan, at *resolved, base Point) error {
	if at.depth > 0 {
		return errf(cbt.ErrInvalidArgument, "the base is snapshot %q of the top image %s, but the disk is at backing layer %s, below it", base.Name, c.path, c.layers[at.depth].Path())
	}
	r, err := c.findSnapshot(base.Name)
	if err != nil {
		return err
	}
	switch r.res {
	case snapMissing, snapRecreated:
		return errf(cbt.ErrChangeIDInvalid, "%s; take a full backup", r.msg)
	case snapAmbiguous:
		return errf(cbt.ErrChangeIDInvalid, "%s; the base cannot be told apart, take a full backup", r.msg)
	}
	if err := c.checkBase("snapshot", base.Name, r.guarded, r.g, 0); err != nil {
		return err
	}
	s := r.s
	if !at.active() && takenAfter(s, at.snap) {
		return errf(cbt.ErrInvalidArgument, "the base, snapshot %q (id %s, %s), was taken after the disk's point, snapshot %q (id %s, %s): a listing goes forward in time; open the disk at the later snapshot and pass the earlier one as since",
			s.Name, s.ID, s.Date().UTC().Format(time.RFC3339), at.snap.Name, at.snap.ID, at.snap.Date().UTC().Format(time.RFC3339))
	}
	top := c.top()
	if at.active() && top.Busy() {
		return errBusyActive(top)
	}
	sv, err := c.q.SnapshotView(s)
	if err != nil {
		return wrap(err, "snapshot %q of %s", base.Name, c.path)
	}
	pv := c.q.ActiveView()
	if !at.active() {
		pv = at.view
	}
	p.sources = append(p.sources, source{Limit: at.capacity, Walk: func(_ context.Context, off, end int64) iter.Seq2[extent.Extent, error] {
		return wrapSeq(c.q.DiffRange(sv, pv, off, end), top.Path())
	}})
	return nil
}

// planSinceBitmap: the dirty extents of a bitmap of the top image, for the
// active point only.
func (c *chain) planSinceBitmap(p *plan, at *resolved, base Point) error {
	if at.depth > 0 || !at.active() {
		return errf(cbt.ErrInvalidArgument, "the base is bitmap %q, but the disk is at %s: a bitmap is not snapshotted; it records the active image, so it can only be a base for the active point", base.Name, at.point)
	}
	top := c.top()
	name, g := splitGuards(base.Name)
	bms, err := c.bitmapsNamed(name, base.Name)
	if err != nil {
		return wrap(err, "bitmap directory of %s", c.path)
	}
	find := func(name string) *qcow2.Bitmap {
		for i := range bms {
			if bms[i].Name == name {
				return &bms[i]
			}
		}
		return nil
	}
	guarded := g.hasSize && !g.hasDate
	var b *qcow2.Bitmap
	if guarded {
		b = find(name)
	}
	if b == nil && find(base.Name) != nil {
		// A bare name (or one that merely looks guarded).
		name, g, guarded, b = base.Name, guards{}, false, find(base.Name)
	}
	if b == nil {
		return errf(cbt.ErrChangeIDInvalid, "%s has no bitmap %q (it was removed, or the image is a new overlay); take a full backup", c.path, name)
	}
	if top.Busy() {
		// Not a reason for a full backup: once the VM stops cleanly, qemu
		// stores the bitmap and it is a good base again.
		return errf(cbt.ErrBusy, "bitmap %q of %s cannot be read now: a running qemu holds the image for writing and keeps the bitmap in memory (on disk it is stale and marked in-use); list it after the VM stops, or use the libvirt checkpoint path for a running VM", base.Name, c.path)
	}
	if why := c.bitmapUnusable(b); why != "" {
		return errf(cbt.ErrChangeIDInvalid, "bitmap %q of %s cannot be a base: %s", name, c.path, why)
	}
	if err := c.checkBase("bitmap", base.Name, guarded, g, 0); err != nil {
		return err
	}
	if guarded && g.size != top.VirtualSize() {
		// A bitmap follows a resize without recording it: after a shrink and
		// a grow, what the shrink dropped reads as zeros with no bit set.
		return errf(cbt.ErrChangeIDInvalid, "%s was resized since bitmap %q was made (%d bytes then, %d now): a bitmap does not record a resize, so what a shrink dropped would go unlisted; take a full backup", c.path, name, g.size, top.VirtualSize())
	}
	// One reader per plan (a disk keeps its plans): the pages of a listing
	// share its bitmap table, read once, and its pooled cluster buffers. It is
	// safe for concurrent use, as the disk must be.
	r := c.q.NewBitmapReader(b, top.VirtualSize())
	if guarded && top.VirtualSize() > 0 {
		ok, err := canaryIntact(r, top.VirtualSize())
		if err != nil {
			return wrap(err, "bitmap %q of %s", name, c.path)
		}
		if !ok {
			return errf(cbt.ErrChangeIDInvalid, "%s was shrunk since bitmap %q was made (the bit of its last granule, set when the bitmap was made, is clear): a bitmap does not record a resize, so what the shrink dropped would go unlisted; take a full backup", c.path, name)
		}
	}
	p.sources = append(p.sources, source{Limit: at.capacity, Walk: func(_ context.Context, off, end int64) iter.Seq2[extent.Extent, error] {
		return wrapSeq(r.DirtyExtentsRange(off, end), top.Path())
	}})
	return nil
}

// planSinceLayer: what the layers above the base layer, up to the point,
// allocate; and, when a layer in between is smaller than the point, the range
// beyond it (it reads as zeros there).
func (c *chain) planSinceLayer(p *plan, at *resolved, base Point) error {
	lr := c.lookupLayer(base.Name)
	switch lr.res {
	case snapMissing:
		return errf(cbt.ErrChangeIDInvalid, "%s (the chain was committed or rebased); take a full backup", lr.msg)
	case snapRecreated:
		return errf(cbt.ErrChangeIDInvalid, "%s; take a full backup", lr.msg)
	}
	k := lr.k
	if err := c.checkBase("layer", base.Name, lr.guarded, lr.g, k); err != nil {
		return err
	}
	switch {
	case k < at.depth || k == at.depth && !at.active():
		return errf(cbt.ErrInvalidArgument, "the base layer %s is not below the disk's point %s in the backing chain of %s", c.layers[k].Path(), at.point, c.path)
	case k == 0:
		return errf(cbt.ErrChangeIDInvalid, "layer %s is the top image of the chain: it is still written, so it names no fixed point (were the overlays above it committed or removed?); take a full backup", c.layers[k].Path())
	case k == at.depth:
		return nil // since the point itself: nothing
	}
	limit, err := c.addLayers(p, at, k)
	if err != nil {
		return err
	}
	p.tail = min(limit, c.layers[k].VirtualSize())
	return nil
}

// wrapSeq classifies the error of a qcow2 walk.
func wrapSeq(seq iter.Seq2[extent.Extent, error], path string) iter.Seq2[extent.Extent, error] {
	return func(yield func(extent.Extent, error) bool) {
		for e, err := range seq {
			if err != nil {
				yield(extent.Extent{}, wrap(err, "%s", path))
				return
			}
			if !yield(e, nil) {
				return
			}
		}
	}
}

// takenAfter reports whether snapshot a was taken after snapshot b. qemu
// numbers snapshots one above the highest id in use, so among the snapshots
// of an image a higher number is a later one; ids that are not numbers are
// ordered by date.
func takenAfter(a, b *qcow2.Snapshot) bool {
	if a == b || a.ID == b.ID {
		return false
	}
	x, errA := strconv.ParseUint(a.ID, 10, 64)
	y, errB := strconv.ParseUint(b.ID, 10, 64)
	if errA == nil && errB == nil {
		return x > y
	}
	return a.Date().After(b.Date())
}
