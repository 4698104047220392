package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/changedblocks/sdk/backup"
	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/internal/hostfile"
	"github.com/changedblocks/sdk/qemu"
)

const qemuBackupAbout = `Writes a backup of the qcow2 image IMAGE at a point into a new qcow2 file
--out that qemu-img restores: with --full, a standalone file of everything
allocated; with --since CHANGEID, an overlay of what changed since that
point, whose backing file is --backing, the previous backup of the chain
(its manifest, --backing's path + ".json", must say it holds that point).
A manifest FILE.json is written beside --out; it and the output print the
change ID to store for the next incremental.

The point is --at (as for "cbtctl qemu changes"), or, for a backup flow,
--next bitmap (a new persistent bitmap under a unique name, made before the
copy with qemu-img, the VM shut down) or --next snapshot. Restore with
	qemu-img convert -O raw NEWEST.qcow2 disk.raw
and check a backup with "cbtctl qemu verify".

Exit status 3 (full backup required): the --since point is gone or cannot
be trusted; take a --full backup.`

// runQemuBackup is "cbtctl qemu backup".
func runQemuBackup(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("cbtctl qemu backup",
		"cbtctl qemu backup IMAGE (--since CHANGEID --backing PREV.qcow2 | --full) --out FILE.qcow2 [--at POINT | --next bitmap|snapshot] [flags]", qemuBackupAbout)
	at := fs.String("at", "active", "back up the image at `POINT`: active, snapshot:NAME_OR_ID or layer:PATH")
	next := fs.String("next", "", "make the point this backup reaches first, `KIND` bitmap or snapshot, under a unique name, and back up at it")
	var b backupFlags
	b.register(fs)
	trust := fs.Bool("trust-bare-name", false, "accept a bare snapshot:NAME, bitmap:NAME or layer:PATH as --since")
	var o qemuOpenFlags
	o.register(fs)
	var f changesFlags
	f.registerOutput(fs)
	f.registerBase(fs, "back up what changed since `CHANGEID` (a change ID qcow2:... a backup printed)")
	image, code, ok := parseImageArgs(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	hint := func(err error) string { return qemuHintFor(err, image) }
	if msg := f.checkBase("CHANGEID (a change ID qcow2:... a backup printed)"); msg != "" {
		return usageError(fs, stderr, "%s", msg)
	}
	if msg := b.check(f); msg != "" {
		return usageError(fs, stderr, "%s", msg)
	}
	var since cbt.ChangeID
	if f.since.set {
		_, id, err := qemuPoint("--since", f.since.s)
		if err != nil {
			return usageError(fs, stderr, "%v", err)
		}
		since = id
	}
	o.trust = *trust
	disk, code, ok := openQemuPoint(ctx, fs, stderr, image, *at, *next, &o, hint)
	if !ok {
		return code
	}
	code = runBackup(ctx, stdout, stderr, fs.Name(), disk, since, &b, f, hint)
	made, _ := disk.ChangeID()
	if err := disk.Close(); err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", fs.Name(), cliWords(err.Error()))
	}
	if code != exitOK && *next != "" && !made.IsZero() {
		dropMadePoint(stderr, fs.Name(), image, made, &o)
	}
	return code
}

// dropMadePoint removes the point --next made for a backup that failed: the
// listing reached it (so closing the disk kept it), but no backup holds it
// and nobody stores its change ID. It runs on a fresh, bounded context, as
// the command's may be cancelled; a point that is gone already is fine.
func dropMadePoint(stderr io.Writer, cmd, image string, made cbt.ChangeID, o *qemuOpenFlags) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := qemu.DropPoint(ctx, image, made, nil, o.options())
	if err == nil || errors.Is(err, cbt.ErrNotFound) {
		return
	}
	fmt.Fprintf(stderr, "%s: the point made for this backup (%s) could not be removed: %s; remove it with: cbtctl qemu prune %s --keep CHANGEID (the change ID the last good backup printed)\n",
		cmd, made, cliWords(err.Error()), image)
}

// openQemuPoint opens IMAGE at --at, or at a point --next makes.
func openQemuPoint(ctx context.Context, fs *flag.FlagSet, stderr io.Writer, image, at, next string, o *qemuOpenFlags, hint func(error) string) (*cbt.Disk, int, bool) {
	atPoint, _, err := qemuPoint("--at", at)
	if err != nil {
		return nil, usageError(fs, stderr, "%v", err), false
	}
	if atPoint.Kind == qemu.PointBitmap {
		return nil, usageError(fs, stderr, "--at %s: a bitmap is a base only", at), false
	}
	if err := checkArg(image, hostfile.Regular|hostfile.BlockDevice); err != nil {
		return nil, reportErrorHint(ctx, stderr, fs.Name(), err, "", hint), false
	}
	var disk *cbt.Disk
	switch next {
	case "":
		disk, err = qemu.Open(image, atPoint, o.options())
	case "bitmap", "snapshot":
		if atPoint.Kind != qemu.PointActive {
			return nil, usageError(fs, stderr, "--next %s backs up at the point it makes: leave --at out", next), false
		}
		disk, err = qemu.OpenNext(ctx, image, &qemu.NextOptions{Snapshot: next == "snapshot"}, o.options())
	default:
		return nil, usageError(fs, stderr, "--next %q: want bitmap or snapshot", next), false
	}
	if err != nil {
		return nil, reportErrorHint(ctx, stderr, fs.Name(), err, "", hint), false
	}
	return disk, exitOK, true
}

// printManifest prints what a backup wrote: the manifest as JSON, or a
// few lines of text with the change ID to store.
func printManifest(stdout, stderr io.Writer, cmd, out string, m *backup.Manifest, asJSON bool) int {
	if asJSON {
		b, err := json.MarshalIndent(m, "", "  ")
		if err == nil {
			_, err = fmt.Fprintf(stdout, "%s\n", b)
		}
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
			return exitError
		}
		return exitOK
	}
	kind := "full backup"
	if m.Backing != "" {
		kind = "incremental on " + m.Backing
	}
	fmt.Fprintf(stdout, "%s: %s, %s copied (%s as zeros) in %s\n", out, kind, formatSize(m.Bytes), formatSize(m.ZeroBytes), plural(int64(len(m.Extents)), "extent"))
	if m.ChangeID != "" {
		fmt.Fprintf(stdout, "change ID to store: %s\n", m.ChangeID)
	} else {
		fmt.Fprintf(stdout, "no change ID: %s\n", cliWords(m.NoChangeID))
	}
	return exitOK
}

const qemuVerifyAbout = `Compares a backup with the image it was taken from: reads the newest file
of the backup chain --backup (through its backing files) and IMAGE at the
point --at, and reports the first byte that differs. The point must be the
one the backup was taken at: a later one differs where the image was
written since.

Exit status 0: identical; 1: they differ, or an error.`

// runQemuVerify is "cbtctl qemu verify".
func runQemuVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("cbtctl qemu verify", "cbtctl qemu verify IMAGE --backup FILE.qcow2 [--at POINT] [flags]", qemuVerifyAbout)
	at := fs.String("at", "active", "compare with the image at `POINT`: active, snapshot:NAME_OR_ID or layer:PATH")
	bk := fs.String("backup", "", "the newest `FILE` of the backup chain")
	var o qemuOpenFlags
	o.register(fs)
	image, code, ok := parseImageArgs(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if *bk == "" {
		return usageError(fs, stderr, "--backup FILE.qcow2 is required")
	}
	hint := func(err error) string { return qemuHintFor(err, image) }
	src, code, ok := openQemuPoint(ctx, fs, stderr, image, *at, "", &o, hint)
	if !ok {
		return code
	}
	defer src.Close()
	if err := checkArg(*bk, hostfile.Regular|hostfile.BlockDevice); err != nil {
		return reportErrorHint(ctx, stderr, fs.Name(), err, "", hint)
	}
	b, err := qemu.OpenActive(*bk, nil)
	if err != nil {
		return reportErrorHint(ctx, stderr, fs.Name(), err, "", hint)
	}
	defer b.Close()
	off, err := firstDifference(ctx, src, b)
	if err != nil {
		return reportErrorHint(ctx, stderr, fs.Name(), err, "", hint)
	}
	if off >= 0 {
		fmt.Fprintf(stdout, "%s and %s differ: first at byte %d\n", image, *bk, off)
		return exitError
	}
	fmt.Fprintf(stdout, "%s at %s and %s are identical (%s)\n", image, *at, *bk, formatSize(src.Capacity()))
	return exitOK
}

// firstDifference compares two disks (the second may be longer, by the
// rounding of a backup file's size, and must read zeros there) and returns
// the first offset where they differ, -1 for none.
func firstDifference(ctx context.Context, a, b *cbt.Disk) (int64, error) {
	if b.Capacity() < a.Capacity() {
		return min(a.Capacity(), b.Capacity()), nil
	}
	const step = 4 << 20
	pa, pb := make([]byte, step), make([]byte, step)
	for off := int64(0); off < b.Capacity(); off += step {
		n := min(step, b.Capacity()-off)
		if _, err := b.ReadAt(ctx, pb[:n], off); err != nil {
			return 0, err
		}
		clear(pa[:n])
		if off < a.Capacity() {
			if _, err := a.ReadAt(ctx, pa[:min(n, a.Capacity()-off)], off); err != nil {
				return 0, err
			}
		}
		if !bytes.Equal(pa[:n], pb[:n]) {
			for i := range n {
				if pa[i] != pb[i] {
					return off + i, nil
				}
			}
		}
	}
	return -1, nil
}
