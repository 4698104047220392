package main

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/internal/hostfile"
)

// Path arguments are checked with package hostfile before anything opens
// them: a directory, a named pipe (FIFO), a socket or a device the argument
// cannot be is refused with an error saying what it is, and a FIFO never
// blocks the command in its open.

// argError words the error of checking or opening a path argument: a
// *hostfile.KindError says what the file is (and stays one, for classify:
// a usage error); a missing file is cbt.ErrNotFound.
func argError(err error) error {
	var ke *hostfile.KindError
	switch {
	case errors.As(err, &ke):
		return err
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %w", cbt.ErrNotFound, err)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%w: %w", cbt.ErrInvalidArgument, err)
	}
	return err
}

// checkArg checks that the path argument is of a kind allow holds, without
// opening it; see argError for the errors.
func checkArg(path string, allow hostfile.Kind) error {
	if err := hostfile.Check(path, allow); err != nil {
		return argError(err)
	}
	return nil
}
