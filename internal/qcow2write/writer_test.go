package qcow2write

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/internal/qcow2"
	"github.com/changedblocks/sdk/internal/qemutools"
)

// checkImage runs `qemu-img check` and fails on any corruption or leak (the
// command itself exits non-zero on both, which Run reports).
func checkImage(t *testing.T, path string) {
	t.Helper()
	var r struct {
		CheckErrors int `json:"check-errors"`
		Corruptions int `json:"corruptions"`
		Leaks       int `json:"leaks"`
	}
	require.NoError(t, json.Unmarshal(qemutools.QemuImg(t, "check", "--output=json", "-f", "qcow2", path), &r))
	assert.Zero(t, r.CheckErrors+r.Corruptions+r.Leaks, "qemu-img check %s: %+v", path, r)
}

// clusterKind is what a test writes into one guest cluster.
type clusterKind int

const (
	untouched clusterKind = iota
	randomData
	compressible // text-like data: compresses well
	zeroData     // a data cluster of zeros, stored as data
	zeroFlag     // WriteZeros
)

// plan is a random set of cluster writes over a disk, and the disk's
// expected contents (base holds what the backing file reads, or zeros).
type plan struct {
	size, cs int64
	kinds    []clusterKind
	data     [][]byte
	want     []byte
}

func newPlan(rng *rand.Rand, size, cs int64, base []byte) *plan {
	p := &plan{size: size, cs: cs}
	n := (size + cs - 1) / cs
	p.kinds = make([]clusterKind, n)
	p.data = make([][]byte, n)
	p.want = make([]byte, size)
	copy(p.want, base)
	for i := range n {
		k := clusterKind(rng.IntN(5))
		p.kinds[i] = k
		off := i * cs
		l := min(cs, size-off)
		var d []byte
		switch k {
		case randomData:
			d = make([]byte, l)
			for j := range d {
				d[j] = byte(rng.Uint32())
			}
		case compressible:
			d = make([]byte, l)
			for j := range d {
				d[j] = "changed block tracking "[(int64(j)+off)%23]
			}
		case zeroData:
			d = make([]byte, l)
		case zeroFlag:
			clear(p.want[off : off+l])
		}
		if d != nil {
			p.data[i] = d
			copy(p.want[off:], d)
		}
	}
	return p
}

// write writes the plan with workers goroutines, in a random order.
func (p *plan) write(t *testing.T, rng *rand.Rand, w *Writer, workers int) {
	t.Helper()
	order := rng.Perm(len(p.kinds))
	ch := make(chan int)
	errs := make(chan error, len(order))
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range ch {
				off := int64(i) * p.cs
				switch p.kinds[i] {
				case untouched:
				case zeroFlag:
					errs <- w.WriteZeros(off, min(p.cs, p.size-off))
				default:
					errs <- w.WriteCluster(off, p.data[i])
				}
			}
		})
	}
	for _, i := range order {
		ch <- i
	}
	close(ch)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// create makes a writer on a new file in dir.
func create(t *testing.T, path string, size int64, opts *Options) (*Writer, *os.File) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	w, err := New(f, size, opts)
	require.NoError(t, err)
	return w, f
}

// TestStandaloneImages writes random standalone images of every cluster
// size and compression from several goroutines, and checks each with
// qemu-img: no corruption or leak, and every byte as written.
func TestStandaloneImages(t *testing.T) {
	qemutools.Need(t, "qemu-img")
	for _, cs := range []int64{512, 4096, 64 << 10, 2 << 20} {
		for _, comp := range []Compression{NoCompression, Zlib, Zstd} {
			t.Run(fmt.Sprintf("cluster%d-%v", cs, comp), func(t *testing.T) {
				seed := uint64(cs) + uint64(comp)*7919
				rng := rand.New(rand.NewPCG(seed, 1))
				clusters := int64(40 + rng.IntN(40))
				if cs == 2<<20 {
					clusters = 6
				}
				size := clusters*cs - 512*int64(rng.IntN(int(cs/512))) // sometimes a partial last cluster
				p := newPlan(rng, size, cs, nil)
				path := filepath.Join(t.TempDir(), "full.qcow2")
				w, _ := create(t, path, size, &Options{ClusterSize: cs, Compression: comp})
				p.write(t, rng, w, 4)
				require.NoError(t, w.Close())
				checkImage(t, path)
				info := qemutools.Info(t, path)
				assert.Equal(t, size, info.VirtualSize)
				assert.Equal(t, cs, info.ClusterSize)
				if comp == Zstd {
					assert.Equal(t, "zstd", info.FormatSpecific.Data.CompressionType)
				}
				got := qemutools.ExportRaw(t, path, "")
				require.Equal(t, len(p.want), len(got))
				assert.True(t, bytes.Equal(p.want, got), "seed %d: the image does not read back as written", seed)
				if comp != NoCompression {
					plain := filepath.Join(t.TempDir(), "plain.qcow2")
					w, _ := create(t, plain, size, &Options{ClusterSize: cs})
					p.write(t, rng, w, 2)
					require.NoError(t, w.Close())
					st, err := os.Stat(path)
					require.NoError(t, err)
					pst, err := os.Stat(plain)
					require.NoError(t, err)
					assert.Less(t, st.Size(), pst.Size(), "compressible clusters were not compressed")
				}
			})
		}
	}
}

// TestOverlay writes an overlay on a base made by qemu-img and qemu-io:
// unwritten clusters read the base, zero clusters hide it, and the backing
// file name is recorded as given (relative), so `qemu-img convert` of the
// overlay restores base + changes.
func TestOverlay(t *testing.T) {
	qemutools.Need(t, "qemu-img", "qemu-io")
	for _, comp := range []Compression{NoCompression, Zstd} {
		t.Run(comp.String(), func(t *testing.T) {
			dir := t.TempDir()
			base := filepath.Join(dir, "base.qcow2")
			const size = 8 << 20
			qemutools.Create(t, base, "cluster_size=65536", "8M")
			rng := rand.New(rand.NewPCG(42, uint64(comp)))
			for range 12 {
				off := rng.Int64N(size/4096) * 4096
				qemutools.QemuIO(t, base, fmt.Sprintf("write -P %d %d 4096", 1+rng.IntN(250), off))
			}
			baseData := qemutools.ExportRaw(t, base, "")
			p := newPlan(rng, size, 64<<10, baseData)
			path := filepath.Join(dir, "inc.qcow2")
			w, _ := create(t, path, size, &Options{BackingFile: "base.qcow2", BackingFormat: "qcow2", Compression: comp})
			p.write(t, rng, w, 3)
			require.NoError(t, w.Close())
			checkImage(t, path)
			info := qemutools.Info(t, path)
			assert.Equal(t, "base.qcow2", info.BackingFilename)
			assert.Equal(t, "qcow2", info.BackingFilenameFormat)
			assert.True(t, bytes.Equal(p.want, qemutools.ExportRaw(t, path, "")), "the overlay does not read as base + changes")
		})
	}
}

// failingFile fails the writes that fail says to.
type failingFile struct {
	f    *os.File
	fail func(off int64) bool
}

var errDisk = errors.New("disk full")

func (f *failingFile) WriteAt(p []byte, off int64) (int, error) {
	if f.fail(off) {
		return 0, errDisk
	}
	return f.f.WriteAt(p, off)
}

// TestWriteFailure: a cluster whose write failed stays unwritten and can be
// written again; the host cluster it was given is free in the image (no leak
// for qemu-img check), and the file without Close is no image.
func TestWriteFailure(t *testing.T) {
	qemutools.Need(t, "qemu-img")
	for _, comp := range []Compression{NoCompression, Zlib} {
		t.Run(comp.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f.qcow2")
			f, err := os.Create(path)
			require.NoError(t, err)
			defer f.Close()
			failNext := true
			ff := &failingFile{f: f, fail: func(int64) bool { r := failNext; failNext = false; return r }}
			const cs = 4096
			w, err := New(ff, 64*cs, &Options{ClusterSize: cs, Compression: comp})
			require.NoError(t, err)
			data := bytes.Repeat([]byte("abcd"), cs/4)
			require.ErrorIs(t, w.WriteCluster(5*cs, data), errDisk)
			require.NoError(t, w.WriteCluster(5*cs, data), "a failed cluster can be written again")
			require.NoError(t, w.WriteCluster(6*cs, data))

			head := make([]byte, 4)
			_, _ = f.ReadAt(head, 0)
			assert.NotEqual(t, "QFI\xfb", string(head), "before Close the file must not be an image")

			require.NoError(t, w.Close())
			checkImage(t, path)
			got := qemutools.ExportRaw(t, path, "")
			want := make([]byte, 64*cs)
			copy(want[5*cs:], data)
			copy(want[6*cs:], data)
			assert.True(t, bytes.Equal(want, got))
		})
	}
}

// TestInvalid covers every refusal: each says what is wrong, wraps
// ErrInvalid (or ErrClosed) and changes nothing.
func TestInvalid(t *testing.T) {
	dir := t.TempDir()
	w, _ := create(t, filepath.Join(dir, "a.qcow2"), 10*4096+512, &Options{ClusterSize: 4096})
	c := make([]byte, 4096)
	for name, err := range map[string]error{
		"misaligned":         w.WriteCluster(512, c),
		"outside":            w.WriteCluster(11*4096, c),
		"negative":           w.WriteCluster(-4096, c),
		"two clusters":       w.WriteCluster(0, make([]byte, 8192)),
		"short":              w.WriteCluster(0, c[:100]),
		"last too long":      w.WriteCluster(10*4096, c),
		"zeros misaligned":   w.WriteZeros(4096, 100),
		"zeros past the end": w.WriteZeros(8*4096, 4*4096),
	} {
		assert.ErrorIs(t, err, ErrInvalid, name)
	}
	require.NoError(t, w.WriteCluster(10*4096, c[:512]), "the last, partial cluster")
	require.NoError(t, w.WriteCluster(0, c))
	assert.ErrorIs(t, w.WriteCluster(0, c), ErrInvalid, "written twice")
	assert.ErrorIs(t, w.WriteZeros(0, 3*4096), ErrInvalid, "zeros over a written cluster")
	require.NoError(t, w.WriteZeros(4096, 2*4096), "the failed WriteZeros changed nothing")
	require.NoError(t, w.Close())
	assert.ErrorIs(t, w.Close(), ErrClosed)
	assert.ErrorIs(t, w.WriteCluster(4*4096, c), ErrClosed)

	f, err := os.Create(filepath.Join(dir, "b.qcow2"))
	require.NoError(t, err)
	defer f.Close()
	for name, o := range map[string]struct {
		size int64
		opts Options
	}{
		"size not a multiple of 512": {1000, Options{}},
		"size zero":                  {0, Options{}},
		"cluster size":               {1 << 20, Options{ClusterSize: 3000}},
		"cluster too big":            {1 << 20, Options{ClusterSize: 4 << 20}},
		"long backing name":          {1 << 20, Options{BackingFile: string(bytes.Repeat([]byte("a"), 1024))}},
		"name beyond cluster 0":      {1 << 20, Options{ClusterSize: 512, BackingFile: string(bytes.Repeat([]byte("a"), 500))}},
		"format without file":        {1 << 20, Options{BackingFormat: "qcow2"}},
		"compression":                {1 << 20, Options{Compression: 9}},
		"L1 too big":                 {1 << 50, Options{ClusterSize: 512}},
	} {
		_, err := New(f, o.size, &o.opts)
		assert.ErrorIs(t, err, ErrInvalid, name)
	}
}

// TestReadBack opens a written image with package qcow2 (the SDK's reader):
// every cluster has the kind it was written as (data, compressed, zero,
// unallocated), and data clusters are where the L2 entries say.
func TestReadBack(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	const cs, size = 4096, 200 * 4096
	p := newPlan(rng, size, cs, nil)
	path := filepath.Join(t.TempDir(), "r.qcow2")
	w, f := create(t, path, size, &Options{ClusterSize: cs, Compression: Zstd})
	p.write(t, rng, w, 4)
	require.NoError(t, w.Close())
	st, err := f.Stat()
	require.NoError(t, err)
	img, err := qcow2.Open(f, st.Size(), nil)
	require.NoError(t, err)
	seen := map[int64]qcow2.ClusterKind{}
	for c, err := range img.Clusters(img.ActiveView()) {
		require.NoError(t, err)
		seen[c.GuestOffset] = c.Kind
		if c.Kind == qcow2.ClusterData {
			got := make([]byte, cs)
			_, err := f.ReadAt(got, int64(c.HostOffset))
			require.NoError(t, err)
			assert.Equal(t, p.data[c.GuestOffset/cs], got, "data at guest %d", c.GuestOffset)
		}
	}
	got := make([]byte, size)
	un, err := img.ReadView(img.ActiveView(), got, 0, f)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(p.want, got), "the SDK's reader reads the image as written (zstd clusters decompressed)")
	for _, e := range un {
		assert.Equal(t, untouched, p.kinds[e.Offset/cs], "unallocated %v", e)
	}
	for i, k := range p.kinds {
		off := int64(i) * cs
		want := map[clusterKind]qcow2.ClusterKind{
			untouched: qcow2.ClusterUnallocated, randomData: qcow2.ClusterData,
			compressible: qcow2.ClusterCompressed, zeroData: qcow2.ClusterCompressed, zeroFlag: qcow2.ClusterZero,
		}[k]
		got, ok := seen[off]
		if !ok {
			got = qcow2.ClusterUnallocated
		}
		assert.Equal(t, want, got, "cluster %d written as %d", i, k)
	}
}

// TestL2Eviction writes images in random order with room for four L2
// tables in memory: tables are written out and read back again and again,
// and the images are still exact; a writer on a file it cannot read keeps
// every table.
func TestL2Eviction(t *testing.T) {
	qemutools.Need(t, "qemu-img")
	defer func(b int64) { l2Budget = b }(l2Budget)
	l2Budget = 0
	for _, cs := range []int64{512, 4096} {
		rng := rand.New(rand.NewPCG(uint64(cs), 5))
		size := 40 * (cs / 8) * cs // 40 L2 tables
		p := newPlan(rng, size, cs, nil)
		path := filepath.Join(t.TempDir(), "e.qcow2")
		w, _ := create(t, path, size, &Options{ClusterSize: cs, Compression: Zstd})
		require.NotNil(t, w.r)
		p.write(t, rng, w, 3)
		assert.LessOrEqual(t, w.resident, int64(5))
		require.NoError(t, w.Close())
		checkImage(t, path)
		assert.True(t, bytes.Equal(p.want, qemutools.ExportRaw(t, path, "")), "cluster size %d", cs)
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "w.qcow2"))
	require.NoError(t, err)
	defer f.Close()
	w, err := New(writeOnly{f}, 1<<20, &Options{ClusterSize: 512})
	require.NoError(t, err)
	assert.Nil(t, w.r, "a file that does not read keeps its tables")
}

type writeOnly struct{ f *os.File }

func (w writeOnly) WriteAt(p []byte, off int64) (int, error) { return w.f.WriteAt(p, off) }
