package qemu

import (
	"context"
	"errors"
	"fmt"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/driver"
	"github.com/changedblocks/sdk/internal/imagelayer"
)

// errf returns an error of class cls with a message prefixed "qemu:".
func errf(cls error, format string, args ...any) error {
	return fmt.Errorf("%w: qemu: "+format, append([]any{cls}, args...)...)
}

// layerClasses sorts the errors of package imagelayer, package qcow2, the
// file system and the kernel into cbt's classes (imagelayer.Classes.Of):
// a missing file is cbt.ErrNotFound, a held one cbt.ErrBusy, a path that is
// no image file cbt.ErrInvalidArgument, what cannot be served (a format,
// a feature, a file the process may not read) cbt.ErrUnsupported, and
// malformed metadata or any other I/O error cbt.ErrCorrupt.
var layerClasses = imagelayer.Classes{Path: cbt.ErrInvalidArgument, Busy: cbt.ErrBusy, NotFound: cbt.ErrNotFound,
	Unsupported: cbt.ErrUnsupported, Corrupt: cbt.ErrCorrupt}

// classify returns the cbt class of such an error (layerClasses).
func classify(err error) error { return layerClasses.Of(err) }

// wrap returns err with its class (see classify) and a "qemu:" context;
// context errors and errors that already carry a cbt class
// (driver.HasClass) are returned as they are.
func wrap(err error, format string, args ...any) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || driver.HasClass(err) {
		return err
	}
	return fmt.Errorf("%w: qemu: %s: %w", classify(err), fmt.Sprintf(format, args...), err)
}
