package oci

import (
	"context"
	"fmt"
	"slices"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/driver"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/scsi"
)

// delta is what the listings since one base are answered from: the whole
// disk, nothing, the delta scanned into memory, or a delta device scanned
// page by page.
type delta struct {
	since string
	// all answers every page with the whole disk (a zero base: the delta
	// API has no "since nothing"); empty answers nothing (the base is the
	// disk's own point).
	all, empty bool
	// scanned, when not nil, holds the whole delta, scanned already: pages
	// are answered from it (the cloud's delta volume is gone by then).
	scanned []extent.Extent
	// dev, when set, is the delta device scanned page by page.
	dev      Device
	capacity scsi.Capacity
	name     string // for errors: the delta volume or device
	// leftover is a teardown failure of the volume scanned: the extents
	// are right, but something is left behind (Close reports it).
	leftover error
	// release ends what a listing holds of the delta (a device opened for
	// it); nil when there is nothing to release.
	release func() error
}

// newDeviceDelta reads the device's capacity and checks it covers the
// disk.
func newDeviceDelta(ctx context.Context, since, name string, dev Device, diskCapacity int64) (*delta, error) {
	c, err := scsi.ReadCapacity(ctx, dev)
	if err != nil {
		return nil, scsiError(ctx, err, "reading the capacity of the delta device %s", name)
	}
	if c.BlockSize == 0 || c.Blocks > uint64(1<<62)/uint64(c.BlockSize) {
		return nil, fmt.Errorf("%w: oci: the delta device %s reports %d blocks of %d bytes", cbt.ErrCorrupt, name, c.Blocks, c.BlockSize)
	}
	if size := int64(c.Blocks) * int64(c.BlockSize); size < diskCapacity {
		return nil, fmt.Errorf("%w: oci: the delta device %s holds %d bytes, less than the backup's %d: it is not the delta of this backup",
			cbt.ErrCorrupt, name, size, diskCapacity)
	}
	return &delta{since: since, dev: dev, capacity: c, name: name}, nil
}

// listing is one run of Changes (a driver.Listing) over a delta.
type listing struct {
	d *deltaDriver
	s *delta
}

func (l *listing) ChangedExtents(ctx context.Context, req driver.Request, buf []extent.Extent) ([]extent.Extent, int64, error) {
	return l.s.page(ctx, req, buf, l.d.info.Capacity, &l.d.o)
}

// End releases what the listing holds, and drops the delta kept for a
// resume once a listing since it reached its end.
func (l *listing) End(complete bool) error {
	if complete {
		l.d.drop(l.s)
	}
	if l.s.release == nil {
		return nil
	}
	return l.s.release()
}

// page answers one page of [req.Offset, req.End): at most o.MaxPageExtents
// extents, and where the answer stops.
func (s *delta) page(ctx context.Context, req driver.Request, buf []extent.Extent, capacity int64, o *Options) ([]extent.Extent, int64, error) {
	out := buf[:0]
	switch {
	case s.empty:
		return out, req.End, nil
	case s.all:
		return append(out, extent.Extent{Offset: 0, Length: capacity}), req.End, nil
	case s.scanned != nil:
		return s.pageScanned(req, out, o.MaxPageExtents)
	}
	for e, err := range scsi.Scan(ctx, s.dev, scanOptions(req.Offset, req.End-req.Offset, s.capacity, o.Logger)) {
		if err != nil {
			return nil, 0, scsiError(ctx, err, "scanning the delta device %s with GET LBA STATUS", s.name)
		}
		// Whole logical blocks are kept (cbt clips to what its caller asked
		// for), but nothing outside the disk.
		e, ok := extent.ClipTo(e, 0, capacity)
		if !ok || e.End() <= req.Offset || e.Offset >= req.End {
			continue
		}
		out = append(out, e)
		if len(out) >= o.MaxPageExtents && e.End() < req.End {
			// Everything up to this extent's end was examined; the next page
			// scans on from there.
			return out, e.End(), nil
		}
	}
	return out, req.End, nil
}

// pageScanned answers a page from the delta scanned already.
func (s *delta) pageScanned(req driver.Request, out []extent.Extent, max int) ([]extent.Extent, int64, error) {
	i, _ := slices.BinarySearchFunc(s.scanned, req.Offset, func(e extent.Extent, off int64) int {
		if e.End() <= off {
			return -1
		}
		return 1
	})
	for ; i < len(s.scanned) && s.scanned[i].Offset < req.End; i++ {
		e := s.scanned[i]
		out = append(out, e)
		if len(out) >= max && e.End() < req.End {
			return out, e.End(), nil
		}
	}
	return out, req.End, nil
}

// scanAll scans the whole disk into memory, in at most maxExtents
// extents (coarser beyond: see boundedList).
func (s *delta) scanAll(ctx context.Context, capacity int64, maxExtents int, o *Options) error {
	b := boundedList{max: max(maxExtents, 2)}
	for e, err := range scsi.Scan(ctx, s.dev, scanOptions(0, capacity, s.capacity, o.Logger)) {
		if err != nil {
			return scsiError(ctx, err, "scanning the delta device %s with GET LBA STATUS", s.name)
		}
		if e, ok := extent.ClipTo(e, 0, capacity); ok {
			b.add(e)
		}
	}
	if gap := b.gap(); gap > 0 {
		o.Logger.WarnContext(ctx, "oci: the delta has more extents than Options.MaxExtents: neighbours are merged, unchanged bytes between them reported",
			"device", s.name, "maxExtents", b.max, "mergedGap", gap)
	}
	s.scanned = b.list()
	return nil
}
