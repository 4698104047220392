package imagelayer

import (
	"errors"
	"io/fs"

	"github.com/changedblocks/sdk/internal/qcow2"
)

// Classes are the caller's error classes for what goes wrong with a layer;
// Of sorts an error of this package (its own, package qcow2's, the file
// system's or the kernel's) into one of them. The package holds no error
// class of the SDK: the caller names its own, once, so that every platform
// that opens layers sorts their errors the same way.
type Classes struct {
	Path        error // ErrPath: the path names no image file
	Busy        error // ErrBusy: held for writing by another process
	NotFound    error // the file does not exist
	Unsupported error // a format or qcow2 feature not read, or a file the process may not read
	Corrupt     error // malformed metadata, or any other I/O error
}

// Of returns the class of err: qcow2.ErrCorrupt is Corrupt;
// qcow2.ErrUnsupported, qcow2.ErrNotQcow2, ErrFormat and fs.ErrPermission
// are Unsupported (the file cannot be served); ErrBusy is Busy; ErrPath is
// Path; fs.ErrNotExist is NotFound; anything else (a short read, EIO) is
// Corrupt.
func (c Classes) Of(err error) error {
	switch {
	case errors.Is(err, qcow2.ErrCorrupt):
		return c.Corrupt
	case errors.Is(err, qcow2.ErrUnsupported), errors.Is(err, qcow2.ErrNotQcow2), errors.Is(err, ErrFormat), errors.Is(err, fs.ErrPermission):
		return c.Unsupported
	case errors.Is(err, ErrBusy):
		return c.Busy
	case errors.Is(err, ErrPath):
		return c.Path
	case errors.Is(err, fs.ErrNotExist):
		return c.NotFound
	}
	return c.Corrupt
}
