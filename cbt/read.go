package cbt

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/changedblocks/sdk/cbt/driver"
)

// Readable reports whether the disk's data can be read: nil when it can, or
// an error wrapping ErrUnsupported that says why not and what to use
// instead. A copy engine asks it before it lists, so that a backup that
// cannot read fails before it starts.
func (d *Disk) Readable() error {
	if _, ok := d.drv.(driver.Reader); ok && d.info.NoRead == "" {
		return nil
	}
	why := d.info.NoRead
	if why == "" {
		why = fmt.Sprintf("driver %T (scheme %s) does not read data", d.drv, d.info.Scheme)
	}
	return &Error{Op: "read", Disk: d.info.Name, Err: fmt.Errorf("%w: the data of this disk cannot be read through the SDK: %s", ErrUnsupported, why)}
}

// ReadAt reads len(p) bytes at off of the disk at its point in time: the
// point its listings end at. It is io.ReaderAt with a context: it returns
// len(p) and nil, or fewer bytes and an error; at the end of the disk it
// returns the bytes up to the capacity and io.EOF. Reads are cut into calls
// of at most the platform's limit, one after the other; ReadAt is safe for
// concurrent use, and a caller that wants parallel reads issues them from
// several goroutines. The context is checked between calls.
//
// Errors (in an *Error, but for context errors and io.EOF): ErrUnsupported
// when the platform cannot read (see Readable), ErrInvalidArgument for a
// negative offset, ErrClosed after Close, and the platform's classes
// (ErrBusy: retry; ErrCorrupt: the data cannot be read).
func (d *Disk) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	r, ok := d.drv.(driver.Reader)
	if !ok || d.info.NoRead != "" {
		return 0, d.Readable()
	}
	if off < 0 {
		return 0, d.readErr(fmt.Errorf("%w: read at negative offset %d", ErrInvalidArgument, off))
	}
	if len(p) == 0 {
		return 0, d.readOpen()
	}
	var eof error
	if off >= d.info.Capacity {
		return 0, io.EOF
	}
	if rest := d.info.Capacity - off; int64(len(p)) > rest {
		p, eof = p[:rest], io.EOF
	}
	chunk := int64(len(p))
	if m := d.info.MaxRead; m > 0 && chunk > m {
		chunk = m
	}
	n := 0
	for n < len(p) {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		end := min(int64(n)+chunk, int64(len(p)))
		if err := d.readChunk(ctx, r, p[n:end], off+int64(n)); err != nil {
			return n, err
		}
		n = int(end)
	}
	return n, eof
}

// readChunk makes one driver call, holding the close lock shared.
func (d *Disk) readChunk(ctx context.Context, r driver.Reader, p []byte, off int64) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return d.readErr(ErrClosed)
	}
	err := r.ReadAt(ctx, p, off)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
	}
	return d.readErr(driver.WithClass(ErrCorrupt, fmt.Errorf("read [%d, +%d): %w", off, len(p), err)))
}

// readOpen returns ErrClosed once the disk is closed.
func (d *Disk) readOpen() error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return d.readErr(ErrClosed)
	}
	return nil
}

func (d *Disk) readErr(err error) error {
	return &Error{Op: "read", Disk: d.info.Name, Err: err}
}

// ReaderAt returns an io.ReaderAt that reads the disk with ctx (for
// io.SectionReader, io.NewSectionReader(d.ReaderAt(ctx), 0, d.Capacity())
// and other code that takes an io.ReaderAt). Errors are those of ReadAt.
func (d *Disk) ReaderAt(ctx context.Context) io.ReaderAt { return readerAt{ctx, d} }

type readerAt struct {
	ctx context.Context
	d   *Disk
}

func (r readerAt) ReadAt(p []byte, off int64) (int, error) { return r.d.ReadAt(r.ctx, p, off) }
