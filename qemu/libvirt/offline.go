//go:build cgo

package libvirt

import (
	"context"
	"fmt"

	golibvirt "libvirt.org/go/libvirt"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/driver"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/qemu"
)

// offlineListing is a run on a shut-off domain: the checkpoint's bitmap
// read from the qcow2 image by package qemu, with no daemon job.
type offlineListing struct {
	disk *cbt.Disk
	pg   *pager
}

func (d *disk) beginOffline(ctx context.Context, dom *golibvirt.Domain, req driver.Request, since *Checkpoint, sinceDisk CheckpointDisk) (driver.Listing, error) {
	if cp, ok := d.newCheckpoint(); ok {
		return nil, fmt.Errorf("%w: libvirt: domain %s is shut off and libvirt makes checkpoints of running domains only: start it (paused is enough) to make checkpoint %q, or list without a new checkpoint",
			cbt.ErrUnsupported, d.domain, cp.Name)
	}
	disks, err := domainDisks(dom, d.domain)
	if err != nil {
		return nil, err
	}
	di, err := findDisk(disks, d.domain, d.target)
	if err != nil {
		return nil, err
	}
	if di.Source == "" || (di.Type != "file" && di.Type != "block") {
		return nil, fmt.Errorf("%w: libvirt: disk %s of domain %s is a %s disk: its image cannot be read offline here; start the domain",
			cbt.ErrUnsupported, d.target, d.domain, di.Type)
	}
	// The checkpoint's bitmap is named by libvirt's metadata, which this
	// package guards itself (creation time, domain UUID): trust the name.
	qd, err := qemu.Open(di.Source, qemu.Active(), &qemu.Options{Logger: d.opts.Logger, TrustUnguarded: true})
	if err != nil {
		return nil, fmt.Errorf("libvirt: opening the image of disk %s of shut-off domain %s: %w", d.target, d.domain, err)
	}
	if qd.Capacity() != d.capacity {
		_ = qd.Close()
		return nil, fmt.Errorf("%w: libvirt: disk %s of domain %s is %d bytes now, %d when opened: open it again",
			cbt.ErrBusy, d.target, d.domain, qd.Capacity(), d.capacity)
	}
	if d.at {
		if err := d.checkAtOffline(ctx, dom, qd); err != nil {
			_ = qd.Close()
			return nil, err
		}
	}
	var qsince cbt.ChangeID
	if since != nil {
		if qsince, err = qemu.BitmapPoint(sinceDisk.Bitmap).ChangeID(); err != nil {
			_ = qd.Close()
			return nil, err
		}
	}
	seq := qd.Changes(ctx, qsince, &cbt.ChangesOptions{StartOffset: req.Offset, Length: req.End - req.Offset})
	wrapped := func(yield func(extent.Extent, error) bool) {
		for e, err := range seq {
			if err != nil {
				if since != nil {
					err = fmt.Errorf("libvirt: checkpoint %q (bitmap %q) of disk %s of shut-off domain %s: %w", since.Name, sinceDisk.Bitmap, d.target, d.domain, err)
				}
				yield(extent.Extent{}, err)
				return
			}
			if !yield(e, nil) {
				return
			}
		}
	}
	return &offlineListing{disk: qd, pg: newPager(wrapped)}, nil
}

func (l *offlineListing) ChangedExtents(ctx context.Context, req driver.Request, buf []extent.Extent) ([]extent.Extent, int64, error) {
	return l.pg.page(ctx, req.Offset, req.End, buf)
}

func (l *offlineListing) End(bool) error {
	l.pg.close()
	return l.disk.Close()
}

// checkAtOffline checks, on a shut-off domain, that the bitmap of the
// checkpoint At holds no write.
func (d *disk) checkAtOffline(ctx context.Context, dom *golibvirt.Domain, qd *cbt.Disk) error {
	cp, err := d.atCheckpoint(dom)
	if err != nil {
		return err
	}
	cd, ok := cp.Disk(d.target)
	if !ok || cd.Checkpoint != "bitmap" {
		return fmt.Errorf("%w: libvirt: checkpoint %q (At) does not track disk %s", cbt.ErrInvalidArgument, cp.Name, d.target)
	}
	id, err := qemu.BitmapPoint(cd.Bitmap).ChangeID()
	if err != nil {
		return err
	}
	for e, err := range qd.Changes(ctx, id, nil) {
		if err != nil {
			return fmt.Errorf("libvirt: checking that disk %s was not written since checkpoint %q (At): %w", d.target, cp.Name, err)
		}
		return fmt.Errorf("%w: libvirt: disk %s of domain %s was written since checkpoint %q (At), at %v: the disk is no longer at that checkpoint",
			cbt.ErrBusy, d.target, d.domain, cp.Name, e)
	}
	return nil
}
