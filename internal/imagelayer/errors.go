package imagelayer

import (
	"errors"
	"syscall"

	"github.com/changedblocks/sdk/internal/hostfile"
)

// Sentinel errors: an error this package makes wraps one of them (test with
// errors.Is). What they mean to the user is the caller's to say.
var (
	// ErrPath: the path names no image file: a file of another kind than a
	// regular file or a block device (a *hostfile.KindError, reachable with
	// errors.As), a name too long for the system (ENAMETOOLONG), a symbolic
	// link loop (ELOOP), a path through a file that is no directory
	// (ENOTDIR) or one the system refuses (EINVAL: a NUL byte). The error's
	// message is the cause's own.
	ErrPath = errors.New("imagelayer: not an image file path")

	// ErrFormat: a format other than "raw", "qcow2" and "" was asked for.
	ErrFormat = errors.New("imagelayer: unsupported format")

	// ErrBusy: another process holds the file for writing: Open without
	// Options.ForceShare, or Allocated of a qcow2 layer opened with it
	// (its active tables on disk are stale).
	ErrBusy = errors.New("imagelayer: held for writing by another process")
)

// pathError is an error of hostfile.Open that says the path names no image
// file: it matches ErrPath and its cause, with the cause's message.
type pathError struct{ err error }

func (e *pathError) Error() string   { return e.err.Error() }
func (e *pathError) Unwrap() []error { return []error{ErrPath, e.err} }

// asPathError returns err as a *pathError when it says the path names no
// image file, else err as it is.
func asPathError(err error) error {
	var ke *hostfile.KindError
	switch {
	case errors.As(err, &ke), errors.Is(err, syscall.ENAMETOOLONG), errors.Is(err, syscall.ELOOP),
		errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.EINVAL):
		return &pathError{err: err}
	}
	return err
}
