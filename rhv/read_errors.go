package rhv

import (
	"bufio"
	"errors"
	"fmt"
	"io"
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

// maxLineSize bounds a line of the text the readers take.
const maxLineSize = 1 << 20

// lineScanner returns a scanner of the lines of r, each at most maxLineSize
// bytes.
func lineScanner(r io.Reader) *bufio.Scanner {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, maxLineSize)
	return sc
}

// scanError is the error a lineScanner over the text of what stopped with:
// a line (number n, when n > 0) longer than maxLineSize, or an error of the
// reader, each of class cbt.ErrCorrupt.
func scanError(err error, what string, n int) error {
	if errors.Is(err, bufio.ErrTooLong) {
		line := "a line"
		if n > 0 {
			line = fmt.Sprintf("line %d", n)
		}
		return readErrorf(cbt.ErrCorrupt, what, "%s is longer than %d bytes", line, maxLineSize)
	}
	return fmt.Errorf("%w: rhv: reading %s: %w", cbt.ErrCorrupt, what, err)
}
