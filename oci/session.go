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

// session is one delta device ready to scan (or a base that needs none).
type session struct {
	since string
	// all answers every page with the whole disk (a zero base: the delta
	// API has no "since nothing"); empty answers nothing (the base is the
	// disk's own point).
	all, empty bool
	dev        Device
	capacity   scsi.Capacity
	form       scsi.Form
	name       string // for errors: the delta volume or device
	// scanned, when set, holds the whole delta, scanned already: pages are
	// answered from it (the cloud's delta volume is gone by then).
	scanned []extent.Extent
	// leftover is a teardown failure of the volume scanned: the extents
	// are right, but something is left behind (Close reports it).
	leftover error
	// release tears the session down; nil when there is nothing to release.
	release func(ctx context.Context) error
}

// newDeviceSession reads the device's capacity and checks it covers the
// disk.
func newDeviceSession(ctx context.Context, since, name string, dev Device, diskCapacity int64, form scsi.Form) (*session, error) {
	c, err := scsi.ReadCapacity(ctx, dev)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		return nil, fmt.Errorf("oci: reading the capacity of the delta device %s: %w", name, err)
	}
	if c.BlockSize == 0 || c.Blocks > uint64(1<<62)/uint64(c.BlockSize) {
		return nil, fmt.Errorf("%w: oci: the delta device %s reports %d blocks of %d bytes", cbt.ErrCorrupt, name, c.Blocks, c.BlockSize)
	}
	if size := int64(c.Blocks) * int64(c.BlockSize); size < diskCapacity {
		return nil, fmt.Errorf("%w: oci: the delta device %s holds %d bytes, less than the backup's %d: it is not the delta of this backup",
			cbt.ErrCorrupt, name, size, diskCapacity)
	}
	return &session{since: since, dev: dev, capacity: c, form: form, name: name}, nil
}

// page answers one page of [req.Offset, req.End): at most max extents, and
// where the answer stops.
func (s *session) page(ctx context.Context, req driver.Request, buf []extent.Extent, capacity int64, max int, o *Options) ([]extent.Extent, int64, error) {
	out := buf[:0]
	switch {
	case s.empty:
		return out, req.End, nil
	case s.all:
		return append(out, extent.Extent{Offset: 0, Length: capacity}), req.End, nil
	case s.scanned != nil:
		return s.pageScanned(req, out, max)
	}
	c := s.capacity
	opts := &scsi.ScanOptions{Start: req.Offset, Length: req.End - req.Offset, Capacity: &c, Form: s.form, Logger: o.Logger}
	for e, err := range scsi.Scan(ctx, s.dev, opts) {
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return nil, 0, cerr
			}
			return nil, 0, fmt.Errorf("oci: scanning the delta device %s with GET LBA STATUS: %w", s.name, err)
		}
		// Whole logical blocks are kept (cbt clips to what its caller asked
		// for), but nothing outside the disk.
		e, ok := extent.ClipTo(e, 0, capacity)
		if !ok || e.End() <= req.Offset || e.Offset >= req.End {
			continue
		}
		out = append(out, e)
		if len(out) >= max && e.End() < req.End {
			// Everything up to this extent's end was examined; the next page
			// scans on from there.
			return out, e.End(), nil
		}
	}
	return out, req.End, nil
}

// pageScanned answers a page from the delta scanned already.
func (s *session) pageScanned(req driver.Request, out []extent.Extent, max int) ([]extent.Extent, int64, error) {
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
func (s *session) scanAll(ctx context.Context, capacity int64, maxExtents int, o *Options) error {
	b := boundedList{max: max(maxExtents, 2)}
	c := s.capacity
	opts := &scsi.ScanOptions{Start: 0, Length: capacity, Capacity: &c, Form: s.form, Logger: o.Logger}
	for e, err := range scsi.Scan(ctx, s.dev, opts) {
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			return fmt.Errorf("oci: scanning the delta device %s with GET LBA STATUS: %w", s.name, err)
		}
		if e, ok := extent.ClipTo(e, 0, capacity); ok {
			b.add(e)
		}
	}
	if b.gap > 0 {
		o.Logger.WarnContext(ctx, "oci: the delta has more extents than Options.MaxExtents: neighbours are merged, unchanged bytes between them reported",
			"device", s.name, "maxExtents", b.max, "mergedGap", b.gap)
	}
	s.scanned = b.exts
	if s.scanned == nil {
		s.scanned = []extent.Extent{}
	}
	return nil
}
