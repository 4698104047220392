package vsphere

import (
	"context"
	"math"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/driver"
	"github.com/changedblocks/sdk/extent"
	"github.com/vmware/govmomi/vim25/types"
)

// allocated is the changeId that asks for the areas in use.
const allocated = "*"

// queryFunc asks the server for one window of changes: the areas changed
// since changeID (a vSphere changeId or "*"), from offset on.
type queryFunc func(ctx context.Context, offset int64, changeID string) (*types.DiskChangeInfo, error)

// pager is the driver of one disk at one point: it answers each page with one
// QueryChangedDiskAreas call (more only to retry), and the page stops where
// the server's window stops (StartOffset+Length). cbt asks again from there
// until the capacity; an empty window, a short page or a page of 2000 extents
// does not end the listing.
type pager struct {
	name     string
	method   string // for errors: "QueryChangedDiskAreas", "VslmQueryChangedDiskAreas"
	capacity int64
	own      ChangeID // the disk's change ID at this point
	query    queryFunc
	call     *caller
}

func (p *pager) Info() driver.Info {
	return driver.Info{
		Name:        p.name,
		Scheme:      Scheme,
		Capacity:    p.capacity,
		Granularity: 1,
		ChangeID:    p.own.String(),
		NoRead:      "reading a vSphere disk is not built yet: read the listed ranges with VDDK or an NBD export of the snapshot",
	}
}

func (p *pager) Close() error { return nil }

// base returns the changeId to send for req.Since, refusing, before any
// query, a base of another tracking generation or of another capacity.
func (p *pager) base(since string) (string, error) {
	if since == "" || since == allocated {
		return allocated, nil
	}
	b, err := ParseChangeID(since)
	if err != nil {
		return "", err
	}
	if b.uuid != p.own.uuid {
		return "", errf(cbt.ErrChangeIDInvalid, "%s: base change ID %q is of another tracking generation than the disk's %q (tracking was reset, or the ID is of another disk): take a full backup",
			p.name, b.raw, p.own.raw)
	}
	if b.epoch > p.own.epoch {
		// Within one tracking generation the number after '/' grows with
		// every point: a larger one is a later point (a listing backwards),
		// or one of a history the disk no longer has (the VM was reverted
		// to an older snapshot since, or its disk put back from an older
		// copy with its tracking file).
		return "", errf(cbt.ErrInvalidArgument, "%s: base change ID %q is later than the disk's point %q (a listing goes forward in time: list since an earlier point, or open a later snapshot); if the VM was reverted to an older snapshot or its disk restored from an older copy since the base was taken, take a full backup",
			p.name, b.raw, p.own.raw)
	}
	if b.capacity != 0 && b.capacity != p.capacity {
		return "", errf(cbt.ErrChangeIDInvalid, "%s: the disk was resized from %d to %d bytes since the base change ID %q: take a full backup",
			p.name, b.capacity, p.capacity, b.raw)
	}
	return b.raw, nil
}

func (p *pager) ChangedExtents(ctx context.Context, req driver.Request, buf []extent.Extent) ([]extent.Extent, int64, error) {
	since, err := p.base(req.Since)
	if err != nil {
		return nil, 0, err
	}
	var info *types.DiskChangeInfo
	err = p.call.do(ctx, p.method, func(ctx context.Context) error {
		p.call.opts.Logger.DebugContext(ctx, "vsphere: query", "disk", p.name, "offset", req.Offset)
		var err error
		info, err = p.query(ctx, req.Offset, since)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return p.page(req, info, buf)
}

// page turns one answer into a driver page: the window must start at or
// before the offset asked and end after it (else ErrCorrupt: a window that
// does not advance, or one that leaves a hole); areas are clipped to the
// offset asked and to the capacity, and those the server placed beyond its
// own window are left to the page that covers them.
func (p *pager) page(req driver.Request, info *types.DiskChangeInfo, buf []extent.Extent) ([]extent.Extent, int64, error) {
	s, l := info.StartOffset, info.Length
	switch {
	case s > req.Offset:
		return nil, 0, errf(cbt.ErrCorrupt, "%s: asked for changes from offset %d, the server answered a window starting at %d (the bytes in between would go unreported)",
			p.name, req.Offset, s)
	case s < 0 || l <= 0 || l > math.MaxInt64-s || s+l <= req.Offset:
		return nil, 0, errf(cbt.ErrCorrupt, "%s: asked for changes from offset %d, the server answered the window [%d, +%d), which does not advance",
			p.name, req.Offset, s, l)
	}
	next := min(s+l, p.capacity)
	out := buf[:0]
	for _, a := range info.ChangedArea {
		if a.Start < 0 || a.Length < 0 || a.Length > math.MaxInt64-a.Start {
			return nil, 0, errf(cbt.ErrCorrupt, "%s: the server answered a malformed area {start %d, length %d}", p.name, a.Start, a.Length)
		}
		e, ok := extent.ClipTo(extent.Extent{Offset: a.Start, Length: a.Length}, req.Offset, p.capacity)
		if !ok || e.Offset >= next {
			continue
		}
		out = append(out, e)
	}
	if !extent.IsNormalized(out) {
		out = extent.Normalize(out)
	}
	return out, next, nil
}
