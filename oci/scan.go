package oci

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/driver"
	"github.com/changedblocks/sdk/internal/scsi"
)

// The rules of reading a delta volume with GET LBA STATUS. Package
// internal/scsi scans any thin LUN; what its answers mean on OCI is here.
//
//   - OCI defines GET LBA STATUS results only for scans of at most 1 GiB:
//     every command is GET LBA STATUS(32), whose scan length keeps it within
//     scanWindow (GET LBA STATUS(16) has none, so it is never sent).
//   - The delta volume maps exactly the blocks that differ between the two
//     backups. A block counts as changed unless its descriptor reports it
//     deallocated: mapped, mapped-or-unknown, anchored and unknown blocks,
//     and blocks no descriptor covers, may differ, so nothing is
//     under-reported. scsi.Scan yields exactly those blocks.

// scanWindow is the largest scan of one command, in bytes.
const scanWindow = 1 << 30

// scanForm is the GET LBA STATUS command sent: the one with a scan length.
const scanForm = scsi.Form32

// scanOptions returns the options of a scan of [start, start+length) of a
// delta device of capacity c.
func scanOptions(start, length int64, c scsi.Capacity, log *slog.Logger) *scsi.ScanOptions {
	return &scsi.ScanOptions{Start: start, Length: length, Capacity: &c, Form: scanForm, WindowBytes: scanWindow, Logger: log}
}

// scsiClass returns the class of an error of package internal/scsi (or of a
// Device): scsi.ErrInvalid is cbt.ErrInvalidArgument (a field the device
// rejected), scsi.ErrUnsupported cbt.ErrUnsupported (the device or host
// cannot take GET LBA STATUS(32)), scsi.ErrBusy cbt.ErrBusy, scsi.ErrMalformed
// cbt.ErrCorrupt, scsi.ErrClosed cbt.ErrClosed, a missing file
// cbt.ErrNotFound; nil for any other.
func scsiClass(err error) error {
	switch {
	case errors.Is(err, scsi.ErrInvalid):
		return cbt.ErrInvalidArgument
	case errors.Is(err, scsi.ErrUnsupported):
		return cbt.ErrUnsupported
	case errors.Is(err, scsi.ErrBusy):
		return cbt.ErrBusy
	case errors.Is(err, scsi.ErrMalformed):
		return cbt.ErrCorrupt
	case errors.Is(err, scsi.ErrClosed):
		return cbt.ErrClosed
	case errors.Is(err, fs.ErrNotExist):
		return cbt.ErrNotFound
	}
	return nil
}

// scsiError returns an error of a SCSI command to a delta device, saying
// what was being done, with its class (see scsiClass; a class a Device gave
// already stays). When ctx is done the context's error is returned as it is.
func scsiError(ctx context.Context, err error, format string, args ...any) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return driver.WithClass(scsiClass(err), fmt.Errorf("oci: "+format+": %w", append(args, err)...))
}
