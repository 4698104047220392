package cbt

import (
	"github.com/changedblocks/sdk/cbt/driver"
)

// Error classes, matched with errors.Is. Every error the SDK returns, but for
// context errors (returned as they are), wraps one of them and, where a
// platform produced it, the platform's own error too, reachable with errors.As.
var (
	// ErrChangeIDInvalid: the base change ID is stale, was reset, or is unknown
	// to the disk. Take a full backup (Changes with a zero ChangeID).
	ErrChangeIDInvalid = driver.ErrChangeIDInvalid
	// ErrNotEnabled: change tracking is off for the disk.
	ErrNotEnabled = driver.ErrNotEnabled
	// ErrNotFound: the disk, snapshot, bitmap or other object does not exist.
	ErrNotFound = driver.ErrNotFound
	// ErrUnsupported: the platform, disk kind or request cannot be served.
	ErrUnsupported = driver.ErrUnsupported
	// ErrInvalidArgument: a malformed argument, or a change ID of another scheme.
	ErrInvalidArgument = driver.ErrInvalidArgument
	// ErrCorrupt: malformed metadata, or a driver answer that breaks the
	// contract of package driver.
	ErrCorrupt = driver.ErrCorrupt
	// ErrBusy: the object is in use (for example an image a running qemu holds).
	ErrBusy = driver.ErrBusy
	// ErrClosed: the Disk was closed.
	ErrClosed = driver.ErrClosed
)

// Error records the operation and disk an error happened on. It wraps the
// error class and the underlying cause; use errors.Is and errors.As on it.
type Error struct {
	Op   string // "changes", "open", "close", ...
	Disk string // the disk's name; never holds a secret
	Err  error
}

func (e *Error) Error() string {
	if e.Disk == "" {
		return e.Op + ": " + e.Err.Error()
	}
	return e.Op + " " + e.Disk + ": " + e.Err.Error()
}

// Unwrap returns the wrapped error.
func (e *Error) Unwrap() error { return e.Err }
