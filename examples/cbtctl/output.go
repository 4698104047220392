package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/changedblocks/sdk/cbt"
)

// runChanges is the body of every platform's changes subcommand: it lists
// what changed on disk since the given change ID (zero: everything
// allocated, --full) and writes it to stdout in the format the flags ask
// for, with a progress bar on stderr when asked for, and returns the exit
// status. On an error it writes the error and what to do next to stderr. It
// does not close disk.
func runChanges(ctx context.Context, stdout, stderr io.Writer, disk *cbt.Disk, since cbt.ChangeID, f changesFlags) int {
	if c := disk.Capacity(); f.start > c {
		return usageLine(stderr, f.cmd, fmt.Sprintf("--start %s: beyond the end of the disk: want 0 to its capacity, %d (%s)", formatSize(f.start), c, humanBytes(c)))
	}
	var bar *progressBar
	if f.progress.enabled(stdout, stderr) {
		bar = newProgressBar(stderr)
	}
	h := newHeader(disk, since, f)
	res, err := listChanges(ctx, newChangesWriter(stdout, f.format, ""), disk, h, since, f.options(), bar)
	if err != nil {
		return reportErrorHint(ctx, stderr, f.cmd, err, res.written.resume(f), f.hint)
	}
	return exitOK
}

// newHeader returns what a listing of disk since since with the flags f
// starts with: the change ID to store, or why there is none.
func newHeader(disk *cbt.Disk, since cbt.ChangeID, f changesFlags) header {
	h := header{
		capacity:    disk.Capacity(),
		granularity: disk.Granularity(),
		full:        since.IsZero(),
	}
	if f.granularity > 0 {
		h.granularity = f.granularity
	}
	id, err := disk.ChangeID()
	switch {
	case partial(f.options(), h.capacity):
		h.noChangeID = "a partial listing (--start, --length) reaches no point; store the change ID of a whole listing"
	case err != nil:
		h.noChangeID = noChangeIDReason(err, f.noID)
	case id.IsZero():
		h.noChangeID = "the platform names no point for this disk" // a driver bug: never store ""
	default:
		h.changeID = id
	}
	return h
}

// partial reports whether opts list less than the whole disk.
func partial(opts *cbt.ChangesOptions, capacity int64) bool {
	return opts.StartOffset > 0 || (opts.Length > 0 && opts.Length < capacity-opts.StartOffset)
}

// noChangeIDReason says, in the command line's words, why the point listed
// hands out no change ID; err is what cbt.Disk.ChangeID returned.
func noChangeIDReason(err error, platform func(error) string) string {
	if platform != nil {
		if s := platform(err); s != "" {
			return cliWords(s)
		}
	}
	why := err.Error()
	// cbt says "...(a backup taken from it stores no change ID): WHY".
	if _, after, ok := strings.Cut(why, "stores no change ID): "); ok && after != "" {
		why = after
	}
	return cliWords(why)
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

// listResult is what listChanges reports: the extents listed, and those of
// them known to have reached the output (written to the file or pipe below
// without an error), a prefix of the first. Only the second may name where
// to resume: an extent still in a buffer when a write failed never reached
// the output.
type listResult struct {
	listed, written listing
}

// listChanges streams disk.Changes into w, extent by extent, drawing bar when
// it is not nil; h is what the output starts with. An error ends the output
// properly (the JSON object stays valid) and is returned; so is an error
// writing the output.
func listChanges(ctx context.Context, w changesWriter, disk *cbt.Disk, h header, since cbt.ChangeID, opts *cbt.ChangesOptions, bar *progressBar) (listResult, error) {
	var res listResult
	if err := w.begin(h); err != nil {
		bar.finish(false)
		return res, writeError(err)
	}
	var o cbt.ChangesOptions
	if opts != nil {
		o = *opts
	}
	if bar != nil {
		o.Progress = bar.update
	}
	l := &res.listed
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
	bar.finish(err == nil)
	if werr := w.end(*l, err); werr != nil && err == nil {
		err = writeError(werr)
	}
	res.written = w.written()
	return res, err
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
	noChangeID            string       // when changeID is zero: why there is none
	full                  bool         // since is zero: the extents are what is allocated
}

// changesWriter writes one listing: begin, then each extent as it comes,
// then end, with the error that stopped the listing if one did. It buffers
// and flushes in end. written says which of the extents are known to have
// reached the writer below: those whose last byte it accepted.
type changesWriter interface {
	begin(h header) error
	extent(e cbt.Extent) error
	end(l listing, err error) error
	written() listing
}

// newChangesWriter returns the writer for the format. prefix starts every
// line of text output (the demo indents its listings); JSON ignores it.
func newChangesWriter(w io.Writer, format formatValue, prefix string) changesWriter {
	t := &outTracker{cw: &countWriter{w: w}}
	b := bufio.NewWriter(t.cw)
	if format.json() {
		return &jsonWriter{w: b, t: t}
	}
	return &textWriter{w: b, t: t, prefix: prefix}
}

// countWriter counts the bytes the writer below accepted.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(max(n, 0))
	return n, err
}

// outTracker follows which extents reached the output: each extent's
// record ends at a byte position of the output stream, and the extent has
// reached the output once the writer below accepted that byte. The extents
// not known written yet are at most a buffer's worth.
type outTracker struct {
	cw      *countWriter
	pos     int64 // bytes handed to the buffer
	pending []mark
	done    listing // the extents known written
}

// mark is an extent whose record ends at pos.
type mark struct {
	pos int64
	e   cbt.Extent
}

// wrote records that n bytes went into the buffer, the record of e ending
// with them when e is not nil.
func (t *outTracker) wrote(n int, e *cbt.Extent) {
	t.pos += int64(n)
	if e != nil {
		t.pending = append(t.pending, mark{t.pos, *e})
	}
	t.settle()
}

// settle moves the extents the writer below accepted to done.
func (t *outTracker) settle() {
	i := 0
	for i < len(t.pending) && t.pending[i].pos <= t.cw.n {
		e := t.pending[i].e
		t.done.extents++
		t.done.bytes += e.Length
		t.done.end = e.End()
		i++
	}
	if i > 0 {
		t.pending = append(t.pending[:0], t.pending[i:]...)
	}
}

func (t *outTracker) written() listing {
	t.settle()
	return t.done
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
	t   *outTracker
	buf []byte
	n   int64
}

func (j *jsonWriter) written() listing { return j.t.written() }

func (j *jsonWriter) begin(h header) error {
	b := append(j.buf[:0], `{"capacity":`...)
	b = strconv.AppendInt(b, h.capacity, 10)
	b = append(b, `,"granularity":`...)
	b = strconv.AppendInt(b, h.granularity, 10)
	b = append(b, `,"changeId":`...)
	if h.changeID.IsZero() {
		b = append(b, `null,"noChangeId":`...)
		b = appendJSONString(b, h.noChangeID)
	} else {
		b = appendJSONString(b, h.changeID.String())
	}
	b = append(b, `,"extents":[`...)
	j.buf = b
	n, err := j.w.Write(b)
	j.t.wrote(n, nil)
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
	n, err := j.w.Write(b)
	if err != nil {
		return err
	}
	j.t.wrote(n, &e)
	return nil
}

func (j *jsonWriter) end(_ listing, lerr error) error {
	b := append(j.buf[:0], ']')
	if lerr != nil {
		b = append(b, `,"error":`...)
		b = appendJSONString(b, cliWords(lerr.Error()))
	}
	b = append(b, "}\n"...)
	if _, err := j.w.Write(b); err != nil {
		return err
	}
	err := j.w.Flush()
	j.t.settle()
	return err
}

func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

// textWriter writes aligned columns as nbdinfo --map does (offset, length,
// description), then a summary line starting with "#".
type textWriter struct {
	w         *bufio.Writer
	t         *outTracker
	buf       []byte
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

func (t *textWriter) written() listing { return t.t.written() }

func (t *textWriter) extent(e cbt.Extent) error {
	t.buf = fmt.Appendf(t.buf[:0], "%s%*d  %*d    %s\n", t.prefix, t.offW, e.Offset, t.lnW, e.Length, t.what)
	n, err := t.w.Write(t.buf)
	if err != nil {
		return err
	}
	t.t.wrote(n, &e)
	return nil
}

func (t *textWriter) end(l listing, lerr error) error {
	if lerr != nil {
		fmt.Fprintf(t.w, "%s# incomplete: %s listed before an error; store no change ID\n", t.prefix, plural(l.extents, "extent"))
	} else {
		pct := 0.0
		if t.h.capacity > 0 {
			pct = 100 * float64(l.bytes) / float64(t.h.capacity)
		}
		store := "no change ID to store (see below)"
		if !t.h.changeID.IsZero() {
			store = "change ID to store: " + t.h.changeID.String()
		}
		fmt.Fprintf(t.w, "%s# %s, %d bytes %s (%s, %.2f%% of %s, in %s granules); %s\n", t.prefix,
			plural(l.extents, "extent"), l.bytes, t.what, humanBytes(l.bytes), pct, humanBytes(t.h.capacity), humanBytes(t.h.granularity), store)
		if t.h.changeID.IsZero() {
			fmt.Fprintf(t.w, "%s# no change ID to store: %s\n", t.prefix, t.h.noChangeID)
		}
	}
	err := t.w.Flush()
	t.t.settle()
	return err
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
