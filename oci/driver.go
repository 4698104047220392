package oci

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/driver"
	"github.com/changedblocks/sdk/extent"
)

// opener makes the delta for a base (a first backup OCID). It is called
// with a base other than the disk's own point; on failure, and on a panic,
// it leaves nothing behind.
type opener func(ctx context.Context, since string) (*delta, error)

// deltaDriver serves the listings of one disk. It is a driver.Lister: cbt
// begins one listing per run of Changes, asks it for the pages, and ends it
// exactly once on every path (the last page, an error, a caller that stops
// early or panics, a cancelled context).
//
// The delta a listing scanned into memory (the cloud's: its volume was
// deleted before the listing began) is kept after a listing that did not
// run to its end, so that the caller resuming since the same base makes no
// second volume. It is dropped when a listing since it runs to its end,
// when one since another base begins, and at Close.
type deltaDriver struct {
	info  driver.Info
	open  opener
	o     Options
	close func() error // extra release at Close (a device OpenAttached holds)

	// making is held while a delta is made: one delta volume at a time
	// per disk, and a listing since the base another one is making a
	// volume for waits (cancellably: minutes) and shares its delta.
	making chanMutex

	mu       sync.Mutex
	kept     *delta  // the delta kept for a resume, if any
	failures []error // teardowns that failed: Close returns them
}

// chanMutex is a mutex whose lock gives up when ctx ends.
type chanMutex chan struct{}

func (m chanMutex) lock(ctx context.Context) error {
	select {
	case m <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (m chanMutex) unlock() { <-m }

func (d *deltaDriver) Info() driver.Info { return d.info }

// ChangedExtents is never called: cbt asks the listing of BeginListing.
func (d *deltaDriver) ChangedExtents(context.Context, driver.Request, []extent.Extent) ([]extent.Extent, int64, error) {
	return nil, 0, fmt.Errorf("%w: oci: pages are served by a listing", cbt.ErrUnsupported)
}

// BeginListing returns the listing of a run since req.Since: from the delta
// kept for a resume since that base, else from a delta made for it (for
// the cloud: the whole lifecycle of a delta volume, torn down before this
// returns).
func (d *deltaDriver) BeginListing(ctx context.Context, req driver.Request) (driver.Listing, error) {
	if req.Since == d.info.ChangeID {
		return &listing{d: d, s: &delta{since: req.Since, empty: true}}, nil
	}
	if err := d.making.lock(ctx); err != nil {
		return nil, err
	}
	defer d.making.unlock()
	d.mu.Lock()
	kept := d.kept
	if kept != nil && kept.since != req.Since {
		d.kept, kept = nil, nil
	}
	d.mu.Unlock()
	if kept != nil {
		return &listing{d: d, s: kept}, nil
	}
	s, err := d.open(ctx, req.Since)
	if err != nil {
		return nil, err
	}
	s.since = req.Since
	d.mu.Lock()
	defer d.mu.Unlock()
	if s.leftover != nil {
		d.o.Logger.WarnContext(ctx, "oci: teardown failed", "disk", d.info.Name, "since", req.Since, "err", s.leftover)
		d.failures = append(d.failures, s.leftover)
		s.leftover = nil
	}
	if s.scanned != nil {
		d.kept = s
	}
	return &listing{d: d, s: s}, nil
}

// drop forgets the delta kept for a resume if it is s.
func (d *deltaDriver) drop(s *delta) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.kept == s {
		d.kept = nil
	}
}

// Close drops what is kept and returns every teardown failure since the
// disk was opened: each names a volume or attachment left behind.
func (d *deltaDriver) Close() error {
	d.mu.Lock()
	d.kept = nil
	errs := d.failures
	d.failures = nil
	d.mu.Unlock()
	if d.close != nil {
		if err := d.close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// newDeltaDisk wraps a deltaDriver in a *cbt.Disk.
func newDeltaDisk(info driver.Info, open opener, o Options, closeFn func() error) (*cbt.Disk, error) {
	return cbt.NewDisk(&deltaDriver{info: info, open: open, o: o, close: closeFn, making: make(chanMutex, 1)})
}
