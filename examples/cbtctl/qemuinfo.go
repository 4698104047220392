package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"

	"github.com/changedblocks/sdk/qemu"
)

// qemuView is what "cbtctl qemu info", "snapshots" and "bitmaps" show: it
// reads what it needs from the image and writes it as text or JSON.
type qemuView func(im *qemu.Image, w *bufio.Writer, asJSON bool) error

const qemuFormatAbout = `
--format json prints one JSON object (info) or array (snapshots, bitmaps) on
one line; its members are listed in "go doc ./examples/cbtctl".`

// runQemuInfo is "cbtctl qemu info".
func runQemuInfo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runQemuView(ctx, args, stdout, stderr, "info",
		`Describes the qcow2 image IMAGE as "qemu-img info" does: its header, its
internal snapshots, its persistent dirty bitmaps, and its backing chain.`+qemuFormatAbout,
		func(im *qemu.Image, w *bufio.Writer, asJSON bool) error {
			snaps, err := im.Snapshots()
			if err != nil {
				return err
			}
			bitmaps, err := im.Bitmaps()
			if err != nil {
				return err
			}
			info := im.Info()
			if asJSON {
				return writeJSON(w, newInfoJSON(info, snaps, bitmaps))
			}
			writeInfoText(w, info, snaps, bitmaps)
			return nil
		})
}

// runQemuSnapshots is "cbtctl qemu snapshots".
func runQemuSnapshots(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runQemuView(ctx, args, stdout, stderr, "snapshots",
		`Lists the internal snapshots of the qcow2 image IMAGE, in table order, as
"qemu-img snapshot -l" does (dates in local time). Pass one to "cbtctl qemu
changes" as snapshot:NAME or snapshot:ID. After the table, each snapshot's
change ID (the JSON "changeId" member): it names that snapshot and no later
one made under the same name; store it with a backup taken at the snapshot.`+qemuFormatAbout,
		func(im *qemu.Image, w *bufio.Writer, asJSON bool) error {
			snaps, err := im.Snapshots()
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(w, newSnapshotsJSON(snaps))
			}
			writeSnapshotsText(w, snaps)
			writeSnapshotIDsText(w, snaps)
			return nil
		})
}

// runQemuBitmaps is "cbtctl qemu bitmaps".
func runQemuBitmaps(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runQemuView(ctx, args, stdout, stderr, "bitmaps",
		`Lists the persistent dirty bitmaps of the qcow2 image IMAGE: name,
granularity, flags as "qemu-img info" names them (in-use, auto), and whether
"cbtctl qemu changes --since bitmap:NAME" can start from it, or why not.`+qemuFormatAbout,
		func(im *qemu.Image, w *bufio.Writer, asJSON bool) error {
			bitmaps, err := im.Bitmaps()
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(w, newBitmapsJSON(bitmaps))
			}
			writeBitmapsText(w, bitmaps)
			return nil
		})
}

// runQemuView parses "cbtctl qemu NAME IMAGE [--format] [--force-share]",
// opens the image and writes what view shows to stdout.
func runQemuView(ctx context.Context, args []string, stdout, stderr io.Writer, name, about string, view qemuView) int {
	fs := newFlagSet("cbtctl qemu "+name, "cbtctl qemu "+name+" IMAGE [--format text|json] [--force-share]", about)
	var format formatValue
	fs.Var(&format, "format", "output `FORMAT`: text (as qemu-img shows it) or json (one line)")
	var o qemuOpenFlags
	o.register(fs)
	image, code, ok := parseImageArgs(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	hint := func(err error) string { return qemuHintFor(err, image) }
	im, err := o.open(image)
	if err != nil {
		return reportErrorHint(ctx, stderr, fs.Name(), err, "", hint)
	}
	defer im.Close()
	w := bufio.NewWriter(stdout)
	if err := view(im, w, format.json()); err != nil {
		return reportErrorHint(ctx, stderr, fs.Name(), err, "", hint)
	}
	if err := w.Flush(); err != nil {
		return reportError(ctx, stderr, fs.Name(), writeError(err), "")
	}
	return exitOK
}

// writeJSON writes v as one line of JSON.
func writeJSON(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}
