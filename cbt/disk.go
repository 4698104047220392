package cbt

import (
	"fmt"
	"sync"

	"github.com/changedblocks/sdk/cbt/driver"
	"github.com/changedblocks/sdk/extent"
)

// Extent is a half-open byte range [Offset, Offset+Length) of a disk.
type Extent = extent.Extent

// Disk is a disk at one point in time on some platform. Platform packages
// (vsphere, oci, qemu, rhv, memcbt) construct it; its methods are the same
// everywhere. A Disk is safe for concurrent use.
type Disk struct {
	drv  driver.Disk
	info driver.Info
	id   ChangeID

	mu     sync.RWMutex // held shared around driver calls, exclusively by Close
	closed bool
}

// NewDisk wraps a platform driver. It is meant for platform packages; users
// receive a *Disk from a platform's constructor. It returns ErrCorrupt when
// the driver's Info is inconsistent (negative capacity, bad scheme) and, in
// that case, closes the driver.
func NewDisk(drv driver.Disk) (*Disk, error) {
	if drv == nil {
		return nil, fmt.Errorf("%w: nil driver", ErrInvalidArgument)
	}
	info := drv.Info()
	fail := func(format string, args ...any) (*Disk, error) {
		_ = drv.Close()
		return nil, &Error{Op: "open", Disk: info.Name,
			Err: fmt.Errorf("%w: driver %T: "+format, append([]any{ErrCorrupt, drv}, args...)...)}
	}
	if err := checkScheme(info.Scheme); err != nil {
		return fail("scheme: %v", err)
	}
	if info.Capacity < 0 {
		return fail("negative capacity %d", info.Capacity)
	}
	if info.Granularity < 0 {
		return fail("negative granularity %d", info.Granularity)
	}
	if info.Granularity == 0 {
		info.Granularity = 1
	}
	d := &Disk{drv: drv, info: info}
	if info.ChangeID != "" {
		if info.NoChangeID != "" {
			return fail("both a change ID and a reason for having none (%q)", info.NoChangeID)
		}
		id, err := NewChangeID(info.Scheme, info.ChangeID)
		if err != nil {
			return fail("change ID: %v", err)
		}
		d.id = id
	}
	return d, nil
}

// Name returns the disk's name as the platform gave it: a path, a VM and
// device, a volume ID. It holds no secret.
func (d *Disk) Name() string { return d.info.Name }

// Scheme returns the scheme of the change IDs this disk hands out and accepts.
func (d *Disk) Scheme() string { return d.info.Scheme }

// Capacity returns the size of the disk in bytes at its point in time.
func (d *Disk) Capacity() int64 { return d.info.Capacity }

// Granularity returns the tracking granularity in bytes (1 for byte
// precision): reported extents are multiples of it, but for the last one,
// which may end at the capacity.
func (d *Disk) Granularity() int64 { return d.info.Granularity }

// ChangeID returns the change ID of the point in time the disk is at: what a
// backup taken from it stores, to pass as since to the next incremental. Store
// it only once the whole listing (and the copy of what it listed) is done: a
// partial copy reached no point.
//
// Some points can be no base: the active state of a qcow2 image (still
// written), the leaf of an RHV chain, a live libvirt disk opened without a new
// checkpoint. For those ChangeID returns the zero ChangeID and an error
// wrapping ErrUnsupported that says why and how to open the disk so that it
// has one (a new bitmap, snapshot or checkpoint made for the backup). Never
// store the zero ChangeID as if it were a point: the next backup would
// silently be a full one. Errors: ErrUnsupported, in an *Error.
func (d *Disk) ChangeID() (ChangeID, error) {
	if d.id.IsZero() {
		why := d.info.NoChangeID
		if why == "" {
			why = fmt.Sprintf("driver %T gave no reason", d.drv)
		}
		return ChangeID{}, &Error{Op: "change ID", Disk: d.info.Name,
			Err: fmt.Errorf("%w: this point can be no base of a later incremental (a backup taken from it stores no change ID): %s", ErrUnsupported, why)}
	}
	return d.id, nil
}

// Close releases what the disk holds (connections, jobs, temporary volumes,
// files). It is safe to call more than once; later calls return nil. It waits
// for a driver call in progress. Changes on a closed disk yields ErrClosed.
func (d *Disk) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	if err := d.drv.Close(); err != nil {
		return &Error{Op: "close", Disk: d.info.Name, Err: err}
	}
	return nil
}
