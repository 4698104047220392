package qemu_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/qemutools"
	"github.com/changedblocks/sdk/qemu"
)

func readDisk(t *testing.T, d *cbt.Disk) []byte {
	t.Helper()
	require.NoError(t, d.Readable())
	b, err := io.ReadAll(io.NewSectionReader(d.ReaderAt(t.Context()), 0, d.Capacity()))
	require.NoError(t, err)
	return b
}

// TestReadGroundTruth builds random chains (a raw or qcow2 base shorter
// than the overlays, overlays of several cluster sizes, extended L2,
// compressed clusters), takes snapshots, and reads the disk at every point
// kind (active, snapshot, layer, a bitmap made by OpenNext) through
// cbt.Disk.ReadAt: every byte equals what qemu-img convert exports of the
// same point.
func TestReadGroundTruth(t *testing.T) {
	qemutools.Need(t, "qemu-img", "qemu-io")
	for _, seed := range chainSeeds(t) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 77))
			paths := randomChain(t, rng)
			top := paths[len(paths)-1]
			check := func(what string, d *cbt.Disk, want []byte) {
				t.Helper()
				defer d.Close()
				got := readDisk(t, d)
				if !bytes.Equal(want, got) {
					t.Fatalf("seed %d, %s: the read differs from qemu-img's export", seed, what)
				}
			}
			d, err := qemu.OpenActive(top, nil)
			require.NoError(t, err)
			check("active", d, qemutools.ExportRaw(t, top, ""))
			d, err = qemu.OpenSnapshot(top, "s1", nil)
			require.NoError(t, err)
			check("snapshot", d, qemutools.ExportRaw(t, top, "s1")[:d.Capacity()])
			if len(paths) > 2 {
				mid := paths[len(paths)-2]
				d, err = qemu.Open(top, qemu.LayerPoint(mid), nil)
				require.NoError(t, err)
				check("layer", d, qemutools.ExportRaw(t, mid, ""))
			}
			want := qemutools.ExportRaw(t, top, "")
			d, err = qemu.OpenNext(t.Context(), top, nil, nil)
			require.NoError(t, err)
			check("next bitmap", d, want)
		})
	}
}

// chainSeeds are the seeds of the random chains: three per ground-truth
// seed (6 by default, more with CBT_GROUNDTRUTH_SEEDS).
func chainSeeds(t *testing.T) []uint64 {
	var seeds []uint64
	for _, s := range gtSeeds(t) {
		seeds = append(seeds, 3*s-2, 3*s-1, 3*s)
	}
	return seeds
}

// randomChain builds a random chain in a new directory, base first: a raw or
// qcow2 base (preallocated or not) shorter than the overlays, 1-3 overlays
// of several cluster sizes (extended L2, preallocated, zstd, a compressed
// cluster), random writes, zero
// writes and discards, and an internal snapshot s1 of the top followed by
// more writes. It returns the paths, base first.
func randomChain(t *testing.T, rng *rand.Rand) []string {
	t.Helper()
	dir := t.TempDir()
	const size = 6 << 20
	base := filepath.Join(dir, "base.img")
	baseFmt := []string{"raw", "qcow2"}[rng.IntN(2)]
	baseOpts := ""
	if baseFmt == "qcow2" && rng.IntN(2) == 0 {
		baseOpts = "preallocation=metadata" // data clusters in holes of the file
	}
	qemutools.CreateAs(t, baseFmt, base, baseOpts, fmt.Sprint(size-1<<20-512*rng.Int64N(100)))
	bsize := qemutools.InfoAs(t, baseFmt, base).VirtualSize
	qemutools.QemuIOAs(t, baseFmt, base, fmt.Sprintf("write -P 7 0 %d", bsize/2))
	paths := []string{base}
	opts := []string{"cluster_size=4096", "extended_l2=on", "cluster_size=512", "", "compression_type=zstd", "preallocation=metadata,extended_l2=on"}
	for i := range 1 + rng.IntN(3) {
		p := filepath.Join(dir, fmt.Sprintf("l%d.qcow2", i))
		f := "qcow2"
		if i == 0 {
			f = baseFmt
		}
		o := opts[rng.IntN(len(opts))]
		qemutools.Create(t, p, o, fmt.Sprint(size), "-b", filepath.Base(paths[len(paths)-1]), "-F", f)
		if o == "" || o == "compression_type=zstd" { // 64 KiB clusters: one compressed, written first
			qemutools.QemuIO(t, p, fmt.Sprintf("write -c -P 9 %d 65536", rng.Int64N(size/65536)*65536))
		}
		qemutools.RandomIO(t, rng, p, size, 20, 400)
		paths = append(paths, p)
	}
	top := paths[len(paths)-1]
	qemutools.QemuImg(t, "snapshot", "-c", "s1", top)
	qemutools.RandomIO(t, rng, top, size, 20, 400)
	return paths
}

// TestReadRefusals: an encrypted image lists but does not read, and says so
// before a read is tried; a busy image's active state is refused, its
// snapshots read.
func TestReadRefusals(t *testing.T) {
	qemutools.Need(t, "qemu-img", "qemu-io", "qemu-nbd")
	dir := t.TempDir()
	enc := filepath.Join(dir, "enc.qcow2")
	// qemu-img may fail to time the key derivation on a loaded machine
	// ("Unable to get accurate CPU usage"): try a few times.
	for try := 0; ; try++ {
		out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", "--object", "secret,id=sec0,data=x", "-o", "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10", enc, "1M").CombinedOutput()
		if err == nil {
			break
		}
		require.Less(t, try, 5, "qemu-img create: %v: %s", err, out)
		_ = os.Remove(enc)
	}
	d, err := qemu.OpenActive(enc, nil)
	require.NoError(t, err)
	defer d.Close()
	assert.ErrorIs(t, d.Readable(), cbt.ErrUnsupported)
	assert.ErrorContains(t, d.Readable(), "encrypted")

	img := filepath.Join(dir, "busy.qcow2")
	qemutools.Create(t, img, "", "4M")
	qemutools.QemuIO(t, img, "write -P 3 0 64k")
	qemutools.QemuImg(t, "snapshot", "-c", "s1", img)
	want := qemutools.ExportRaw(t, img, "s1")
	qemutools.Hold(t, "qcow2", img)
	d, err = qemu.OpenActive(img, &qemu.Options{ForceShare: true})
	require.NoError(t, err)
	defer d.Close()
	_, err = d.ReadAt(t.Context(), make([]byte, 4096), 0)
	assert.ErrorIs(t, err, cbt.ErrBusy)
	s, err := qemu.OpenSnapshot(img, "s1", &qemu.Options{ForceShare: true})
	require.NoError(t, err)
	defer s.Close()
	assert.Equal(t, want, readDisk(t, s), "a snapshot of a busy image reads")
}

// TestZerosGroundTruth: on random chains, every area the disk lists as
// reading zeros (cbt.Disk.Zeros) reads as zeros in qemu-img's export, at the
// active state, a snapshot and a layer; and at the active state it is
// exactly what `qemu-img map` reports as zero.
func TestZerosGroundTruth(t *testing.T) {
	qemutools.Need(t, "qemu-img", "qemu-io")
	for _, seed := range chainSeeds(t) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 78))
			paths := randomChain(t, rng)
			top := paths[len(paths)-1]
			check := func(what string, d *cbt.Disk, data []byte) []extent.Extent {
				t.Helper()
				defer d.Close()
				zs, err := cbt.Collect(d.Zeros(t.Context(), nil))
				require.NoError(t, err, what)
				for _, z := range zs {
					if !bytes.Equal(data[z.Offset:z.End()], make([]byte, z.Length)) {
						t.Fatalf("seed %d, %s: %v is listed as zeros but does not read as zeros", seed, what, z)
					}
				}
				return zs
			}
			d, err := qemu.OpenActive(top, nil)
			require.NoError(t, err)
			zs := check("active", d, qemutools.ExportRaw(t, top, ""))
			want := qemutools.MapWhere(qemutools.Map(t, top), func(e qemutools.MapEntry) bool { return e.Zero })
			assert.Equal(t, want, zs, "seed %d: the zero areas of qemu-img map", seed)
			t.Logf("seed %d: %d zero areas, %d bytes", seed, len(zs), extent.TotalSlice(zs))
			d, err = qemu.OpenSnapshot(top, "s1", nil)
			require.NoError(t, err)
			check("snapshot", d, qemutools.ExportRaw(t, top, "s1")[:d.Capacity()])
			if len(paths) > 2 {
				mid := paths[len(paths)-2]
				d, err = qemu.Open(top, qemu.LayerPoint(mid), nil)
				require.NoError(t, err)
				check("layer", d, qemutools.ExportRaw(t, mid, ""))
			}
		})
	}
}
