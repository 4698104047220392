package oci

import (
	"context"
	"fmt"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/driver"
	"github.com/changedblocks/sdk/internal/scsi"
)

// noRead says why an OCI disk does not read yet, and what to use instead.
const noRead = "reading an OCI volume through the SDK is not built yet: read the listed ranges from a volume created from the later backup, attached to an instance"

// granularity is what reported extents are multiples of: whole logical
// blocks, which are 512 or 4096 bytes.
const granularity = 512

// Open returns the disk at a volume backup (or boot volume backup), second,
// as a *cbt.Disk: its ChangeID is "oci:<second>", its capacity the backed
// up volume's size. It reads the backup and creates nothing.
//
// Changes(since "oci:<first>") runs the whole lifecycle once per listing,
// before it yields the first extent: create the volume of the delta between
// first and second (with a retry token; a 409 while a backup is not
// AVAILABLE is waited for), wait until it is AVAILABLE, attach it read-only
// by iSCSI to opts.InstanceID, wait until ATTACHED, connect
// (opts.Connector), open the device (opts.OpenDevice), scan it whole with
// GET LBA STATUS(32) in windows of at most 1 GiB into memory, then
// disconnect, detach and delete the volume. The teardown runs on every
// path, errors and cancellation included, with a fresh context bounded by
// CleanupTimeout; one that fails is logged and returned by Close, naming
// what is left. Changes since the disk's own point is empty; a zero since
// reports the whole disk (the delta API needs a first backup).
//
// Errors of Open: cbt.ErrInvalidArgument (missing or malformed options or
// OCIDs, change block size), cbt.ErrNotFound (no such backup), and the
// classes of a failed call. Errors of Changes: cbt.ErrChangeIDInvalid (the
// first backup is gone or of another volume, both found before any volume
// is made; 403: the volume was resized between the backups),
// cbt.ErrInvalidArgument (the first backup is later than the second: a
// listing backwards; 400), cbt.ErrNotFound (the second backup is gone),
// cbt.ErrUnsupported (404 with both backups present: the delta API is off
// or the performance level unsupported; a FAULTY delta volume; no SG_IO),
// cbt.ErrBusy (409 past BusyTimeout, a state not reached in WaitTimeout,
// 429 past the retries), cbt.ErrInvalidArgument (400), and the scan's
// classes. Every error from the service wraps the SDK's error, reachable
// with errors.As as a common.ServiceError.
func Open(ctx context.Context, c *Clients, second string, opts *Options) (*cbt.Disk, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	kind, err := BackupKindOf(second)
	if err != nil {
		return nil, err
	}
	cl := &cloud{c: c, o: o, kind: kind}
	at, err := cl.readBackup(ctx, second, cbt.ErrNotFound)
	if err != nil {
		return nil, err
	}
	capacity := at.size
	info := driver.Info{Name: second, Scheme: Scheme, Capacity: capacity, Granularity: granularity, ChangeID: second, NoRead: noRead}
	open := func(ctx context.Context, since string) (*delta, error) {
		return cl.openDelta(ctx, since, at)
	}
	return newDeltaDisk(info, open, o, nil)
}

// OpenAttached returns the disk at backup second over a delta volume that
// is already attached and connected (made from first and second by other
// means: the console, the CLI, an earlier run): devicePath is its block
// device, opened with opts.OpenDevice (default SG_IO). Changes since first
// scans it with GET LBA STATUS(32); since second is empty; a zero since is
// the whole disk; any other base is cbt.ErrChangeIDInvalid (the device
// holds only this delta). The capacity is the device's. The device is
// scanned page by page, as the caller iterates. The disk neither detaches
// nor deletes the volume; Close closes the device. Of opts only OpenDevice,
// MaxPageExtents and Logger are used.
//
// Errors: cbt.ErrInvalidArgument (bad OCIDs), cbt.ErrUnsupported (the
// device cannot be opened for SG_IO), cbt.ErrCorrupt (a malformed READ
// CAPACITY answer), the device's errors.
func OpenAttached(ctx context.Context, devicePath, first, second string, opts *Options) (*cbt.Disk, error) {
	if _, err := checkPair(first, second); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	dev, err := o.OpenDevice(devicePath)
	if err != nil {
		return nil, err
	}
	return openAttachedDevice(ctx, dev, devicePath, first, second, o)
}

// openAttachedDevice is OpenAttached over an open device; it closes dev on
// failure.
func openAttachedDevice(ctx context.Context, dev Device, name, first, second string, o Options) (*cbt.Disk, error) {
	c, err := scsi.ReadCapacity(ctx, dev)
	if err != nil {
		_ = dev.Close()
		return nil, scsiError(ctx, err, "reading the capacity of %s", name)
	}
	if c.BlockSize == 0 || c.Blocks > uint64(1<<62)/uint64(c.BlockSize) {
		_ = dev.Close()
		return nil, fmt.Errorf("%w: oci: %s reports %d blocks of %d bytes", cbt.ErrCorrupt, name, c.Blocks, c.BlockSize)
	}
	capacity := int64(c.Blocks) * int64(c.BlockSize)
	info := driver.Info{Name: second, Scheme: Scheme, Capacity: capacity, Granularity: granularity, ChangeID: second, NoRead: noRead}
	// Listings since first scan the device page by page; those of
	// concurrent runs take turns at it.
	shared := &serialDevice{dev: dev}
	open := func(ctx context.Context, since string) (*delta, error) {
		switch since {
		case "":
			return &delta{all: true}, nil
		case first:
			return &delta{dev: shared, capacity: c, name: name}, nil
		}
		if _, err := BackupKindOf(since); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: oci: the delta device %s holds the changes from %s to %s, not from %s",
			cbt.ErrChangeIDInvalid, name, first, second, since)
	}
	return newDeltaDisk(info, open, o, dev.Close)
}
