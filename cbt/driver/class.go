package driver

import (
	"context"
	"errors"
	"fmt"
)

// classes are the error classes in the order Class looks for them.
var classes = [...]error{ErrChangeIDInvalid, ErrNotEnabled, ErrNotFound, ErrUnsupported,
	ErrInvalidArgument, ErrCorrupt, ErrBusy, ErrClosed}

// Class returns the class err carries: the first of ErrChangeIDInvalid,
// ErrNotEnabled, ErrNotFound, ErrUnsupported, ErrInvalidArgument,
// ErrCorrupt, ErrBusy and ErrClosed, in that order, that errors.Is finds in
// err. It returns nil when err carries none, and for nil. An error may carry
// two classes (a point that is gone for good can be both ErrNotFound and
// ErrChangeIDInvalid); Class then returns the one listed first, and
// errors.Is still matches either.
//
// A driver that must tell whether an error from a lower layer (a codec, a
// device or client the caller supplied) is classed already uses Class or
// HasClass instead of matching the classes one by one.
func Class(err error) error {
	if err == nil {
		return nil
	}
	for _, c := range classes {
		if errors.Is(err, c) {
			return c
		}
	}
	return nil
}

// HasClass reports whether err carries one of this package's classes.
func HasClass(err error) bool { return Class(err) != nil }

// WithClass returns err with class cls: fmt.Errorf("%w: %w", cls, err), so
// that errors.Is(result, cls) holds and errors.As still reaches whatever
// err wraps. It returns err as it is when err is nil, when it is or wraps a
// context error (context.Canceled or context.DeadlineExceeded: cbt passes
// those through untouched, and a class would hide that the caller's own
// context ended the call), when it carries a class already (the layer that
// classed it knew more), and when cls is nil (no class known).
//
// It is the one way a driver classes an error it did not make:
//
//	return driver.WithClass(driver.ErrBusy, fmt.Errorf("oci: scanning %s: %w", dev, err))
func WithClass(cls, err error) error {
	if err == nil || cls == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || HasClass(err) {
		return err
	}
	return fmt.Errorf("%w: %w", cls, err)
}
