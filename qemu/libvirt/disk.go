//go:build cgo

package libvirt

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	golibvirt "libvirt.org/go/libvirt"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/driver"
	"github.com/changedblocks/sdk/extent"
)

// Owner is a user and group, by number.
type Owner struct{ UID, GID int }

// DiskOptions tune OpenDisk; nil means the defaults.
type DiskOptions struct {
	// NewCheckpoint, when set, names a checkpoint that the listing's backup
	// job creates in the same call (libvirt starts its bitmaps at the very
	// instant the job's point in time is taken), and the disk's ChangeID
	// names it: store it, and pass it as since to the next incremental. One
	// listing can create it; a second one fails as the name is taken. A
	// listing that does not run to its end (an error, a cancellation, a
	// caller that stops early) deletes it again, its bitmap merged into its
	// parent's, so that nothing is lost and the listing can be run again.
	// Such a listing must cover the whole disk (no StartOffset or Length,
	// ErrInvalidArgument otherwise): to resume one, list the rest without
	// NewCheckpoint. A shut-off domain cannot get checkpoints
	// (ErrUnsupported).
	NewCheckpoint string
	// CheckpointDescription is stored with the new checkpoint, before the
	// guard this package adds.
	CheckpointDescription string
	// SocketDir is where each listing makes its private directory (mode
	// 0700) for the NBD socket and the scratch file; default os.TempDir().
	SocketDir string
	// DirOwner, when set, owns the private directory, so that a qemu
	// running as another user (libvirt-qemu, qemu) can make its socket and
	// scratch file there. Without it, only a qemu running as this process's
	// user can (virtnbdbackup's "Failed to bind socket ... Permission denied").
	DirOwner *Owner
	// IntersectAllocation drops, from an incremental listing, the changed
	// areas that are now unallocated and read as zeros (base:allocation
	// hole+zero). Such an area did change (it was discarded or zeroed), so a
	// caller that sets this must write zeros there itself when it restores
	// an incremental onto an earlier backup: otherwise the restore keeps old
	// data. Off by default.
	IntersectAllocation bool
	// OnExport, when set, is called at the start of each listing of a
	// running domain with a reader of the backup job's export: the disk's
	// data at the job's point in time, to copy the listed extents from while
	// iterating. The reader fails once the listing has ended.
	OnExport func(r io.ReaderAt)
	// At, a libvirt checkpoint change ID, says that the domain has not been
	// written since that checkpoint (it is paused, or was just restored or
	// started): the disk's ChangeID is then At's, so that a listing since an
	// earlier checkpoint is the change between the two. Every listing checks
	// it: a write since At (libvirt counts the bytes its bitmap holds) fails
	// the listing with ErrBusy rather than giving a listing that goes past
	// At. Excludes NewCheckpoint.
	At cbt.ChangeID
	// EndTimeout bounds ending a job and removing its files (default 30 s).
	EndTimeout time.Duration
	// Logger receives debug records; nil uses the connection's.
	Logger *slog.Logger
}

// OpenDisk returns the disk target (vda, sdb, ...) of the domain as a
// *cbt.Disk of scheme "libvirt".
//
// Changes(since) on a running (or paused) domain starts a pull-mode backup
// job (virDomainBackupBegin, <incremental> since the checkpoint), reads the
// job's dirty bitmap over NBD, and ends the job and removes its socket and
// scratch file when the listing ends, on every path. A zero since lists the
// allocated areas. On a shut-off domain the checkpoint's qcow2 bitmap is read
// from the image itself, with no job. Only one backup job runs on a domain at
// a time, so list the disks of a domain one after the other.
//
// The disk's ChangeID is the checkpoint NewCheckpoint names, or zero (an
// incremental without a new checkpoint marks no point).
//
// Errors: ErrNotFound (no such domain or disk), ErrUnsupported (the disk is
// not a qcow2 file or block device). Listings since a base give
// ErrChangeIDInvalid when its checkpoint is gone, was made again, is of
// another domain, does not track the disk, was made when the disk was
// another file, or its bitmap is broken (take a full backup), and
// ErrInvalidArgument for a base later than At.
func (c *Conn) OpenDisk(domain, target string, opts *DiskOptions) (*cbt.Disk, error) {
	var o DiskOptions
	if opts != nil {
		o = *opts
	}
	if o.EndTimeout <= 0 {
		o.EndTimeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = c.log
	}
	d, err := c.lookup(domain)
	if err != nil {
		return nil, err
	}
	defer d.Free()
	disks, err := domainDisks(d, domain)
	if err != nil {
		return nil, err
	}
	di, err := findDisk(disks, domain, target)
	if err != nil {
		return nil, err
	}
	if !di.Trackable() {
		return nil, fmt.Errorf("%w: libvirt: disk %s of domain %s is %s %s, not a qcow2 disk: libvirt keeps checkpoints of qcow2 images only; copy it in full each time",
			cbt.ErrUnsupported, target, domain, orUnknown(di.Format), di.Device)
	}
	bi, err := d.GetBlockInfo(target, 0)
	if err != nil {
		return nil, classify(err, fmt.Sprintf("reading the size of disk %s of domain %s", target, domain))
	}
	uuid, err := d.GetUUIDString()
	if err != nil {
		return nil, classify(err, "reading the UUID of domain "+domain)
	}
	drv := &disk{conn: c, domain: domain, uuid: uuid, target: target, opts: o, capacity: int64(bi.Capacity)}
	switch {
	case o.NewCheckpoint != "" && !o.At.IsZero():
		return nil, fmt.Errorf("%w: libvirt: NewCheckpoint and At exclude each other", cbt.ErrInvalidArgument)
	case o.NewCheckpoint != "":
		drv.point = CheckpointRef{Name: o.NewCheckpoint, Nonce: newNonce(), Domain: uuid}
	case !o.At.IsZero():
		if o.At.Scheme() != Scheme {
			return nil, fmt.Errorf("%w: libvirt: At %q is not a libvirt checkpoint change ID", cbt.ErrInvalidArgument, o.At)
		}
		ref, err := ParseCheckpointRef(o.At.Value())
		if err != nil {
			return nil, err
		}
		cp, err := checkpointOf(d, domain, ref.Name, false)
		if err != nil {
			return nil, err
		}
		if err := ref.verify(cp); err != nil {
			return nil, err
		}
		if ref.Domain == "" {
			ref.Domain = uuid
		}
		drv.point, drv.at = ref, true
	}
	return cbt.NewDisk(drv)
}

// disk is the driver of OpenDisk.
type disk struct {
	conn     *Conn
	domain   string
	uuid     string
	target   string
	opts     DiskOptions
	capacity int64
	// point is the checkpoint the disk's ChangeID names: the one each
	// listing makes (NewCheckpoint), or, when at is set, the one the domain
	// has not been written since (At); zero Name: none.
	point CheckpointRef
	at    bool
}

func (d *disk) Info() driver.Info {
	info := driver.Info{Name: "libvirt:" + d.domain + "/" + d.target, Scheme: Scheme, Capacity: d.capacity, Granularity: 1,
		NoRead: "reading a running domain's disk through its backup job is not built yet: read the job's NBD export yourself, or shut the domain down and open its image with package qemu, which reads"}
	if d.point.Name != "" {
		info.ChangeID = d.point.value()
	} else {
		info.NoChangeID = "a running domain's disk is no fixed point: open it with DiskOptions.NewCheckpoint (the backup job makes that checkpoint) or DiskOptions.At"
	}
	return info
}

// newCheckpoint returns the checkpoint a listing makes, if any.
func (d *disk) newCheckpoint() (CheckpointRef, bool) {
	return d.point, d.point.Name != "" && !d.at
}

func (d *disk) Close() error { return nil }

// ChangedExtents is never called: cbt asks the Listing of BeginListing.
func (d *disk) ChangedExtents(context.Context, driver.Request, []extent.Extent) ([]extent.Extent, int64, error) {
	return nil, 0, fmt.Errorf("%w: libvirt: pages are served by a listing", cbt.ErrUnsupported)
}

// BeginListing starts one run: a backup job on a running domain, a read of
// the image on a shut-off one.
func (d *disk) BeginListing(ctx context.Context, req driver.Request) (driver.Listing, error) {
	dom, err := d.conn.lookup(d.domain)
	if err != nil {
		return nil, err
	}
	defer dom.Free()
	running, err := dom.IsActive()
	if err != nil {
		return nil, classify(err, "reading the state of domain "+d.domain)
	}
	var since *Checkpoint
	var sinceDisk CheckpointDisk
	if req.Since != "" {
		ref, err := ParseCheckpointRef(req.Since)
		if err != nil {
			return nil, err
		}
		cp, err := checkpointOf(dom, d.domain, ref.Name, false)
		if err != nil {
			if isCode(err, golibvirt.ERR_NO_DOMAIN_CHECKPOINT) {
				if d.at {
					if err := d.checkOrder(dom, ref, nil); err != nil {
						return nil, err
					}
				}
				return nil, fmt.Errorf("%w: libvirt: checkpoint %q of domain %s is gone (deleted, or a transient domain restarted without redefining it): take a full backup",
					cbt.ErrChangeIDInvalid, ref.Name, d.domain)
			}
			return nil, err
		}
		if err := ref.verify(cp); err != nil {
			return nil, err
		}
		if d.at {
			if err := d.checkOrder(dom, ref, &cp); err != nil {
				return nil, err
			}
		}
		cd, ok := cp.Disk(d.target)
		if !ok || cd.Checkpoint != "bitmap" {
			return nil, fmt.Errorf("%w: libvirt: checkpoint %q of domain %s does not track disk %s (the disk was added later or left out): take a full backup of it",
				cbt.ErrChangeIDInvalid, ref.Name, d.domain, d.target)
		}
		if err := d.sameSource(dom, cp, cd); err != nil {
			return nil, err
		}
		since, sinceDisk = &cp, cd
	}
	if running {
		return d.beginLive(ctx, dom, req, since)
	}
	return d.beginOffline(ctx, dom, req, since, sinceDisk)
}

// sameSource refuses a base checkpoint made when the disk was another file
// or device: a disk replaced under the same target (another image attached,
// the domain redefined) holds no bitmap of the checkpoint's, or one of the
// same name that is not the checkpoint's, whose listing would miss every
// difference between the two images. The file the checkpoint's saved domain
// definition names must be the disk's source now, or in its backing chain
// (an external snapshot taken since).
func (d *disk) sameSource(dom *golibvirt.Domain, cp Checkpoint, cd CheckpointDisk) error {
	if cd.Source == "" {
		return nil
	}
	disks, err := domainDisks(dom, d.domain)
	if err != nil {
		return err
	}
	cur, err := findDisk(disks, d.domain, d.target)
	if err != nil {
		return err
	}
	if cur.Source == cd.Source || contains(cur.Backing, cd.Source) {
		return nil
	}
	return fmt.Errorf("%w: libvirt: disk %s of domain %s is %s now, but was %s when checkpoint %q was made: the disk was replaced, and the checkpoint's bitmap (if the new image has one of its name) is not the one that recorded the writes since: take a full backup",
		cbt.ErrChangeIDInvalid, d.target, d.domain, cur.Source, cd.Source, cp.Name)
}

// maxChain bounds the walk up a checkpoint chain.
const maxChain = 1 << 16

// checkOrder refuses a base later than the checkpoint At the disk is at,
// with ErrInvalidArgument: a listing goes forward in time. since is the
// base's checkpoint, nil when it is gone (then only the creation time its
// change ID carries can tell). Creation times count whole seconds; within
// one, the chain decides: a base that descends from At is later.
func (d *disk) checkOrder(dom *golibvirt.Domain, ref CheckpointRef, since *Checkpoint) error {
	at, err := d.atCheckpoint(dom)
	if err != nil {
		return err
	}
	later := func() error {
		return fmt.Errorf("%w: libvirt: base checkpoint %q is later than checkpoint %q, the point disk %s of domain %s is opened at (At): a listing goes forward in time; list since an earlier checkpoint, or open the disk at a later one",
			cbt.ErrInvalidArgument, ref.Name, at.Name, d.target, d.domain)
	}
	switch {
	case since == nil:
		// Gone: the guards its change ID carries tell, the nonce's time to
		// the nanosecond where both checkpoints were made by this package.
		if t, ok := nonceTime(ref.Nonce); ok {
			if a, ok := nonceTime(guardNonce(at.Description)); ok {
				if t > a {
					return later()
				}
				return nil
			}
		}
		if ref.Time != 0 && ref.Time > at.CreationTime {
			return later()
		}
		return nil
	case since.Name == at.Name:
		return nil
	case since.CreationTime > at.CreationTime:
		return later()
	case since.CreationTime < at.CreationTime:
		return nil
	}
	p := since.Parent
	for range maxChain {
		if p == "" {
			return nil
		}
		if p == at.Name {
			return later()
		}
		c, err := checkpointOf(dom, d.domain, p, false)
		if err != nil {
			if isCode(err, golibvirt.ERR_NO_DOMAIN_CHECKPOINT) {
				return nil
			}
			return err
		}
		p = c.Parent
	}
	return nil
}

// atCheckpoint looks up the checkpoint At and checks its guards.
func (d *disk) atCheckpoint(dom *golibvirt.Domain) (Checkpoint, error) {
	cp, err := checkpointOf(dom, d.domain, d.point.Name, false)
	if err != nil {
		if isCode(err, golibvirt.ERR_NO_DOMAIN_CHECKPOINT) {
			return Checkpoint{}, fmt.Errorf("%w: libvirt: checkpoint %q (At) of domain %s is gone", cbt.ErrBusy, d.point.Name, d.domain)
		}
		return Checkpoint{}, err
	}
	if err := d.point.verify(cp); err != nil {
		return Checkpoint{}, fmt.Errorf("%w: libvirt: checkpoint %q (At) was made again: %w", cbt.ErrBusy, d.point.Name, err)
	}
	return cp, nil
}

// checkAt checks, on a running domain, that no write reached the disk since
// the checkpoint At: libvirt's count of the bytes its bitmap holds is 0.
func (d *disk) checkAt(dom *golibvirt.Domain) error {
	if _, err := d.atCheckpoint(dom); err != nil {
		return err
	}
	cp, err := checkpointOf(dom, d.domain, d.point.Name, true)
	if err != nil {
		return err
	}
	cd, ok := cp.Disk(d.target)
	switch {
	case !ok || cd.Checkpoint != "bitmap":
		return fmt.Errorf("%w: libvirt: checkpoint %q (At) does not track disk %s", cbt.ErrInvalidArgument, cp.Name, d.target)
	case cd.Size < 0:
		return fmt.Errorf("%w: libvirt: libvirt did not say how much changed since checkpoint %q (At)", cbt.ErrUnsupported, cp.Name)
	case cd.Size > 0:
		return fmt.Errorf("%w: libvirt: disk %s of domain %s was written since checkpoint %q (At), %d bytes: the disk is no longer at that checkpoint",
			cbt.ErrBusy, d.target, d.domain, cp.Name, cd.Size)
	}
	return nil
}
