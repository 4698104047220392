package cbt

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"

	"github.com/changedblocks/sdk/cbt/driver"
	"github.com/changedblocks/sdk/extent"
)

// Changes lists the areas of the disk that changed since the point in time
// named by since, up to the disk's own point in time (ChangeID). A zero since
// lists every allocated area: what a full backup must copy.
//
// The sequence yields extents in ascending order, never overlapping, never
// adjacent, never empty, inside [0, Capacity) and inside the range the options
// ask for. It may report unchanged bytes (at most to the platform's
// granularity, the alignment and the coalescing gap); it never leaves a changed
// byte out. An error is yielded once, with a zero Extent, and ends the
// sequence; an extent yielded before an error is correct, so a caller may keep
// what it copied and resume at the last extent's end.
//
// Errors: ErrChangeIDInvalid (stale, reset or unknown base: take a full
// backup), ErrInvalidArgument (bad options, or a change ID of another scheme),
// ErrNotEnabled, ErrNotFound, ErrUnsupported, ErrBusy and ErrCorrupt from the
// platform, ErrCorrupt when the platform's answer breaks the driver contract,
// ErrClosed after Close; all wrapped in an *Error. A cancelled or expired ctx
// ends the sequence with ctx.Err() itself.
//
// Each call of the returned sequence runs the listing anew. Breaking out of
// the loop stops it; nothing is left behind.
func (d *Disk) Changes(ctx context.Context, since ChangeID, opts *ChangesOptions) iter.Seq2[Extent, error] {
	return func(yield func(Extent, error) bool) {
		if err := d.changes(ctx, since, opts, false, yield); err != nil {
			yield(Extent{}, err)
		}
	}
}

// Zeros lists the areas of the disk that read as zeros at its point, as far
// as the platform knows without reading data: qcow2 zero clusters, areas
// nothing in a backing chain maps, holes of a raw file. An area listed reads
// as zeros; one not listed may too. A platform that cannot tell lists
// nothing, without an error. A copy engine writes zeros (or nothing, into a
// new sparse file) where a listing of changes and this one overlap, instead
// of reading there: package copier does.
//
// The sequence has the shape of Changes'. Options: StartOffset and Length as
// for Changes; Alignment and CoalesceGap are refused (ErrInvalidArgument):
// widening a zero area would call bytes zeros that are not. Errors: those of
// Changes.
func (d *Disk) Zeros(ctx context.Context, opts *ChangesOptions) iter.Seq2[Extent, error] {
	return func(yield func(Extent, error) bool) {
		if opts != nil && (opts.Alignment > 1 || opts.CoalesceGap > 0) {
			yield(Extent{}, d.fail(fmt.Errorf("%w: zero areas are listed as they are: no Alignment or CoalesceGap (widening one would call bytes zeros that are not)", ErrInvalidArgument)))
			return
		}
		if err := d.changes(ctx, ChangeID{}, opts, true, yield); err != nil {
			yield(Extent{}, err)
		}
	}
}

// source returns what answers the pages of one run over [qs, qe): the
// driver; the Listing a driver.Lister began for the run (also returned, to
// be ended); or, for zero areas, the driver's Zeroer, nil when it has none.
func (d *Disk) source(ctx context.Context, since ChangeID, qs, qe int64, zeros bool) (pageSource, driver.Listing, error) {
	if zeros {
		if z, ok := d.drv.(driver.Zeroer); ok {
			return zeroPages{z}, nil, nil
		}
		return nil, nil, nil
	}
	if lr, ok := d.drv.(driver.Lister); ok {
		ls, err := d.beginListing(ctx, lr, driver.Request{Since: since.value, Offset: qs, End: qe})
		if err != nil {
			return nil, nil, err
		}
		return ls, ls, nil
	}
	return d.drv, nil, nil
}

// zeroPages asks a Zeroer for pages of zero areas.
type zeroPages struct{ z driver.Zeroer }

func (p zeroPages) ChangedExtents(ctx context.Context, req driver.Request, buf []extent.Extent) ([]extent.Extent, int64, error) {
	return p.z.ZeroExtents(ctx, req, buf)
}

// Collect gathers a sequence into a slice. It stops at the first error and
// returns the extents gathered before it with the error.
func Collect(seq iter.Seq2[Extent, error]) ([]Extent, error) {
	var out []Extent
	for e, err := range seq {
		if err != nil {
			return out, err
		}
		out = append(out, e)
	}
	return out, nil
}

// listing holds the state of one run of Changes.
type listing struct {
	done       <-chan struct{} // ctx.Done()
	ctx        context.Context
	err        error // set when emit stops for cancellation
	start, end int64 // the range the caller asked for
	emitted    int64 // where the next extent yielded may start: max(start, yielded)
	yielded    int64 // end of the last extent yielded, 0 before the first
	progress   Progress
	yield      func(Extent, error) bool
	stopped    bool // the consumer returned false: yield no more
	complete   bool // every extent was yielded: the run reached its end
}

// checkChangesArgs refuses a nil or ended context, options out of range and a
// change ID of another scheme (ErrInvalidArgument, through d.fail).
func (d *Disk) checkChangesArgs(ctx context.Context, since ChangeID, o *ChangesOptions) error {
	if ctx == nil {
		return d.fail(fmt.Errorf("%w: nil context", ErrInvalidArgument))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	capacity := d.info.Capacity
	switch {
	case o.StartOffset < 0 || o.StartOffset > capacity:
		return d.fail(fmt.Errorf("%w: start offset %d outside the disk [0, %d]", ErrInvalidArgument, o.StartOffset, capacity))
	case o.Length < 0:
		return d.fail(fmt.Errorf("%w: negative length %d", ErrInvalidArgument, o.Length))
	case o.Alignment < 0:
		return d.fail(fmt.Errorf("%w: negative alignment %d", ErrInvalidArgument, o.Alignment))
	case o.CoalesceGap < 0:
		return d.fail(fmt.Errorf("%w: negative coalesce gap %d", ErrInvalidArgument, o.CoalesceGap))
	}
	if !since.IsZero() && since.scheme != d.info.Scheme {
		return d.fail(fmt.Errorf("%w: change ID of scheme %q given to a disk whose change IDs are of scheme %q",
			ErrInvalidArgument, since.scheme, d.info.Scheme))
	}
	return nil
}

// queryWindow returns the window [qs, qe) to query for a listing of
// [start, end): wide enough that alignment and gap merging see every extent
// that can touch [start, end), so that the result is exactly the whole
// listing clipped to that range.
func queryWindow(start, end, align, gap, capacity int64) (qs, qe int64) {
	qs = max(start-gap, 0)
	qs -= qs % align
	qe = satAdd(end, gap)
	if r := qe % align; r != 0 {
		qe = satAdd(qe, align-r)
	}
	return qs, min(qe, capacity)
}

func (d *Disk) changes(ctx context.Context, since ChangeID, opts *ChangesOptions, zeros bool, yield func(Extent, error) bool) (rerr error) {
	var o ChangesOptions
	if opts != nil {
		o = *opts
	}
	if err := d.checkChangesArgs(ctx, since, &o); err != nil {
		return err
	}
	capacity := d.info.Capacity
	l := &listing{ctx: ctx, done: ctx.Done(), start: o.StartOffset, end: capacity, emitted: o.StartOffset, yield: yield}
	if o.Length > 0 && o.Length < capacity-o.StartOffset {
		l.end = o.StartOffset + o.Length
	}
	l.progress.Total = l.end - l.start
	if l.start >= l.end {
		return d.checkOpen()
	}

	align := max(o.Alignment, 1)
	qs, qe := queryWindow(l.start, l.end, align, o.CoalesceGap, capacity)

	pg, ls, err := d.source(ctx, since, qs, qe, zeros)
	if err != nil {
		return err
	}
	if pg == nil {
		return d.checkOpen() // zeros of a platform that cannot tell: nothing listed
	}
	if ls != nil {
		defer func() {
			// End runs on every path, panics included; its error is
			// reported only where nothing else was and the caller still
			// listens.
			if err := ls.End(l.complete && rerr == nil && !l.stopped); err != nil && rerr == nil && !l.stopped {
				rerr = d.fail(err)
			}
		}()
	}

	co := extent.Coalescer{Gap: o.CoalesceGap}
	buf := make([]Extent, 0, 256)
	for off := qs; off < qe; {
		if err := ctx.Err(); err != nil {
			return err
		}
		req := driver.Request{Since: since.value, Offset: off, End: qe}
		exts, next, err := d.page(ctx, pg, req, buf[:0])
		if err != nil {
			return err
		}
		if err := d.checkPage(req, exts, next); err != nil {
			return err
		}
		next = min(next, qe)
		if !l.push(&co, exts, align, capacity) {
			return l.err
		}
		if cap(exts) > cap(buf) && cap(exts) <= 1<<20 {
			buf = exts
		}
		if o.Logger != nil {
			o.Logger.DebugContext(ctx, "cbt: page", "disk", d.info.Name, "offset", off, "next", next, "extents", len(exts))
		}
		off = next
		if o.Progress != nil {
			l.progress.Scanned = min(max(next, l.start), l.end) - l.start
			o.Progress(l.progress)
		}
	}
	if out, ok := co.Flush(); ok && !l.emit(out) {
		return l.err
	}
	if o.Progress != nil {
		o.Progress(l.progress)
	}
	l.complete = true
	return nil
}

// push aligns the extents of a page out to align, drops what was yielded
// already, and merges the rest through co into emit. It returns false when
// emit did.
func (l *listing) push(co *extent.Coalescer, exts []Extent, align, capacity int64) bool {
	for _, e := range exts {
		a, ok := extent.AlignOut(e, align, capacity)
		if !ok {
			continue
		}
		// What an earlier page reported and was yielded already is not
		// pushed again: a platform may repeat an extent across pages.
		if a, ok = extent.ClipTo(a, l.yielded, math.MaxInt64); !ok {
			continue
		}
		if out, ok := co.Push(a); ok && !l.emit(out) {
			return false
		}
	}
	return true
}

// emit clips out to the caller's range and to what was already yielded, and
// yields what remains. It returns false when the consumer stopped, or when ctx
// is done (then l.err holds ctx.Err()): nothing is yielded after cancellation.
func (l *listing) emit(out Extent) bool {
	e, ok := extent.ClipTo(out, l.emitted, l.end)
	if !ok {
		return true
	}
	select {
	case <-l.done:
		l.err = l.ctx.Err()
		return false
	default:
	}
	l.emitted = e.End()
	l.yielded = e.End()
	l.progress.Extents++
	l.progress.Changed += e.Length
	if !l.yield(e, nil) {
		l.stopped = true
		return false
	}
	return true
}

// pageSource answers pages: the driver itself, or the Listing of a driver.Lister.
type pageSource interface {
	ChangedExtents(ctx context.Context, req driver.Request, buf []Extent) ([]Extent, int64, error)
}

// beginListing starts a run on a driver.Lister, holding the close lock shared.
func (d *Disk) beginListing(ctx context.Context, lr driver.Lister, req driver.Request) (driver.Listing, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return nil, d.fail(ErrClosed)
	}
	ls, err := lr.BeginListing(ctx, req)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
			return nil, cerr
		}
		return nil, d.fail(err)
	}
	if ls == nil {
		return nil, d.corrupt("BeginListing returned no listing and no error")
	}
	return ls, nil
}

// page asks for one page, holding the close lock shared.
func (d *Disk) page(ctx context.Context, pg pageSource, req driver.Request, buf []Extent) ([]Extent, int64, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return nil, 0, d.fail(ErrClosed)
	}
	exts, next, err := pg.ChangedExtents(ctx, req, buf)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
			return nil, 0, cerr
		}
		return nil, 0, d.fail(err)
	}
	return exts, next, nil
}

// checkPage enforces the driver contract on one page.
func (d *Disk) checkPage(req driver.Request, exts []Extent, next int64) error {
	if next <= req.Offset {
		return d.corrupt("answered [%d, %d) with next offset %d: no progress", req.Offset, req.End, next)
	}
	prev := int64(-1)
	for i, e := range exts {
		switch {
		case e.Length <= 0:
			return d.corrupt("extent %d of page [%d, %d) is empty: offset %d length %d", i, req.Offset, next, e.Offset, e.Length)
		case e.Offset < 0 || e.Offset > math.MaxInt64-e.Length || e.End() > d.info.Capacity:
			return d.corrupt("extent %d %v of page [%d, %d) lies outside the disk [0, %d)", i, e, req.Offset, next, d.info.Capacity)
		case e.Offset < prev:
			return d.corrupt("extent %d %v of page [%d, %d) starts before the end %d of the one before: unsorted or overlapping", i, e, req.Offset, next, prev)
		case e.Offset >= next:
			return d.corrupt("extent %d %v starts at or after the page's next offset %d", i, e, next)
		}
		prev = e.End()
	}
	return nil
}

func (d *Disk) checkOpen() error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return d.fail(ErrClosed)
	}
	return nil
}

func (d *Disk) corrupt(format string, args ...any) error {
	return d.fail(fmt.Errorf("%w: driver %T (scheme %s) "+format, append([]any{ErrCorrupt, d.drv, d.info.Scheme}, args...)...))
}

func (d *Disk) fail(err error) error {
	return &Error{Op: "changes", Disk: d.info.Name, Err: err}
}

func satAdd(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
