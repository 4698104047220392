package copier

import (
	"fmt"
	"io"
	"os"
)

// Destination receives a copy. Copy calls its methods from several
// goroutines at once, each call for a different range.
type Destination interface {
	// Alignment is the block size writes come in: every range starts at a
	// multiple of it and ends at one, or at the disk's capacity. 0 or 1:
	// any byte range.
	Alignment() int64
	// WriteAt writes p at off (the io.WriterAt contract).
	WriteAt(p []byte, off int64) (int, error)
	// WriteZeros makes [off, off+n) read as zeros.
	WriteZeros(off, n int64) error
}

// WriterAtOptions tune ToWriterAt.
type WriterAtOptions struct {
	// Alignment is the block size of the destination; default 4096.
	Alignment int64
	// NoHoles writes zero runs as zeros even where the destination is a
	// regular file whose file system can punch holes.
	NoHoles bool
}

// ToWriterAt adapts w (a raw image file, a block device) as a
// Destination. Zero runs are written as zeros; when w is an *os.File on a
// file system that punches holes (Linux), they become holes instead,
// unless opts.NoHoles is set. The file's size is not changed: make it the
// disk's capacity before the copy (os.File.Truncate), so that a trailing
// zero run reads as zeros.
func ToWriterAt(w io.WriterAt, opts *WriterAtOptions) Destination {
	d := &writerAt{w: w, align: 4096}
	if opts != nil {
		if opts.Alignment > 0 {
			d.align = opts.Alignment
		}
		d.noHoles = opts.NoHoles
	}
	if f, ok := w.(*os.File); ok && !d.noHoles {
		d.file = f
	}
	return d
}

type writerAt struct {
	w       io.WriterAt
	file    *os.File
	align   int64
	noHoles bool
}

func (d *writerAt) Alignment() int64                         { return d.align }
func (d *writerAt) WriteAt(p []byte, off int64) (int, error) { return d.w.WriteAt(p, off) }

// zeroBlock is what zero runs are written from.
var zeroBlock = make([]byte, 1<<20)

func (d *writerAt) WriteZeros(off, n int64) error {
	if d.file != nil && punchHole(d.file, off, n) == nil {
		return nil
	}
	for n > 0 {
		k := min(n, int64(len(zeroBlock)))
		if _, err := d.w.WriteAt(zeroBlock[:k], off); err != nil {
			return fmt.Errorf("copier: write zeros at %d: %w", off, err)
		}
		off, n = off+k, n-k
	}
	return nil
}
