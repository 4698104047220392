package driver

import (
	"context"

	"github.com/changedblocks/sdk/extent"
)

// Info holds the static facts of a disk at one point in time.
type Info struct {
	// Name identifies the disk in errors and logs (a path, a VM and device key,
	// a volume OCID). It must hold no secret.
	Name string
	// Scheme is the change-ID scheme the driver hands out and accepts, such as
	// "vsphere", "qcow2" or "mem". Lower case letters, digits, '+', '-', '.'.
	Scheme string
	// Capacity is the disk size in bytes at this point in time.
	Capacity int64
	// Granularity is the tracking granularity in bytes: reported extents are
	// multiples of it except at the capacity. 0 or 1 means byte precision.
	Granularity int64
	// ChangeID is the value part of the change ID of this point in time: what a
	// backup taken from it stores for the next incremental. Empty when the disk
	// has no change ID; NoChangeID then says why and what to do to have one.
	ChangeID string
	// NoChangeID, when ChangeID is empty, says why this point can be no base
	// of a later incremental and what the caller can do instead ("the active
	// state of an image is no fixed point: open it with a new bitmap, or at a
	// snapshot"). It must be empty when ChangeID is set.
	NoChangeID string
	// MaxRead is the most bytes one Reader.ReadAt call may ask for (an NBD
	// server's maximum block size, an API's limit on one request); 0 means
	// no limit. cbt cuts longer reads into calls of at most MaxRead bytes.
	MaxRead int64
	// NoRead says why the disk's data cannot be read through the SDK and
	// what to use instead ("read the volume attached to the instance"):
	// for a driver that does not implement Reader, or one that does but
	// cannot read this disk (an encrypted image). When set, cbt never calls
	// Reader and puts it in the ErrUnsupported a read gets. Empty for a
	// disk that reads.
	NoRead string
}

// Request asks for one page of changes.
type Request struct {
	// Since is the value part of the base change ID (the scheme is already
	// checked by cbt). Empty means no base: report every allocated area.
	Since string
	// Offset and End bound the window asked for: 0 <= Offset < End <= Capacity.
	Offset, End int64
}

// Disk is what a platform implements.
//
// Implementations must be safe for concurrent use by multiple goroutines.
type Disk interface {
	// Info returns the disk's static facts. It is called once, when cbt wraps
	// the driver.
	Info() Info

	// ChangedExtents answers one page of "what changed since req.Since within
	// [req.Offset, req.End)". It appends the changed extents to buf[:0] in
	// ascending order, non-overlapping and non-empty, and returns them with
	// next, the offset where this answer stops: everything in [req.Offset, next)
	// has been reported, and the following request starts at next. A driver may
	// stop early (next < req.End) for paging, even with no extent in the page;
	// next must be > req.Offset. Every extent must start before next; it may
	// extend before req.Offset or beyond next (cbt keeps the whole extent, merges
	// what a later page reports again, and clips only to the window its caller
	// asked for), but never beyond Capacity. A page that breaks these rules is
	// reported to the caller as ErrCorrupt naming the driver.
	//
	// Errors carry one of this package's classes; context errors are returned
	// as they are.
	ChangedExtents(ctx context.Context, req Request, buf []extent.Extent) (exts []extent.Extent, next int64, err error)

	// Close releases what the driver holds. cbt calls it at most once.
	Close() error
}
