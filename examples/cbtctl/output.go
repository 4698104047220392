package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/changedblocks/sdk/cbt"
)

// runChanges is the body of every platform's changes subcommand: it lists
// what changed on disk since the given change ID (zero: everything
// allocated) and writes it to stdout in the format the flags ask for, with a
// progress bar on stderr when asked for, and returns the exit status. On an
// error it writes the error and what to do next to stderr. It does not close
// disk.
func runChanges(ctx context.Context, stdout, stderr io.Writer, disk *cbt.Disk, since cbt.ChangeID, f changesFlags) int {
	var bar *progressBar
	if f.progress.enabled(stdout, stderr) {
		bar = newProgressBar(stderr)
	}
	res, err := listChanges(ctx, newChangesWriter(stdout, f.format, ""), disk, since, f.options(), bar)
	if err != nil {
		return reportErrorHint(ctx, stderr, f.cmd, err, res.resume(f), f.hint)
	}
	return exitOK
}

// listing is what listChanges reports about the extents it wrote.
type listing struct {
	extents int64 // how many
	bytes   int64 // their total length
	end     int64 // the end of the last one; 0 before the first
}

// resume returns the flags that continue an interrupted listing after the
// last extent received, or "" when nothing was received.
func (l listing) resume(f changesFlags) string {
	if l.extents == 0 {
		return ""
	}
	s := "--start " + strconv.FormatInt(l.end, 10)
	if f.length > 0 {
		s += " --length " + strconv.FormatInt(max(f.start+f.length-l.end, 0), 10)
	}
	return s
}

// listChanges streams disk.Changes into w, extent by extent, drawing bar when
// it is not nil. An error ends the output properly (the JSON object stays
// valid) and is returned; so is an error writing the output.
func listChanges(ctx context.Context, w changesWriter, disk *cbt.Disk, since cbt.ChangeID, opts *cbt.ChangesOptions, bar *progressBar) (listing, error) {
	var l listing
	id, _ := disk.ChangeID() // zero when the point can be no base: the output says so
	h := header{
		capacity:    disk.Capacity(),
		granularity: disk.Granularity(),
		changeID:    id,
		full:        since.IsZero(),
	}
	if err := w.begin(h); err != nil {
		return l, writeError(err)
	}
	var o cbt.ChangesOptions
	if opts != nil {
		o = *opts
	}
	if bar != nil {
		o.Progress = bar.update
	}
	var err error
	for e, lerr := range disk.Changes(ctx, since, &o) {
		if lerr != nil {
			err = interrupted(ctx, lerr)
			break
		}
		if werr := w.extent(e); werr != nil {
			err = writeError(werr)
			break
		}
		l.extents++
		l.bytes += e.Length
		l.end = e.End()
	}
	bar.finish()
	if werr := w.end(l, err); werr != nil && err == nil {
		err = writeError(werr)
	}
	return l, err
}

// outputError is a failure to write the listing.
type outputError struct{ err error }

func (e *outputError) Error() string { return "writing the output: " + e.err.Error() }
func (e *outputError) Unwrap() error { return e.err }

func writeError(err error) error { return &outputError{err} }

// header holds what a listing's output starts with.
type header struct {
	capacity, granularity int64
	changeID              cbt.ChangeID // the point the listing reaches: what to store
	full                  bool         // since is zero: the extents are what is allocated
}

// changesWriter writes one listing: begin, then each extent as it comes,
// then end, with the error that stopped the listing if one did. It buffers
// and flushes in end.
type changesWriter interface {
	begin(h header) error
	extent(e cbt.Extent) error
	end(l listing, err error) error
}

// newChangesWriter returns the writer for the format. prefix starts every
// line of text output (the demo indents its listings); JSON ignores it.
func newChangesWriter(w io.Writer, format formatValue, prefix string) changesWriter {
	b := bufio.NewWriter(w)
	if format.json() {
		return &jsonWriter{w: b}
	}
	return &textWriter{w: b, prefix: prefix}
}

// jsonWriter writes one JSON object on one line:
//
//	{"capacity":N,"granularity":N,"changeId":"scheme:value","extents":[{"offset":N,"length":N},...]}
//
// streaming the extents as they come. When the listing fails after begin, the
// array and the object are closed all the same, with an "error" member
// holding the message: the output stays one valid JSON object, its extents
// are correct, and its changeId must not be stored.
type jsonWriter struct {
	w   *bufio.Writer
	buf []byte
	n   int64
}

func (j *jsonWriter) begin(h header) error {
	b := append(j.buf[:0], `{"capacity":`...)
	b = strconv.AppendInt(b, h.capacity, 10)
	b = append(b, `,"granularity":`...)
	b = strconv.AppendInt(b, h.granularity, 10)
	b = append(b, `,"changeId":`...)
	b = appendJSONString(b, h.changeID.String())
	b = append(b, `,"extents":[`...)
	j.buf = b
	_, err := j.w.Write(b)
	return err
}

func (j *jsonWriter) extent(e cbt.Extent) error {
	b := j.buf[:0]
	if j.n > 0 {
		b = append(b, ',')
	}
	j.n++
	b = append(b, `{"offset":`...)
	b = strconv.AppendInt(b, e.Offset, 10)
	b = append(b, `,"length":`...)
	b = strconv.AppendInt(b, e.Length, 10)
	b = append(b, '}')
	j.buf = b
	_, err := j.w.Write(b)
	return err
}

func (j *jsonWriter) end(_ listing, lerr error) error {
	b := append(j.buf[:0], ']')
	if lerr != nil {
		b = append(b, `,"error":`...)
		b = appendJSONString(b, lerr.Error())
	}
	b = append(b, "}\n"...)
	if _, err := j.w.Write(b); err != nil {
		return err
	}
	return j.w.Flush()
}

func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

// textWriter writes aligned columns as nbdinfo --map does (offset, length,
// description), then a summary line starting with "#".
type textWriter struct {
	w         *bufio.Writer
	prefix    string
	h         header
	offW, lnW int
	what      string
}

func (t *textWriter) begin(h header) error {
	t.h = h
	// Columns wide enough for any offset on the disk, so that streamed lines
	// line up without knowing them in advance.
	d := len(strconv.FormatInt(h.capacity, 10))
	t.offW, t.lnW = max(10, d), max(10, d)
	t.what = "changed"
	if h.full {
		t.what = "allocated"
	}
	return nil
}

func (t *textWriter) extent(e cbt.Extent) error {
	_, err := fmt.Fprintf(t.w, "%s%*d  %*d    %s\n", t.prefix, t.offW, e.Offset, t.lnW, e.Length, t.what)
	return err
}

func (t *textWriter) end(l listing, lerr error) error {
	if lerr != nil {
		fmt.Fprintf(t.w, "%s# incomplete: %s listed before an error; store no change ID\n", t.prefix, plural(l.extents, "extent"))
	} else {
		pct := 0.0
		if t.h.capacity > 0 {
			pct = 100 * float64(l.bytes) / float64(t.h.capacity)
		}
		store := "no change ID (this point cannot be the base of an incremental)"
		if !t.h.changeID.IsZero() {
			store = "change ID to store: " + t.h.changeID.String()
		}
		fmt.Fprintf(t.w, "%s# %s, %d bytes %s (%s, %.2f%% of %s); %s\n", t.prefix,
			plural(l.extents, "extent"), l.bytes, t.what, humanBytes(l.bytes), pct, humanBytes(t.h.capacity), store)
	}
	return t.w.Flush()
}

func plural(n int64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.FormatInt(n, 10) + " " + what + "s"
}

// humanBytes formats n in binary units: "512 B", "64 KiB", "1.5 GiB".
func humanBytes(n int64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	v, i := float64(n)/1024, 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	s := strconv.FormatFloat(v, 'f', 1, 64)
	if v == float64(int64(v)) {
		s = strconv.FormatInt(int64(v), 10)
	}
	return s + " " + units[i:i+1] + "iB"
}
