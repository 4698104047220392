package copier

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/extent"
)

// Options tune Copy. A nil *Options means the defaults.
type Options struct {
	// Workers is how many chunks are read and written at once; default 4.
	Workers int
	// ChunkSize is the most bytes one read asks for, rounded up to the
	// destination's alignment; default 1 MiB. Memory: Workers × ChunkSize.
	ChunkSize int64
	// StartOffset resumes a copy: pass the Resume offset of the copy that
	// was interrupted (with the same disk point, base and destination).
	StartOffset int64
	// Retries is how many times in a row a read that failed with
	// cbt.ErrBusy is tried again (from where it got to) before the copy
	// fails; default 3, negative for none.
	Retries int
	// Checksums asks for the SHA-256 of every chunk as written (Result.Sums).
	Checksums bool
	// NoZeroAreas reads every listed byte, even where the disk says it
	// reads as zeros (cbt.Disk.Zeros): by default those whole destination
	// blocks are written as zeros without reading them.
	NoZeroAreas bool
	// Progress, when set, is called from one goroutine at a time, at most
	// every ProgressInterval and once at the end.
	Progress func(Progress)
	// ProgressInterval: default 250 ms.
	ProgressInterval time.Duration
}

// Progress reports how far a copy got.
type Progress struct {
	Done    int64         // bytes of listed extents copied (data and zeros)
	Total   int64         // bytes of listed extents to copy, from StartOffset
	Zero    int64         // bytes of Done written as zeros
	Resume  int64         // every listed byte below it is written
	Elapsed time.Duration // since Copy began
}

// Rate returns the bytes copied per second so far.
func (p Progress) Rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Done) / p.Elapsed.Seconds()
}

// Result is what a copy did.
type Result struct {
	Progress              // the final report
	Extents  []cbt.Extent // what was listed (aligned), from StartOffset
	Sums     []ChunkSum   // with Options.Checksums, ascending
	Since    cbt.ChangeID // the base listed since (zero for a full copy)
	ChangeID cbt.ChangeID // the disk's point: what to store once the copy is durable; zero when the point can be no base
}

// Copy copies from d what it lists since the base (a zero since: every
// allocated area, a full copy) to dst, and returns what it did. On an
// error the Result is returned too, with Resume set: see the package doc.
//
// Errors: those of d.Readable (cbt.ErrUnsupported: the disk cannot be
// read), of the listing (cbt.ErrChangeIDInvalid: take a full copy), of the
// reads and of dst's writes, wrapped with the range they were for;
// cbt.ErrInvalidArgument for bad options. A cancelled context ends the copy
// with the context's error.
func Copy(ctx context.Context, d *cbt.Disk, since cbt.ChangeID, dst Destination, opts *Options) (*Result, error) {
	o, err := withDefaults(opts, dst)
	if err != nil {
		return nil, err
	}
	if err := d.Readable(); err != nil {
		return nil, err
	}
	if a := dst.Alignment(); a > 1 && o.StartOffset%a != 0 && o.StartOffset != d.Capacity() {
		return nil, fmt.Errorf("%w: copier: StartOffset %d is not a multiple of the destination's alignment %d (resume at a Resume offset Copy reported)", cbt.ErrInvalidArgument, o.StartOffset, a)
	}
	start := time.Now()
	exts, err := cbt.Collect(d.Changes(ctx, since, &cbt.ChangesOptions{StartOffset: o.StartOffset, Alignment: dst.Alignment()}))
	if err != nil {
		return nil, err
	}
	res := &Result{Extents: exts, Since: since}
	res.ChangeID, _ = d.ChangeID()
	chunks, err := plan(ctx, d, exts, dst.Alignment(), &o)
	if err != nil {
		return nil, err
	}
	r := &run{d: d, dst: dst, o: o, chunks: chunks, start: start, res: res}
	r.total = totalBytes(exts)
	r.resume = o.StartOffset
	if len(chunks) == 0 {
		r.resume = d.Capacity()
	}
	err = r.copy(ctx)
	res.Progress = r.progress()
	res.Sums = sortSums(r.sums)
	if o.Progress != nil {
		o.Progress(res.Progress)
	}
	return res, err
}

func withDefaults(opts *Options, dst Destination) (Options, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Workers < 0 || o.ChunkSize < 0 || o.StartOffset < 0 || o.ProgressInterval < 0 {
		return o, fmt.Errorf("%w: copier: negative option in %+v", cbt.ErrInvalidArgument, o)
	}
	if o.Workers == 0 {
		o.Workers = 4
	}
	if o.ChunkSize == 0 {
		o.ChunkSize = 1 << 20
	}
	if a := dst.Alignment(); a > 1 {
		o.ChunkSize = (o.ChunkSize + a - 1) / a * a
	}
	if o.Retries == 0 {
		o.Retries = 3
	}
	if o.ProgressInterval == 0 {
		o.ProgressInterval = 250 * time.Millisecond
	}
	return o, nil
}

// chunk is one job: [off, off+n) read and written, or (zero) written as
// zeros without a read.
type chunk struct {
	off, n int64
	zero   bool
}

// zeroChunk is the most bytes one zero job covers: zero areas cost no
// memory, and a resume point every zeroChunk bytes is enough.
const zeroChunk = 1 << 30

// cut splits sorted extents into chunks on a grid of size bytes.
func cut(exts []cbt.Extent, size int64, zero bool) []chunk {
	var out []chunk
	for _, e := range exts {
		for off := e.Offset; off < e.End(); {
			end := min(e.End(), (off/size+1)*size)
			out = append(out, chunk{off, end - off, zero})
			off = end
		}
	}
	return out
}

// plan turns the listing into jobs, ascending: where the disk says whole
// destination blocks read as zeros, zero jobs; the rest, chunks to read.
func plan(ctx context.Context, d *cbt.Disk, exts []cbt.Extent, align int64, o *Options) ([]chunk, error) {
	if o.NoZeroAreas || len(exts) == 0 {
		return cut(exts, o.ChunkSize, false), nil
	}
	zs, err := zerosNear(ctx, d, exts)
	if err != nil {
		return nil, err
	}
	blocks := inward(zs, max(align, 1), d.Capacity())
	reads := cut(extent.SubtractSlices(exts, blocks), o.ChunkSize, false)
	zeros := cut(extent.IntersectSlices(exts, blocks), zeroChunk, true)
	out := make([]chunk, 0, len(reads)+len(zeros))
	for len(reads) > 0 || len(zeros) > 0 {
		if len(zeros) == 0 || (len(reads) > 0 && reads[0].off < zeros[0].off) {
			out, reads = append(out, reads[0]), reads[1:]
		} else {
			out, zeros = append(out, zeros[0]), zeros[1:]
		}
	}
	return out, nil
}

// zeroSpanGap is the largest gap between listed extents that one query of
// zero areas spans: an incremental of a few changed clusters over a large
// disk asks about the areas near them only, not about the whole disk.
const zeroSpanGap = 64 << 20

// zerosNear returns the disk's zero areas (cbt.Disk.Zeros) in the spans
// that cover the sorted extents, one query per span.
func zerosNear(ctx context.Context, d *cbt.Disk, exts []cbt.Extent) ([]cbt.Extent, error) {
	var out []cbt.Extent
	for _, span := range extent.CoalesceSlice(append([]cbt.Extent(nil), exts...), zeroSpanGap) {
		for z, err := range d.Zeros(ctx, &cbt.ChangesOptions{StartOffset: span.Offset, Length: span.Length}) {
			if err != nil {
				return nil, err
			}
			out = append(out, z)
		}
	}
	return out, nil
}

// inward shrinks zero areas to the whole blocks of align they hold (a
// block that ends at the capacity counts whole): only whole destination
// blocks are written as zeros without a read.
func inward(zs []cbt.Extent, align, capacity int64) []cbt.Extent {
	out := zs[:0:0]
	for _, z := range zs {
		s := (z.Offset + align - 1) / align * align
		e := z.End()
		if e != capacity {
			e -= e % align
		}
		if e > s {
			out = append(out, cbt.Extent{Offset: s, Length: e - s})
		}
	}
	return out
}

func totalBytes(exts []cbt.Extent) int64 {
	var n int64
	for _, e := range exts {
		n += e.Length
	}
	return n
}

// run is one Copy in progress.
type run struct {
	d      *cbt.Disk
	dst    Destination
	o      Options
	chunks []chunk
	start  time.Time
	res    *Result

	repMu sync.Mutex // held while Progress is called

	mu       sync.Mutex
	finished []bool
	next     int // the first chunk not finished
	done     int64
	zero     int64
	total    int64
	resume   int64
	sums     []ChunkSum
	lastSent time.Time
}

// progress returns the report of now; r.mu must not be held.
func (r *run) progress() Progress {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Progress{Done: r.done, Total: r.total, Zero: r.zero, Resume: r.resume, Elapsed: time.Since(r.start)}
}

// copy runs the workers over the chunks.
func (r *run) copy(ctx context.Context) error {
	r.finished = make([]bool, len(r.chunks))
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(r.o.Workers, max(len(r.chunks), 1)) {
		wg.Go(func() {
			buf := make([]byte, r.o.ChunkSize)
			for i := range jobs {
				if err := r.one(ctx, i, buf); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
feed:
	for i := range r.chunks {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if r.next == len(r.chunks) {
		return nil // everything was copied, whatever happened after
	}
	return context.Cause(ctx)
}

// one copies chunk i.
func (r *run) one(ctx context.Context, i int, buf []byte) error {
	c := r.chunks[i]
	if c.zero {
		if err := r.dst.WriteZeros(c.off, c.n); err != nil {
			return fmt.Errorf("copier: write zeros to [%d, +%d): %w", c.off, c.n, err)
		}
		var sum *ChunkSum
		if r.o.Checksums {
			sum = &ChunkSum{Offset: c.off, Length: c.n, Zero: true}
		}
		r.finish(i, c.n, c.n, sum)
		return nil
	}
	p := buf[:c.n]
	if err := r.read(ctx, p, c.off); err != nil {
		return err
	}
	zero, err := r.write(p, c.off)
	if err != nil {
		return err
	}
	var sum *ChunkSum
	if r.o.Checksums {
		s := sumOf(p, c.off)
		sum = &s
	}
	r.finish(i, c.n, zero, sum)
	return nil
}

// read reads one chunk, trying again after cbt.ErrBusy from where the
// failed read got to; Retries bounds the failures in a row without progress.
func (r *run) read(ctx context.Context, p []byte, off int64) error {
	pause := 50 * time.Millisecond
	got, fails := 0, 0
	for {
		n, err := r.d.ReadAt(ctx, p[got:], off+int64(got))
		if n > 0 {
			got += n
			fails, pause = 0, 50*time.Millisecond
		}
		if err == nil || !errors.Is(err, cbt.ErrBusy) || fails >= r.o.Retries {
			return err
		}
		fails++
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		pause *= 2
	}
}

// finish records chunk i done and reports progress when it is time.
func (r *run) finish(i int, n, zero int64, sum *ChunkSum) {
	r.mu.Lock()
	r.finished[i] = true
	r.done += n
	r.zero += zero
	if sum != nil {
		r.sums = append(r.sums, *sum)
	}
	for r.next < len(r.chunks) && r.finished[r.next] {
		r.next++
	}
	if r.next < len(r.chunks) {
		r.resume = r.chunks[r.next].off
	} else {
		r.resume = r.d.Capacity()
	}
	send := r.o.Progress != nil && time.Since(r.lastSent) >= r.o.ProgressInterval
	if send {
		r.lastSent = time.Now()
	}
	r.mu.Unlock()
	if send {
		r.repMu.Lock()
		r.o.Progress(r.progress())
		r.repMu.Unlock()
	}
}
