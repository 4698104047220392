package qcow2

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/internal/qemutools"
)

// readWhole reads a view whole with ReadView in reads of random sizes (so
// that reads start and end inside clusters and subclusters), filling the
// unallocated ranges it reports from below (nil: zeros).
func readWhole(t *testing.T, rng *rand.Rand, img *Image, v View, data io.ReaderAt, size int64, below []byte) []byte {
	t.Helper()
	out := make([]byte, size)
	for off := int64(0); off < size; {
		n := min(size-off, 1+rng.Int64N(3*img.Header.ClusterSize()))
		p := out[off : off+n]
		un, err := img.ReadView(v, p, off, data)
		require.NoError(t, err, "read [%d, +%d)", off, n)
		for _, e := range un {
			require.True(t, e.Offset >= off && e.End() <= off+n, "unallocated %v outside the read", e)
			require.True(t, bytes.Equal(p[e.Offset-off:e.End()-off], make([]byte, e.Length)), "unallocated %v is not zeros", e)
			if below != nil && e.Offset < int64(len(below)) {
				copy(p[e.Offset-off:e.End()-off], below[e.Offset:min(e.End(), int64(len(below)))])
			}
		}
		off += n
	}
	return out
}

// TestReadViewGroundTruth reads images of every family the listing tests
// cover (cluster sizes, extended L2, v2, compressed with zlib and zstd,
// zero and discarded clusters, internal snapshots, external data files)
// and compares every byte with what `qemu-img convert` exports.
func TestReadViewGroundTruth(t *testing.T) {
	needTools(t, "qemu-img", "qemu-io")
	const size = 6<<20 + 3*512
	cases := []struct{ name, opts, compress string }{
		{"512", "cluster_size=512", ""},
		{"4k", "cluster_size=4096", ""},
		{"64k", "", ""},
		{"2M", "cluster_size=2M", ""},
		{"v2", "compat=0.10", ""},
		{"extl2-32k", "extended_l2=on,cluster_size=32k", ""},
		{"extl2-2M", "extended_l2=on,cluster_size=2M", ""},
		{"zlib-4k", "cluster_size=4096", "zlib"},
		{"zlib-64k", "", "zlib"},
		{"zstd-64k", "compression_type=zstd", "zstd"},
		{"zstd-2M", "compression_type=zstd,cluster_size=2M", "zstd"},
		{"data-file", "data_file=DATA", ""},
		{"data-file-raw", "data_file=DATA,data_file_raw=on", ""},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 11))
			dir := t.TempDir()
			path := filepath.Join(dir, "img.qcow2")
			dataPath := filepath.Join(dir, "data.raw")
			opts := c.opts
			if c.opts != "" {
				opts = replaceAll(opts, "DATA", dataPath)
			}
			createImage(t, path, opts, fmt.Sprint(size))
			qemutools.RandomIO(t, rng, path, size, 40, 300)
			if c.compress != "" {
				// Compressed clusters: convert with -c, then overwrite some.
				comp := filepath.Join(dir, "comp.qcow2")
				args := []string{"convert", "-c", "-O", "qcow2"}
				if opts != "" {
					args = append(args, "-o", opts)
				}
				qemuImg(t, append(args, path, comp)...)
				path = comp
				qemutools.RandomIO(t, rng, path, size, 10, 300)
			}
			var snaps []string
			if c.compress == "" && !contains(c.opts, "data_file") {
				qemuImg(t, "snapshot", "-c", "s1", path)
				snaps = append(snaps, "s1")
				qemutools.RandomIO(t, rng, path, size, 20, 300)
			}
			img := openFile(t, path, nil)
			data := img.r
			if img.Header.ExternalDataFile() {
				f, err := os.Open(dataPath)
				require.NoError(t, err)
				defer f.Close()
				data = f
			}
			got := readWhole(t, rng, img, img.ActiveView(), data, size, nil)
			want := qemutools.ExportRaw(t, path, "")
			if !bytes.Equal(want, got) {
				t.Fatalf("active view: first difference at %d", firstDifference(want, got))
			}
			ss, err := img.Snapshots()
			require.NoError(t, err)
			for _, name := range snaps {
				for _, s := range ss {
					if s.Name != name {
						continue
					}
					v, err := img.SnapshotView(&s)
					require.NoError(t, err)
					got := readWhole(t, rng, img, v, data, size, nil)
					want := qemutools.ExportRaw(t, path, name)
					if !bytes.Equal(want, got) {
						t.Fatalf("snapshot %s: first difference at %d", name, firstDifference(want, got))
					}
				}
			}
		})
	}
}

// TestReadViewBacking reads an overlay whose backing file is shorter: the
// ranges ReadView leaves to the caller, filled from the backing file's
// export (zeros past it), give the overlay's export.
func TestReadViewBacking(t *testing.T) {
	needTools(t, "qemu-img", "qemu-io")
	rng := rand.New(rand.NewPCG(5, 5))
	dir := t.TempDir()
	base := filepath.Join(dir, "base.qcow2")
	top := filepath.Join(dir, "top.qcow2")
	createImage(t, base, "cluster_size=4096", "3M")
	qemutools.RandomIO(t, rng, base, 3<<20, 30, 300)
	createImage(t, top, "extended_l2=on,cluster_size=64k", "5M", "-b", base, "-F", "qcow2")
	qemutools.RandomIO(t, rng, top, 5<<20, 30, 300)
	below := qemutools.ExportRaw(t, base, "")
	img := openFile(t, top, nil)
	got := readWhole(t, rng, img, img.ActiveView(), img.r, 5<<20, below)
	want := qemutools.ExportRaw(t, top, "")
	if !bytes.Equal(want, got) {
		t.Fatalf("first difference at %d", firstDifference(want, got))
	}
}

func TestReadViewRefusals(t *testing.T) {
	needTools(t, "qemu-img")
	dir := t.TempDir()
	path := filepath.Join(dir, "enc.qcow2")
	createImageRetry(t, path, "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10", "1M", "--object", "secret,id=sec0,data=x")
	img := openFile(t, path, nil)
	_, err := img.ReadView(img.ActiveView(), make([]byte, 512), 0, img.r)
	assert.ErrorIs(t, err, ErrUnsupported)
}

func firstDifference(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func replaceAll(s, old, new string) string {
	return string(bytes.ReplaceAll([]byte(s), []byte(old), []byte(new)))
}
func contains(s, sub string) bool { return bytes.Contains([]byte(s), []byte(sub)) }
