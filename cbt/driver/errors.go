package driver

import "errors"

// Error classes. cbt re-exports each under the same name; match them with
// errors.Is. A driver wraps both the class and its platform's own error:
// fmt.Errorf("%w: %w", ErrNotFound, faultErr).
var (
	// ErrChangeIDInvalid: the base change ID is stale, was reset, or is unknown
	// to the disk. Nothing incremental can be trusted: take a full backup.
	ErrChangeIDInvalid = errors.New("cbt: change ID is not valid for this disk (take a full backup)")
	// ErrNotEnabled: change tracking is off for the disk.
	ErrNotEnabled = errors.New("cbt: change tracking is not enabled")
	// ErrNotFound: the disk, snapshot, bitmap or other object does not exist.
	ErrNotFound = errors.New("cbt: not found")
	// ErrUnsupported: the platform, disk kind or request cannot be served.
	ErrUnsupported = errors.New("cbt: not supported")
	// ErrInvalidArgument: the caller passed something malformed or of the wrong
	// scheme.
	ErrInvalidArgument = errors.New("cbt: invalid argument")
	// ErrCorrupt: malformed metadata, or a driver answer that breaks the
	// contract (unsorted, overlapping, outside capacity, no progress).
	ErrCorrupt = errors.New("cbt: corrupt metadata or driver output")
	// ErrBusy: the object is in use (for example an image a running qemu holds).
	ErrBusy = errors.New("cbt: busy")
	// ErrClosed: the disk was closed.
	ErrClosed = errors.New("cbt: disk is closed")
)
