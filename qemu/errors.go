package qemu

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/driver"
	"github.com/changedblocks/sdk/internal/imagelayer"
	"github.com/changedblocks/sdk/internal/qcow2"
)

// errf returns an error of class cls with a message prefixed "qemu:".
func errf(cls error, format string, args ...any) error {
	return fmt.Errorf("%w: qemu: "+format, append([]any{cls}, args...)...)
}

// classify returns the error class of an error from package imagelayer,
// package qcow2, the file system or the kernel: qcow2.ErrCorrupt is
// cbt.ErrCorrupt; qcow2.ErrUnsupported, qcow2.ErrNotQcow2 and
// imagelayer.ErrFormat are cbt.ErrUnsupported; imagelayer.ErrBusy is
// cbt.ErrBusy; imagelayer.ErrPath is cbt.ErrInvalidArgument; a missing file
// is cbt.ErrNotFound; a file the process may not read is cbt.ErrUnsupported
// (it cannot be served); any other I/O error (a short read, EIO) is
// cbt.ErrCorrupt.
func classify(err error) error {
	switch {
	case errors.Is(err, qcow2.ErrCorrupt):
		return cbt.ErrCorrupt
	case errors.Is(err, qcow2.ErrUnsupported), errors.Is(err, qcow2.ErrNotQcow2), errors.Is(err, imagelayer.ErrFormat):
		return cbt.ErrUnsupported
	case errors.Is(err, imagelayer.ErrBusy):
		return cbt.ErrBusy
	case errors.Is(err, imagelayer.ErrPath):
		return cbt.ErrInvalidArgument
	case errors.Is(err, fs.ErrNotExist):
		return cbt.ErrNotFound
	case errors.Is(err, fs.ErrPermission):
		return cbt.ErrUnsupported
	}
	return cbt.ErrCorrupt
}

// wrap returns err with its class (see classify) and a "qemu:" context;
// context errors and errors that already carry a cbt class
// (driver.HasClass) are returned as they are.
func wrap(err error, format string, args ...any) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || driver.HasClass(err) {
		return err
	}
	return fmt.Errorf("%w: qemu: %s: %w", classify(err), fmt.Sprintf(format, args...), err)
}
