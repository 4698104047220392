package rhv

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/rhv/internal/ident"
)

// readErrorf returns an error of class cls with a message prefixed
// "rhv: <what>:", for the chain readers.
func readErrorf(cls error, what, format string, args ...any) error {
	return fmt.Errorf("%w: rhv: %s: %s", cls, what, fmt.Sprintf(format, args...))
}

// readFileError classifies an error of the file system: a missing file is
// cbt.ErrNotFound, a file the process may not read cbt.ErrUnsupported, any
// other cbt.ErrCorrupt; the cause stays reachable with errors.As.
func readFileError(err error, what string) error {
	cls := cbt.ErrCorrupt
	switch {
	case errors.Is(err, fs.ErrNotExist):
		cls = cbt.ErrNotFound
	case errors.Is(err, fs.ErrPermission):
		cls = cbt.ErrUnsupported
	}
	return fmt.Errorf("%w: rhv: %s: %w", cls, what, err)
}

// clip shortens s to at most n bytes for a message.
func clip(s string, n int) string { return ident.Clip(s, n) }
