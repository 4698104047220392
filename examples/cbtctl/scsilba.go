package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/driver"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/scsi"
)

// openSCSIDevice opens the device; tests replace it with a device model.
var openSCSIDevice = scsi.Open

const scsiLBAStatusAbout = `Lists the mapped extents of the SCSI block device DEVICE, already attached
(for example the iSCSI disk of an OCI volume created from a backup delta:
its mapped blocks are what changed between the two backups), with SCSI GET
LBA STATUS through SG_IO (Linux only).

Every block counts as changed unless the device reports it deallocated.
Scans go in windows of at most 1 GiB (OCI defines no result beyond that).
The 32-byte command needs root or CAP_SYS_RAWIO; --form auto falls back to
the 16-byte one when the device does not know the 32-byte one. The device
is only read.`

// scsiLBAStatusCommand is "cbtctl scsi lba-status".
func scsiLBAStatusCommand() command {
	return command{name: "lba-status", synopsis: "list the mapped (changed) extents of a device with GET LBA STATUS", run: runSCSILBAStatus}
}

// runSCSILBAStatus is "cbtctl scsi lba-status".
func runSCSILBAStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("cbtctl scsi lba-status", "cbtctl scsi lba-status DEVICE [--form auto|32|16] [flags]", scsiLBAStatusAbout)
	var o scsiScanFlags
	o.register(fs)
	var f changesFlags
	f.register(fs)
	f.hint = scsiHint
	path, code, ok := parseDeviceArg(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if o.reportType > 255 {
		return usageError(fs, stderr, "--report-type %d: want 0..255", o.reportType)
	}
	if o.window > scsiMaxWindow {
		err := fmt.Errorf("%w: --window %d bytes is outside 1..%d: OCI defines GET LBA STATUS results only for scans of at most 1 GiB", cbt.ErrInvalidArgument, o.window, scsiMaxWindow)
		return reportErrorHint(ctx, stderr, fs.Name(), err, "", scsiHint)
	}
	dev, err := openSCSIDevice(path)
	if err != nil {
		return reportErrorHint(ctx, stderr, fs.Name(), scsiError(err), "", scsiHint)
	}
	disk, err := newSCSIDisk(ctx, dev, path, o.options())
	if err != nil {
		return reportErrorHint(ctx, stderr, fs.Name(), err, "", scsiHint)
	}
	defer disk.Close()
	return runChanges(ctx, stdout, stderr, disk, cbt.ChangeID{}, f)
}

// scsiMaxWindow is the largest --window and its default: OCI, whose delta
// volumes this command is made for, defines GET LBA STATUS results only for
// scans of at most 1 GiB.
const scsiMaxWindow = 1 << 30

// scsiScanFlags are the flags of the scan itself.
type scsiScanFlags struct {
	form       scsiFormValue
	reportType uint
	alloc      int64
	window     int64
}

func (o *scsiScanFlags) register(fs *flag.FlagSet) {
	fs.Var(&o.form, "form", "the GET LBA STATUS command `FORM`: auto (32-byte, falling back to 16-byte), 32 or 16")
	fs.UintVar(&o.reportType, "report-type", 0, "the REPORT `TYPE` sent (0 all LBAs, 3 deallocated); the answer is filtered here either way")
	fs.Var(sizeValue{&o.alloc}, "max-allocation", "the allocation length of each command in `BYTES` (default 32760)")
	fs.Var(sizeValue{&o.window}, "window", "the scan length of each 32-byte command in `BYTES`, at most 1G (default 1G)")
}

func (o *scsiScanFlags) options() *scsi.ScanOptions {
	window := o.window
	if window == 0 {
		window = scsiMaxWindow
	}
	return &scsi.ScanOptions{Form: o.form.form, ReportType: byte(o.reportType), MaxAllocation: uint32(min(o.alloc, 1<<31)), WindowBytes: window}
}

// scsiFormValue is the --form flag.
type scsiFormValue struct{ form scsi.Form }

func (v *scsiFormValue) String() string {
	if v == nil {
		return "auto"
	}
	switch v.form {
	case scsi.Form32:
		return "32"
	case scsi.Form16:
		return "16"
	}
	return "auto"
}

func (v *scsiFormValue) Set(s string) error {
	switch s {
	case "auto":
		v.form = scsi.FormAuto
	case "32":
		v.form = scsi.Form32
	case "16":
		v.form = scsi.Form16
	default:
		return fmt.Errorf("want auto, 32 or 16, not %q", s)
	}
	return nil
}

// parseDeviceArg parses the flags and the one DEVICE argument, which may
// come before, between or after them.
func parseDeviceArg(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (string, int, bool) {
	return parseOneArg(fs, args, stdout, stderr, "DEVICE", "the SCSI disk, such as /dev/sdb or /dev/sg1")
}

// scsiHint is the advice for errors particular to SCSI devices.
func scsiHint(err error) string {
	switch {
	case errors.Is(err, os.ErrPermission):
		return "GET LBA STATUS(32) through SG_IO needs root or CAP_SYS_RAWIO: run as root; on a generic thin LUN (not OCI, which needs the 1 GiB scan length of the 32-byte command) --form 16 needs only read access"
	case errors.Is(err, cbt.ErrNotFound):
		return "check the device path: it does not exist (lsblk or lsscsi list the attached disks)"
	case errors.Is(err, cbt.ErrUnsupported):
		return "the file is not a SCSI device, or the device supports neither GET LBA STATUS command (--form auto tries both): copy the whole disk instead"
	case errors.Is(err, cbt.ErrInvalidArgument):
		return "the device rejected a field of the command, or --start is beyond the device: check --start, --report-type and --form"
	}
	return ""
}

// scsiError returns an error of package internal/scsi with the cbt class
// its sentinel means (a class a device gave already stays).
func scsiError(err error) error {
	var cls error
	switch {
	case errors.Is(err, scsi.ErrInvalid):
		cls = cbt.ErrInvalidArgument
	case errors.Is(err, scsi.ErrUnsupported):
		cls = cbt.ErrUnsupported
	case errors.Is(err, scsi.ErrBusy):
		cls = cbt.ErrBusy
	case errors.Is(err, scsi.ErrMalformed):
		cls = cbt.ErrCorrupt
	case errors.Is(err, scsi.ErrClosed):
		cls = cbt.ErrClosed
	case errors.Is(err, fs.ErrNotExist):
		cls = cbt.ErrNotFound
	}
	return driver.WithClass(cls, err)
}

// scsiDisk is a cbt driver over a SCSI device: its changes are the blocks
// GET LBA STATUS does not report deallocated. It hands out no change ID.
type scsiDisk struct {
	dev  scsi.Device
	name string
	c    scsi.Capacity
	size int64
	opts scsi.ScanOptions
}

// scsiPageExtents bounds the extents of one page.
const scsiPageExtents = 4096

// newSCSIDisk reads the capacity of dev and wraps it in a cbt.Disk that
// closes dev. On an error dev is closed.
func newSCSIDisk(ctx context.Context, dev scsi.Device, name string, opts *scsi.ScanOptions) (*cbt.Disk, error) {
	c, err := scsi.ReadCapacity(ctx, dev)
	if err != nil {
		_ = dev.Close()
		return nil, fmt.Errorf("%s: %w", name, scsiError(err))
	}
	size, err := c.Bytes()
	if err != nil {
		_ = dev.Close()
		return nil, fmt.Errorf("%s: %w", name, scsiError(err))
	}
	d := &scsiDisk{dev: dev, name: name, c: c, size: size, opts: *opts}
	d.opts.Capacity = &d.c
	return cbt.NewDisk(d) // closes d, and so dev, on an error
}

func (d *scsiDisk) Info() driver.Info {
	return driver.Info{Name: d.name, Scheme: "scsi", Capacity: d.size, Granularity: int64(d.c.BlockSize),
		NoChangeID: "a SCSI device's allocation status names no point in time"}
}

func (d *scsiDisk) ChangedExtents(ctx context.Context, req driver.Request, buf []extent.Extent) ([]extent.Extent, int64, error) {
	if req.Since != "" {
		return nil, 0, fmt.Errorf("%w: a SCSI device has no change ID: list without --since", driver.ErrInvalidArgument)
	}
	o := d.opts
	o.Start, o.Length = req.Offset, req.End-req.Offset
	exts := buf[:0]
	for e, err := range scsi.Scan(ctx, d.dev, &o) {
		if err != nil {
			return nil, 0, scsiError(err)
		}
		exts = append(exts, e)
		if len(exts) == scsiPageExtents {
			// An extent is yielded once complete: everything before its end
			// has been reported.
			return exts, e.End(), nil
		}
	}
	return exts, req.End, nil
}

func (d *scsiDisk) Close() error { return d.dev.Close() }
