package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/internal/hostfile"
)

// Exit statuses, the same for every subcommand.
const (
	exitOK         = 0 // success
	exitError      = 1 // any error not below
	exitUsage      = 2 // the command line is wrong
	exitFullBackup = 3 // the base change ID is no longer valid: take a full backup
	// A signal (SIGINT, SIGTERM) ends a command with 128 plus its number:
	// 130 or 143 (signalError.status).
)

// classify returns the exit status for err and what the user should do next.
//
// An error that is both ErrNotFound and ErrChangeIDInvalid is a point that
// does not exist (anymore), not a stale base: memcbt's Open reports a point
// taken before a tracking reset that way, and a full backup cannot be taken
// from a point that is gone, so it exits 1, not 3.
func classify(err error) (status int, hint string) {
	var oe *outputError
	var ie *interruptedError
	var ke *hostfile.KindError
	switch {
	case err == nil:
		return exitOK, ""
	case errors.As(err, &ie):
		status := exitError
		if se, ok := ie.cause.(*signalError); ok {
			status = se.status()
		}
		return status, "the listing was interrupted; run the command again"
	case errors.As(err, &oe):
		return exitError, "the output could not be written: check the file system or the reading end of the pipe"
	case errors.As(err, &ke):
		return exitUsage, ""
	case errors.Is(err, cbt.ErrChangeIDInvalid) && !errors.Is(err, cbt.ErrNotFound):
		return exitFullBackup, "full backup required: the change ID given with --since is stale, or tracking was reset; take a full backup: run again with --full instead of --since and store the printed change ID"
	case errors.Is(err, cbt.ErrNotFound):
		return exitError, "check the name of the disk, snapshot or change point: it does not exist (anymore)"
	case errors.Is(err, cbt.ErrNotEnabled):
		return exitError, "enable change tracking on the disk, take a new snapshot or checkpoint, and take a full backup from it (--full)"
	case errors.Is(err, cbt.ErrBusy):
		return exitError, "the disk is in use (for example by a running VM): retry later, or list the changes of a snapshot of it"
	case errors.Is(err, cbt.ErrUnsupported):
		return exitError, "this platform or disk cannot list changes for this request: copy the whole disk instead"
	case errors.Is(err, cbt.ErrInvalidArgument):
		if strings.Contains(err.Error(), "change ID") || strings.Contains(err.Error(), "base") {
			return exitError, "the platform refused the --since change ID (the message above says why): it must be one a listing of this platform printed for this disk (scheme:value), naming a point before the one listed"
		}
		return exitError, "the platform refused an argument: the message above says which and why"
	case errors.Is(err, cbt.ErrCorrupt):
		return exitError, "the platform's metadata or answer is malformed: report the message above; copying the whole disk is the safe fallback"
	case errors.Is(err, cbt.ErrClosed):
		return exitError, "the disk was closed while in use: this is a bug in the program"
	}
	return exitError, ""
}

// reportError writes err and what to do next to stderr, and returns the exit
// status. resume, when not empty, holds the flags that continue the listing
// after what was printed (not offered when a full backup is required).
func reportError(ctx context.Context, stderr io.Writer, cmd string, err error, resume string) int {
	return reportErrorHint(ctx, stderr, cmd, err, resume, nil)
}

// reportErrorHint is reportError with a platform's own advice: when
// platformHint is not nil and returns a non-empty hint for err, that hint
// replaces the generic one (the exit status stays classify's).
func reportErrorHint(ctx context.Context, stderr io.Writer, cmd string, err error, resume string, platformHint func(error) string) int {
	err = interrupted(ctx, err)
	status, hint := classify(err)
	var se *signalError
	if errors.As(context.Cause(ctx), &se) && status != exitUsage {
		// Whatever error the cancellation led to, a signal ended the command.
		status = se.status()
	}
	if status == exitUsage { // an argument of a kind the command does not take
		return usageLine(stderr, cmd, cliWords(err.Error()))
	}
	if platformHint != nil {
		if h := platformHint(err); h != "" {
			hint = h
		}
	}
	fmt.Fprintf(stderr, "%s: %s\n", cmd, cliWords(err.Error()))
	if hint != "" {
		fmt.Fprintf(stderr, "%s: %s\n", cmd, hint)
	}
	if resume != "" && status != exitFullBackup {
		var oe *outputError
		if errors.As(err, &oe) {
			fmt.Fprintf(stderr, "%s: the extents the output holds complete up to that offset are correct (drop a cut line or record after them); to continue after them, run again with %s\n", cmd, resume)
		} else {
			fmt.Fprintf(stderr, "%s: the extents printed are correct; to continue after them, run again with %s\n", cmd, resume)
		}
	}
	return status
}

// interruptedError is a listing ended by the cancellation of its context:
// Ctrl-C or SIGTERM. Its message names the cause.
type interruptedError struct {
	cause error // context.Cause
	err   error // the context error the listing ended with
}

func (e *interruptedError) Error() string { return "interrupted: " + e.cause.Error() }
func (e *interruptedError) Unwrap() error { return e.err }

// interrupted wraps err in an interruptedError when it is ctx's own error.
func interrupted(ctx context.Context, err error) error {
	var ie *interruptedError
	if cerr := ctx.Err(); cerr != nil && (errors.Is(err, cerr) || errors.Is(err, context.Cause(ctx))) && !errors.As(err, &ie) {
		return &interruptedError{cause: context.Cause(ctx), err: err}
	}
	return err
}
