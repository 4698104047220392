package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/internal/hostfile"
	"github.com/changedblocks/sdk/qemu"
)

// qemuCommand is the qemu/KVM offline platform: package qemu, on qcow2 files.
func qemuCommand() command {
	return command{
		name:     "qemu",
		synopsis: "qcow2 images offline (package qemu): snapshots, bitmaps, backing chains",
		subs: []command{
			{name: "info", synopsis: "describe an image and its backing chain, as qemu-img info does", run: runQemuInfo},
			{name: "snapshots", synopsis: "list the internal snapshots, as qemu-img snapshot -l does", run: runQemuSnapshots},
			{name: "bitmaps", synopsis: "list the persistent dirty bitmaps and whether each can be a base", run: runQemuBitmaps},
			{name: "changes", synopsis: "list what changed between two points of an image", run: runQemuChanges},
			{name: "prune", synopsis: "remove the bitmaps and snapshots --next made, but those kept", run: runQemuPrune},
			{name: "backup", synopsis: "write a full or incremental backup into a qcow2 file qemu-img restores", run: runQemuBackup},
			{name: "verify", synopsis: "compare a backup with the image at the point it was taken", run: runQemuVerify},
		},
	}
}

const qemuChangesAbout = `Lists what changed on the qcow2 image IMAGE at the point --at (default:
active, the image as it is now) since the point --since, or, with --full,
every area allocated down the backing chain: what a full backup copies.

A POINT is one of:
	active              the image as it is now (the default of --at)
	snapshot:NAME_OR_ID an internal snapshot (qemu-img snapshot -c)
	bitmap:NAME         a persistent dirty bitmap (--since only): the writes
	                    it recorded
	layer:PATH          a backing file of the chain: what the layers above it
	                    allocate
--since also takes a change ID "qcow2:..." a previous listing printed.

The image is only read, never written. An image a running qemu holds gives
an error, unless --force-share: then its snapshots can be listed (--since
snapshot:A --at snapshot:B), but a listing at or since the active state or a
bitmap still gives the error, as qemu keeps those in memory and the file
lags behind.

The change ID to store names the point --at. The active state names none (it
is still written). For a backup, list with --next bitmap (the default way):
it first makes a new persistent dirty bitmap under a unique name (qemu-img
bitmap --add, with the VM shut down), lists the image as it is, and prints
the bitmap's change ID to store; the next backup lists --next bitmap --since
that change ID, then "cbtctl qemu prune IMAGE --keep NEWID" drops the older
bitmap. --next snapshot makes an internal snapshot instead and lists at it.
A listing that fails or is interrupted removes the point --next made. A
listing at active without --next, or since a bitmap, prints why there is no
change ID instead. The granularity printed is the bitmap's when listing since
a bitmap, else the image's cluster size.

Change IDs carry guards (the snapshot's date, the layer's time, the disk size
and the files below the point), so a point deleted and made again under the
same name, a commit into a backing file or a resize is refused (exit 3). A
bare snapshot:NAME, bitmap:NAME or layer:PATH as --since is refused too,
unless --trust-bare-name: you vouch that the name was never reused.

Exit status 3 (full backup required): the --since point is gone, was made
again, its backing files or the disk size changed, or the bitmap was not
saved cleanly (in use: qemu crashed or still runs), is disabled or
inconsistent.`

// qemuPoint parses the value of --at or --since: a point ("snapshot:s1") or
// a whole change ID ("qcow2:snapshot:s1").
func qemuPoint(flagName, v string) (qemu.Point, cbt.ChangeID, error) {
	p, err := qemu.ParsePoint(v)
	if err != nil {
		return qemu.Point{}, cbt.ChangeID{}, fmt.Errorf("%s %q: want active, snapshot:NAME_OR_ID, bitmap:NAME, layer:PATH, or a change ID qcow2:... that a listing printed", flagName, v)
	}
	id, err := p.ChangeID()
	if err != nil {
		return qemu.Point{}, cbt.ChangeID{}, fmt.Errorf("%s: %w", flagName, err)
	}
	return p, id, nil
}

// runQemuChanges is "cbtctl qemu changes". Not split: half of it declares
// and checks the flags, read once from top to bottom like the usage text.
func runQemuChanges(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("cbtctl qemu changes",
		"cbtctl qemu changes IMAGE (--since POINT|CHANGEID | --full) [--at POINT] [flags]", qemuChangesAbout)
	at := fs.String("at", "active", "list at `POINT`: active, snapshot:NAME_OR_ID or layer:PATH")
	next := fs.String("next", "", "make the point this backup reaches first, `KIND` bitmap or snapshot, under a unique name, and list at it (its change ID is printed)")
	trust := fs.Bool("trust-bare-name", false, "accept a bare snapshot:NAME, bitmap:NAME or layer:PATH as --since (you vouch that the name was never reused)")
	var o qemuOpenFlags
	o.register(fs)
	var f changesFlags
	f.register(fs)
	f.registerBase(fs, "list what changed since `POINT`: snapshot:NAME_OR_ID, bitmap:NAME, layer:PATH, or a change ID qcow2:... a listing printed")
	image, code, ok := parseImageArgs(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	f.hint = func(err error) string { return qemuHintFor(err, image) }
	if msg := f.checkBase("POINT|CHANGEID (snapshot:NAME, bitmap:NAME, layer:PATH, or a change ID qcow2:... a listing printed)"); msg != "" {
		return usageError(fs, stderr, "%s", msg)
	}
	var sinceID cbt.ChangeID
	var sincePoint qemu.Point
	if f.since.set {
		p, id, err := qemuPoint("--since", f.since.s)
		if err != nil {
			return usageError(fs, stderr, "%v", err)
		}
		sinceID, sincePoint = id, p
	}
	atPoint, _, err := qemuPoint("--at", *at)
	if err != nil {
		return usageError(fs, stderr, "%v", err)
	}
	if atPoint.Kind == qemu.PointBitmap {
		return usageError(fs, stderr, "--at %s: a bitmap is a base only: pass it with --since, and list --at active", *at)
	}
	var nextOpts *qemu.NextOptions
	switch *next {
	case "":
	case "bitmap", "snapshot":
		if atPoint.Kind != qemu.PointActive {
			return usageError(fs, stderr, "--next %s lists at the point it makes: leave --at out", *next)
		}
		nextOpts = &qemu.NextOptions{Snapshot: *next == "snapshot"}
	default:
		return usageError(fs, stderr, "--next %q: want bitmap or snapshot", *next)
	}
	o.trust = *trust
	var disk *cbt.Disk
	if nextOpts != nil {
		// The point is made first: the image is read after qemu-img wrote it.
		if err := checkArg(image, hostfile.Regular|hostfile.BlockDevice); err != nil {
			return reportErrorHint(ctx, stderr, fs.Name(), err, "", f.hint)
		}
		if disk, err = qemu.OpenNext(ctx, image, nextOpts, o.options()); err != nil {
			return reportErrorHint(ctx, stderr, fs.Name(), err, "", f.hint)
		}
	}
	im, err := o.open(image)
	if err != nil {
		if disk != nil {
			_ = disk.Close()
		}
		return reportErrorHint(ctx, stderr, fs.Name(), err, "", f.hint)
	}
	defer im.Close()
	if disk == nil {
		if disk, err = im.Open(atPoint); err != nil {
			return reportErrorHint(ctx, stderr, fs.Name(), err, "", f.hint)
		}
	}
	defer func() {
		if err := disk.Close(); err != nil {
			fmt.Fprintf(stderr, "%s: %s\n", fs.Name(), cliWords(err.Error()))
		}
	}()
	if sincePoint.Kind == qemu.PointBitmap {
		// What is listed is the bitmap's dirty areas, in its granules.
		if g, err := bitmapGranularity(im, sincePoint.Name); err != nil {
			return reportErrorHint(ctx, stderr, fs.Name(), err, "", f.hint)
		} else if g > 0 {
			f.granularity = g
		}
	}
	if atPoint.Kind == qemu.PointActive && nextOpts == nil {
		f.noID = func(error) string {
			return fmt.Sprintf("the active state of %s is still written, so it names no point to store; for a backup, list with --next bitmap (with the VM shut down), which makes the point first and prints its change ID", image)
		}
	}
	return runChanges(ctx, stdout, stderr, disk, sinceID, f)
}

// bitmapGranularity returns the granularity of the bitmap the --since point
// names (a name, or a name with a guard "NAME#..." a change ID carries); 0
// when the image has no such bitmap (the listing then says so).
func bitmapGranularity(im *qemu.Image, name string) (int64, error) {
	bitmaps, err := im.Bitmaps()
	if err != nil {
		return 0, err
	}
	for _, b := range bitmaps {
		if b.Name == name {
			return b.Granularity, nil
		}
	}
	if i := strings.LastIndexByte(name, '#'); i > 0 {
		for _, b := range bitmaps {
			if b.Name == name[:i] {
				return b.Granularity, nil
			}
		}
	}
	return 0, nil
}

// qemuOpenFlags are the flags every qemu command takes to open an image.
type qemuOpenFlags struct {
	forceShare bool
	trust      bool // --trust-bare-name (changes only)
}

// options are the qemu.Options the flags ask for.
func (o *qemuOpenFlags) options() *qemu.Options {
	return &qemu.Options{ForceShare: o.forceShare, TrustUnguarded: o.trust}
}

func (o *qemuOpenFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&o.forceShare, "force-share", false, "open an image a running qemu holds (as qemu-img -U); only its snapshots can then be listed")
}

// open opens the image, sharing it with a running qemu when --force-share
// asks so. A path that is no file (a directory, a FIFO, a socket) is refused
// before it is opened.
func (o *qemuOpenFlags) open(path string) (*qemu.Image, error) {
	if err := checkArg(path, hostfile.Regular|hostfile.BlockDevice); err != nil {
		return nil, err
	}
	return qemu.OpenImage(path, o.options())
}

// qemuHintFor is the advice for errors that mean something particular for
// the qcow2 image IMAGE; "" leaves the generic advice.
func qemuHintFor(err error, image string) string {
	if errors.Is(err, cbt.ErrCorrupt) {
		return fmt.Sprintf("the image's metadata is malformed: check it with qemu-img check %s; copying the whole disk is the safe fallback", shellQuote(image))
	}
	return qemuHint(err)
}

// qemuHint is the advice for errors that mean something particular for
// qcow2 images; "" leaves the generic advice.
func qemuHint(err error) string {
	switch {
	case errors.Is(err, cbt.ErrBusy):
		return "the image is in use by a running qemu (it holds a lock on the file): shut the VM down, or for a running VM use libvirt checkpoints; with --force-share its snapshots can be read and listed (--since snapshot:A --at snapshot:B), nothing else"
	case errors.Is(err, cbt.ErrChangeIDInvalid) && !errors.Is(err, cbt.ErrNotFound):
		return "full backup required: the --since point is gone or cannot be a base (the message above says why; cbtctl qemu snapshots and bitmaps show them); take a full backup: run again with --full instead of --since, and store the printed change ID"
	case errors.Is(err, cbt.ErrNotFound):
		return "check the image path, and the snapshot or layer named (cbtctl qemu snapshots IMAGE, cbtctl qemu info IMAGE): it does not exist (anymore)"
	case errors.Is(err, cbt.ErrInvalidArgument):
		return "check --since and --at: the base must come before the point listed (an earlier snapshot, a layer below it, or a bitmap of the top image with --at active); cbtctl qemu info IMAGE shows them"
	case errors.Is(err, cbt.ErrCorrupt):
		return "the image's metadata is malformed: check it with qemu-img check IMAGE; copying the whole disk is the safe fallback"
	case errors.Is(err, cbt.ErrUnsupported):
		return "this image or chain cannot be read here (not qcow2 at the top, an unsupported feature, or a backing file reached by protocol): copy the whole disk instead"
	}
	return ""
}

// parseImageArgs parses args with fs, flags and the one IMAGE argument in
// any order ("--" ends the flags), as parseFlags does.
func parseImageArgs(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (image string, code int, ok bool) {
	return parseOneArg(fs, args, stdout, stderr, "IMAGE", "the path of a qcow2 image")
}

// parseOneArg parses args with fs, flags and one positional argument NAME
// (described by what) in any order ("--" ends the flags).
func parseOneArg(fs *flag.FlagSet, args []string, stdout, stderr io.Writer, name, what string) (arg string, code int, ok bool) {
	var pos []string
	for {
		if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
			return "", code, false
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			pos = append(pos, rest...) // everything after "--"
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	switch {
	case len(pos) == 0:
		return "", usageError(fs, stderr, "%s is required: %s", name, what), false
	case len(pos) > 1:
		return "", usageError(fs, stderr, "unexpected argument %q: one %s only", pos[1], name), false
	case strings.TrimSpace(pos[0]) == "":
		return "", usageError(fs, stderr, "%s is empty: %s", name, what), false
	}
	return pos[0], exitOK, true
}

// shellQuote quotes s for a command line a user copies, when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+:,=@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

const qemuPruneAbout = `Removes the bitmaps and internal snapshots that "cbtctl qemu changes --next"
made on IMAGE (names cbt-YYYYMMDDTHHMMSSZ-XXXXXXXX), but those the --keep
change IDs name: after a backup stored its change ID, --keep it, and the
previous point (and any a failed run left) goes. The image's other bitmaps
and snapshots are never touched. It runs qemu-img: the VM must be shut down.
Prints the names removed.`

// runQemuPrune is "cbtctl qemu prune".
func runQemuPrune(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("cbtctl qemu prune", "cbtctl qemu prune IMAGE --keep CHANGEID [--keep CHANGEID ...]", qemuPruneAbout)
	var keep keepFlag
	fs.Var(&keep, "keep", "keep the point `CHANGEID` names (the change ID the last backup stored); repeat for more")
	image, code, ok := parseImageArgs(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if len(keep) == 0 {
		return usageError(fs, stderr, "--keep CHANGEID is required: the change ID the last backup stored (prune keeps nothing else that --next made)")
	}
	if err := checkArg(image, hostfile.Regular|hostfile.BlockDevice); err != nil {
		return reportErrorHint(ctx, stderr, fs.Name(), err, "", qemuHint)
	}
	removed, err := qemu.PrunePoints(ctx, image, keep, nil, nil)
	for _, n := range removed {
		fmt.Fprintln(stdout, "removed", n)
	}
	if err != nil {
		return reportErrorHint(ctx, stderr, fs.Name(), err, "", qemuHint)
	}
	return exitOK
}

// keepFlag collects the change IDs of --keep.
type keepFlag []cbt.ChangeID

func (k *keepFlag) String() string { return fmt.Sprint([]cbt.ChangeID(*k)) }

func (k *keepFlag) Set(v string) error {
	id, err := cbt.ParseChangeID(v)
	if err != nil || id.Scheme() != qemu.Scheme {
		return fmt.Errorf("want a change ID qcow2:... that a listing printed")
	}
	*k = append(*k, id)
	return nil
}
