package main

import (
	"bufio"
	"context"
	"errors"
	"io"

	"github.com/changedblocks/sdk/qemu"
)

// qemuView is what "cbtctl qemu info", "snapshots" and "bitmaps" show: it
// reads what it needs from the image and writes it as text or JSON, entry by
// entry as it reads the tables. It returns the first error, reading the image
// or writing out (an *outputError); it checks ctx between entries.
type qemuView func(ctx context.Context, im *qemu.Image, w *viewOut, asJSON bool) error

const qemuFormatAbout = `

--format json prints one JSON object (info) or array (snapshots, bitmaps) on
one line; its members are listed in "go doc ./examples/cbtctl".

The tables are read and printed entry by entry, never held whole: memory
stays under 80 MiB whatever the image (a table of 65,536 snapshots with
1 KiB names, say). Text tables align their columns in batches of up to 1,000 rows.
An error in the middle of a table ends the output after the entries before
it (the JSON then unterminated) and is reported on stderr with its exit
status.`

// runQemuInfo is "cbtctl qemu info".
func runQemuInfo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runQemuView(ctx, args, stdout, stderr, "info",
		`Describes the qcow2 image IMAGE as "qemu-img info" does: its header, its
internal snapshots, its persistent dirty bitmaps, and its backing chain.`+qemuFormatAbout,
		func(ctx context.Context, im *qemu.Image, w *viewOut, asJSON bool) error {
			if asJSON {
				return writeInfoJSON(ctx, w, im)
			}
			return writeInfoText(ctx, w, im)
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
		func(ctx context.Context, im *qemu.Image, w *viewOut, asJSON bool) error {
			if asJSON {
				return writeSnapshotsJSON(ctx, w, im)
			}
			n, err := writeSnapshotsText(ctx, w, im)
			if err != nil || n == 0 {
				return err
			}
			return writeSnapshotIDsText(ctx, w, im)
		})
}

// runQemuBitmaps is "cbtctl qemu bitmaps".
func runQemuBitmaps(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runQemuView(ctx, args, stdout, stderr, "bitmaps",
		`Lists the persistent dirty bitmaps of the qcow2 image IMAGE: name,
granularity, flags as "qemu-img info" names them (in-use, auto), and whether
"cbtctl qemu changes --since bitmap:NAME" can start from it, or why not.`+qemuFormatAbout,
		func(ctx context.Context, im *qemu.Image, w *viewOut, asJSON bool) error {
			if asJSON {
				return writeBitmapsJSON(ctx, w, im)
			}
			t := newTable(w, "NAME\tGRANULARITY\tFLAGS\tBASE")
			return writeBitmapsText(ctx, t, im, nil)
		})
}

// runQemuView parses "cbtctl qemu NAME IMAGE [--format] [--force-share]",
// opens the image and writes what view shows to stdout, buffered. An error
// in the middle ends the output after what was written (its line ended)
// and is reported.
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
	w := &viewOut{b: bufio.NewWriter(stdout)}
	err = view(ctx, im, w, format.json())
	if err == nil {
		err = w.flush()
	} else if !errors.As(err, new(*outputError)) {
		w.endLine()
		if ferr := w.flush(); ferr != nil {
			err = errors.Join(err, ferr)
		}
	}
	if err != nil {
		return reportErrorHint(ctx, stderr, fs.Name(), err, "", hint)
	}
	return exitOK
}

// viewOut is the buffered output of a view. It keeps the first error
// writing out (an *outputError) and writes nothing after it.
type viewOut struct {
	b   *bufio.Writer
	err error
	mid bool // the last byte written ends no line
}

func (o *viewOut) Write(p []byte) (int, error) {
	if o.err != nil {
		return 0, o.err
	}
	n, err := o.b.Write(p)
	if n > 0 {
		o.mid = p[n-1] != '\n'
	}
	if err != nil {
		o.err = writeError(err)
		return n, o.err
	}
	return n, nil
}

// endLine ends the line written last, if it is not ended.
func (o *viewOut) endLine() {
	if o.mid {
		_, _ = o.Write([]byte{'\n'})
	}
}

// flush writes out what the buffer holds: the first error writing out, if
// any.
func (o *viewOut) flush() error {
	if o.err != nil {
		return o.err
	}
	if err := o.b.Flush(); err != nil {
		o.err = writeError(err)
	}
	return o.err
}
