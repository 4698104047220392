package copier_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/copier"
	"github.com/changedblocks/sdk/cbt/driver"
	"github.com/changedblocks/sdk/cbt/memcbt"
)

const capacity = 8<<20 + 3*512 // not a multiple of the chunk or block size

// randomWrites writes n random ranges: generated data, given zeros (for
// the zero detection), and discards.
func randomWrites(t *testing.T, rng *rand.Rand, v *memcbt.Volume, n int) {
	t.Helper()
	for range n {
		off := rng.Int64N(capacity/512) * 512
		l := min(capacity-off, 512*(1+rng.Int64N(512)))
		var err error
		switch rng.IntN(5) {
		case 0:
			err = v.WriteData(off, make([]byte, l))
		case 1:
			err = v.Discard(off, l)
		default:
			err = v.Write(off, l)
		}
		require.NoError(t, err)
	}
}

func readAll(t *testing.T, d *cbt.Disk) []byte {
	t.Helper()
	b, err := io.ReadAll(io.NewSectionReader(d.ReaderAt(t.Context()), 0, d.Capacity()))
	require.NoError(t, err)
	return b
}

// rawFile makes a file of the capacity, returns it and a function that
// reads it back whole.
func rawFile(t *testing.T) (*os.File, func() []byte) {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "disk.raw"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	require.NoError(t, f.Truncate(capacity))
	return f, func() []byte {
		b := make([]byte, capacity)
		_, err := f.ReadAt(b, 0)
		require.NoError(t, err)
		return b
	}
}

func open(t *testing.T, v *memcbt.Volume, at cbt.ChangeID, wrap func(driver.Disk) driver.Disk) *cbt.Disk {
	t.Helper()
	drv, err := v.OpenDriver(at)
	require.NoError(t, err)
	if wrap != nil {
		drv = wrap(drv)
	}
	d, err := cbt.NewDisk(drv)
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// TestFullThenIncrementals copies a full backup and then incrementals onto
// one raw file, for several seeds and settings: after each copy the file
// reads as the disk at that point, byte for byte.
func TestFullThenIncrementals(t *testing.T) {
	for seed := range uint64(6) {
		rng := rand.New(rand.NewPCG(seed, 3))
		v, err := memcbt.NewVolume(capacity, &memcbt.Options{Granularity: 512 << rng.IntN(5), MaxRead: 64 << 10})
		require.NoError(t, err)
		f, back := rawFile(t)
		dst := copier.ToWriterAt(f, &copier.WriterAtOptions{Alignment: 512 << rng.IntN(4), NoHoles: seed%2 == 0})
		opts := &copier.Options{Workers: 1 + rng.IntN(6), ChunkSize: 4096 << rng.IntN(9), Checksums: true}
		var since cbt.ChangeID
		for round := range 4 {
			randomWrites(t, rng, v, 5+rng.IntN(30))
			p, err := v.ChangePoint()
			require.NoError(t, err)
			d := open(t, v, p, nil)
			res, err := copier.Copy(t.Context(), d, since, dst, opts)
			require.NoError(t, err, "seed %d round %d", seed, round)
			want := readAll(t, d)
			got := back()
			if !bytes.Equal(want, got) {
				t.Fatalf("seed %d round %d (%+v): the copy differs from the disk at its point", seed, round, *opts)
			}
			assert.Equal(t, res.Total, res.Done)
			assert.Equal(t, int64(capacity), res.Resume)
			assert.Equal(t, p, res.ChangeID)
			for _, s := range res.Sums {
				if s.Zero {
					require.True(t, bytes.Equal(got[s.Offset:s.Offset+s.Length], make([]byte, s.Length)), "zero chunk %+v", s)
					continue
				}
				h := sha256.Sum256(got[s.Offset : s.Offset+s.Length])
				require.Equal(t, hex.EncodeToString(h[:]), s.SHA256)
			}
			since = p
		}
	}
}

// TestZeroRuns: zero data is written as zeros (holes), not as data, and
// over earlier data it reads as zeros.
func TestZeroRuns(t *testing.T) {
	v, err := memcbt.NewVolume(capacity, nil)
	require.NoError(t, err)
	require.NoError(t, v.Write(0, 1<<20))
	p1, _ := v.ChangePoint()
	require.NoError(t, v.WriteData(4096, make([]byte, 64<<10)))
	p2, _ := v.ChangePoint()
	f, back := rawFile(t)
	dst := copier.ToWriterAt(f, nil)
	_, err = copier.Copy(t.Context(), open(t, v, p1, nil), cbt.ChangeID{}, dst, nil)
	require.NoError(t, err)
	d2 := open(t, v, p2, nil)
	res, err := copier.Copy(t.Context(), d2, p1, dst, nil)
	require.NoError(t, err)
	assert.Equal(t, int64(64<<10), res.Zero)
	assert.True(t, bytes.Equal(readAll(t, d2), back()))
}

// TestResume cancels copies part way at random and resumes them from the
// Resume offset they reported, after scribbling over everything above it:
// the result is still exact.
func TestResume(t *testing.T) {
	for seed := range uint64(8) {
		rng := rand.New(rand.NewPCG(seed, 9))
		v, err := memcbt.NewVolume(capacity, &memcbt.Options{Granularity: 4096})
		require.NoError(t, err)
		randomWrites(t, rng, v, 60)
		p, _ := v.ChangePoint()
		d := open(t, v, p, nil)
		f, back := rawFile(t)
		dst := copier.ToWriterAt(f, nil)
		var start int64
		for try := 0; ; try++ {
			ctx, cancel := context.WithCancel(t.Context())
			stopAt := rng.Int64N(4 << 20)
			opts := &copier.Options{Workers: 3, ChunkSize: 64 << 10, StartOffset: start, ProgressInterval: time.Nanosecond,
				Progress: func(p copier.Progress) {
					if p.Done >= stopAt && try < 3 {
						cancel()
					}
				}}
			res, err := copier.Copy(ctx, d, cbt.ChangeID{}, dst, opts)
			cancel()
			if err == nil {
				break
			}
			require.ErrorIs(t, err, context.Canceled)
			require.GreaterOrEqual(t, res.Resume, start)
			// Nothing listed above Resume may be relied on.
			for _, e := range res.Extents {
				if s := max(e.Offset, res.Resume); s < e.End() {
					_, err = f.WriteAt(bytes.Repeat([]byte{0xee}, int(e.End()-s)), s)
					require.NoError(t, err)
				}
			}
			start = res.Resume
		}
		if !bytes.Equal(readAll(t, d), back()) {
			t.Fatalf("seed %d: the resumed copy differs from the disk", seed)
		}
	}
}

// flaky fails reads with err; busy counts how many.
type flaky struct {
	driver.Disk
	r     driver.Reader
	fails func(off int64) error
	inUse atomic.Int32
	peak  atomic.Int32
}

func (f *flaky) ReadAt(ctx context.Context, p []byte, off int64) error {
	n := f.inUse.Add(1)
	defer f.inUse.Add(-1)
	for {
		m := f.peak.Load()
		if n <= m || f.peak.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(100 * time.Microsecond)
	if err := f.fails(off); err != nil {
		return err
	}
	return f.r.ReadAt(ctx, p, off)
}

func TestRetriesAndErrors(t *testing.T) {
	v, err := memcbt.NewVolume(capacity, nil)
	require.NoError(t, err)
	require.NoError(t, v.Write(0, capacity))
	p, _ := v.ChangePoint()
	var mu sync.Mutex
	tries := map[int64]int{}
	busyFirst := func(k int) func(off int64) error {
		return func(off int64) error {
			mu.Lock()
			defer mu.Unlock()
			tries[off]++
			if tries[off] <= k {
				return driver.WithClass(driver.ErrBusy, errors.New("server busy"))
			}
			return nil
		}
	}
	var fl *flaky
	wrap := func(fails func(int64) error) func(driver.Disk) driver.Disk {
		return func(d driver.Disk) driver.Disk {
			fl = &flaky{Disk: d, r: d.(driver.Reader), fails: fails}
			return fl
		}
	}
	f, back := rawFile(t)
	d := open(t, v, p, wrap(busyFirst(2)))
	_, err = copier.Copy(t.Context(), d, cbt.ChangeID{}, copier.ToWriterAt(f, nil), &copier.Options{Workers: 3, ChunkSize: 1 << 20})
	require.NoError(t, err, "two busy answers per read are retried")
	assert.True(t, bytes.Equal(readAll(t, open(t, v, p, nil)), back()))
	assert.LessOrEqual(t, fl.peak.Load(), int32(3), "never more reads at once than Workers")

	clear(tries)
	d = open(t, v, p, wrap(busyFirst(2)))
	_, err = copier.Copy(t.Context(), d, cbt.ChangeID{}, copier.ToWriterAt(f, nil), &copier.Options{Retries: -1})
	assert.ErrorIs(t, err, cbt.ErrBusy, "without retries a busy read fails the copy")

	before := runtime.NumGoroutine()
	d = open(t, v, p, wrap(func(int64) error { return errors.New("medium error") }))
	res, err := copier.Copy(t.Context(), d, cbt.ChangeID{}, copier.ToWriterAt(f, nil), &copier.Options{Workers: 8, ChunkSize: 4096})
	assert.ErrorIs(t, err, cbt.ErrCorrupt)
	assert.ErrorContains(t, err, "medium error")
	require.NotNil(t, res)
	assert.Zero(t, res.Resume, "nothing was copied")
	assert.LessOrEqual(t, runtime.NumGoroutine(), before+1, "the workers are gone")

	_, err = copier.Copy(t.Context(), open(t, v, p, nil), cbt.ChangeID{}, failingDest{}, nil)
	assert.ErrorContains(t, err, "no space left")
}

type failingDest struct{}

func (failingDest) Alignment() int64                   { return 4096 }
func (failingDest) WriteAt([]byte, int64) (int, error) { return 0, errors.New("no space left") }
func (failingDest) WriteZeros(int64, int64) error      { return errors.New("no space left") }

// noReader is a driver that lists but cannot read.
type noReader struct{ driver.Disk }

func TestRefusals(t *testing.T) {
	v, err := memcbt.NewVolume(capacity, nil)
	require.NoError(t, err)
	require.NoError(t, v.Write(0, 4096))
	p, _ := v.ChangePoint()
	f, _ := rawFile(t)
	dst := copier.ToWriterAt(f, nil)

	d := open(t, v, p, func(d driver.Disk) driver.Disk { return noReader{d} })
	_, err = copier.Copy(t.Context(), d, cbt.ChangeID{}, dst, nil)
	assert.ErrorIs(t, err, cbt.ErrUnsupported)

	d = open(t, v, p, nil)
	v.ResetTracking()
	_, err = copier.Copy(t.Context(), d, p, dst, nil)
	assert.ErrorIs(t, err, cbt.ErrChangeIDInvalid)

	_, err = copier.Copy(t.Context(), d, cbt.ChangeID{}, dst, &copier.Options{StartOffset: 100})
	assert.ErrorIs(t, err, cbt.ErrInvalidArgument, "a resume offset off the destination's blocks")
	_, err = copier.Copy(t.Context(), d, cbt.ChangeID{}, dst, &copier.Options{Workers: -1})
	assert.ErrorIs(t, err, cbt.ErrInvalidArgument)
}

// counting records the ranges read.
type counting struct {
	driver.Disk
	r    driver.Reader
	z    driver.Zeroer
	mu   sync.Mutex
	read []cbt.Extent
}

func (c *counting) ReadAt(ctx context.Context, p []byte, off int64) error {
	c.mu.Lock()
	c.read = append(c.read, cbt.Extent{Offset: off, Length: int64(len(p))})
	c.mu.Unlock()
	return c.r.ReadAt(ctx, p, off)
}

func (c *counting) ZeroExtents(ctx context.Context, req driver.Request, buf []cbt.Extent) ([]cbt.Extent, int64, error) {
	return c.z.ZeroExtents(ctx, req, buf)
}

// TestZeroAreasNotRead: what the disk says reads as zeros (a discarded
// area) is written as zeros without a read, over data an earlier copy
// wrote; with NoZeroAreas it is read.
func TestZeroAreasNotRead(t *testing.T) {
	v, err := memcbt.NewVolume(capacity, &memcbt.Options{Granularity: 4096})
	require.NoError(t, err)
	require.NoError(t, v.Write(0, 2<<20))
	p1, _ := v.ChangePoint()
	require.NoError(t, v.Discard(0, 1<<20))
	require.NoError(t, v.Write(1<<20, 4096))
	p2, _ := v.ChangePoint()
	f, back := rawFile(t)
	dst := copier.ToWriterAt(f, &copier.WriterAtOptions{NoHoles: true})
	_, err = copier.Copy(t.Context(), open(t, v, p1, nil), cbt.ChangeID{}, dst, nil)
	require.NoError(t, err)
	for _, noZero := range []bool{false, true} {
		var c *counting
		d := open(t, v, p2, func(d driver.Disk) driver.Disk {
			c = &counting{Disk: d, r: d.(driver.Reader), z: d.(driver.Zeroer)}
			return c
		})
		res, err := copier.Copy(t.Context(), d, p1, dst, &copier.Options{NoZeroAreas: noZero, Checksums: true})
		require.NoError(t, err)
		copyReads := append([]cbt.Extent(nil), c.read...)
		assert.True(t, bytes.Equal(readAll(t, d), back()))
		readZeros := false
		for _, e := range copyReads {
			readZeros = readZeros || e.Offset < 1<<20
		}
		assert.Equal(t, noZero, readZeros, "NoZeroAreas=%v: reads in the discarded area: %v", noZero, copyReads)
		assert.Equal(t, int64(1<<20), res.Zero)
		if !noZero {
			assert.True(t, res.Sums[0].Zero, "the zero area's chunk is marked zero in the sums")
		}
	}
}
