package oci

import (
	"context"
	"errors"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/driver"
	"github.com/changedblocks/sdk/extent"
)

// opener makes the session for a base (a first backup OCID). It is called
// with a base other than the disk's own point; on failure it leaves
// nothing behind.
type opener func(ctx context.Context, since string) (*session, error)

// deltaDriver serves cbt pages from one session at a time.
//
// cbt calls ChangedExtents page by page and tells a driver nothing when a
// listing ends (nor when its caller stops iterating). So the session of a
// base is made on the first page asked since that base and kept for the
// following pages; it is dropped when a page reaches the end of the window
// asked for (the listing's last page), when a page fails, when a page since
// another base comes, and at Close. For the cloud, the session holds no
// cloud resource: its delta volume was scanned into memory and deleted
// while the session was made, before the first extent was yielded. Pages
// are served one at a time.
type deltaDriver struct {
	info  driver.Info
	open  opener
	o     Options
	close func() error // extra release at Close (a device OpenAttached holds)

	mu       chanMutex
	cur      *session
	failures []error // teardowns that failed: Close returns them
	closed   bool
}

// chanMutex is a mutex whose Lock gives up when ctx ends: a page waiting
// for another one to finish (minutes, while a delta volume is made) can
// be cancelled.
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

func (d *deltaDriver) ChangedExtents(ctx context.Context, req driver.Request, buf []extent.Extent) ([]extent.Extent, int64, error) {
	if err := d.mu.lock(ctx); err != nil {
		return nil, 0, err
	}
	defer d.mu.unlock()
	if d.closed {
		return nil, 0, driver.ErrClosed
	}
	if d.cur != nil && d.cur.since != req.Since {
		d.releaseLocked(ctx)
	}
	if d.cur == nil {
		s, err := d.session(ctx, req.Since)
		if err != nil {
			return nil, 0, err
		}
		if s.leftover != nil {
			d.o.Logger.WarnContext(ctx, "oci: teardown failed", "disk", d.info.Name, "since", req.Since, "err", s.leftover)
			d.failures = append(d.failures, s.leftover)
			s.leftover = nil
		}
		d.cur = s
	}
	exts, next, err := d.cur.page(ctx, req, buf, d.info.Capacity, d.o.MaxPageExtents, &d.o)
	if err != nil || next >= req.End {
		d.releaseLocked(ctx)
	}
	if err != nil {
		return nil, 0, err
	}
	return exts, next, nil
}

// session returns a session for a base.
func (d *deltaDriver) session(ctx context.Context, since string) (*session, error) {
	if since == d.info.ChangeID {
		return &session{since: since, empty: true}, nil
	}
	s, err := d.open(ctx, since)
	if err != nil {
		return nil, err
	}
	s.since = since
	return s, nil
}

// releaseLocked drops the current session, releasing what it holds with a
// fresh context bounded by CleanupTimeout. A failure is logged and kept
// for Close.
func (d *deltaDriver) releaseLocked(ctx context.Context) {
	s := d.cur
	d.cur = nil
	if s == nil || s.release == nil {
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.o.CleanupTimeout)
	defer cancel()
	if err := s.release(cctx); err != nil {
		d.o.Logger.WarnContext(ctx, "oci: release failed", "disk", d.info.Name, "since", s.since, "err", err)
		d.failures = append(d.failures, err)
	}
}

// Close releases what is left and returns every teardown failure since the
// disk was opened: each names a volume or attachment left behind.
func (d *deltaDriver) Close() error {
	_ = d.mu.lock(context.Background())
	defer d.mu.unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	d.releaseLocked(context.Background())
	errs := d.failures
	d.failures = nil
	if d.close != nil {
		if err := d.close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// newDeltaDisk wraps a deltaDriver in a *cbt.Disk.
func newDeltaDisk(info driver.Info, open opener, o Options, closeFn func() error) (*cbt.Disk, error) {
	return cbt.NewDisk(&deltaDriver{info: info, open: open, o: o, close: closeFn, mu: make(chanMutex, 1)})
}
