package backup_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/backup"
	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/driver"
	"github.com/changedblocks/sdk/cbt/memcbt"
	"github.com/changedblocks/sdk/internal/qemutools"
)

func readAll(t *testing.T, d *cbt.Disk) []byte {
	t.Helper()
	b, err := io.ReadAll(io.NewSectionReader(d.ReaderAt(t.Context()), 0, d.Capacity()))
	require.NoError(t, err)
	return b
}

// restore exports a backup chain with qemu-img, as a user restores it.
func restore(t *testing.T, file string, capacity int64) []byte {
	t.Helper()
	b := qemutools.ExportRaw(t, file, "")
	require.GreaterOrEqual(t, int64(len(b)), capacity)
	require.True(t, bytes.Equal(b[capacity:], make([]byte, int64(len(b))-capacity)), "past the capacity: zeros")
	return b[:capacity]
}

func check(t *testing.T, file string) {
	t.Helper()
	qemutools.QemuImg(t, "check", "-q", file)
}

func randomWrites(t *testing.T, rng *rand.Rand, v *memcbt.Volume, n int) {
	t.Helper()
	for range n {
		off := rng.Int64N(v.Capacity())
		l := min(v.Capacity()-off, 1+rng.Int64N(200000))
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

// TestChains takes a full backup and three incrementals of random
// workloads, for several cluster sizes, compressions and odd disk sizes:
// each file passes qemu-img check and the newest file of the chain,
// converted by qemu-img, is the disk at its point, byte for byte; the
// chain still restores after its directory moved.
func TestChains(t *testing.T) {
	qemutools.Need(t, "qemu-img")
	cases := []struct {
		capacity int64
		opts     backup.Options
	}{
		{4 << 20, backup.Options{}},
		{4<<20 + 1000, backup.Options{ClusterSize: 4096, Compression: backup.Zstd, Workers: 3, ChunkSize: 64 << 10}},
		{3<<20 + 512, backup.Options{ClusterSize: 512, Compression: backup.Zlib}},
		{5 << 20, backup.Options{ClusterSize: 2 << 20, Workers: 1}},
	}
	for i, c := range cases {
		t.Run(fmt.Sprintf("%d-%d-%s", c.capacity, c.opts.ClusterSize, c.opts.Compression), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			dir := t.TempDir()
			v, err := memcbt.NewVolume(c.capacity, &memcbt.Options{Granularity: 512})
			require.NoError(t, err)
			var prev string
			var since cbt.ChangeID
			for round := range 4 {
				randomWrites(t, rng, v, 10+rng.IntN(20))
				p, err := v.ChangePoint()
				require.NoError(t, err)
				d, err := v.Open(p)
				require.NoError(t, err)
				file := filepath.Join(dir, fmt.Sprintf("%04d.qcow2", round))
				o := c.opts
				var m *backup.Manifest
				if round == 0 {
					m, err = backup.Full(t.Context(), d, file, &o)
				} else {
					m, err = backup.Incremental(t.Context(), d, since, file, prev, &o)
				}
				require.NoError(t, err, "round %d", round)
				check(t, file)
				want := readAll(t, d)
				require.NoError(t, d.Close())
				if got := restore(t, file, c.capacity); !bytes.Equal(want, got) {
					t.Fatalf("round %d: the restored chain differs from the disk", round)
				}
				assert.Equal(t, p.String(), m.ChangeID)
				back, err := backup.ReadManifest(file)
				require.NoError(t, err)
				assert.Equal(t, m.ChangeID, back.ChangeID)
				if round > 0 {
					assert.Equal(t, filepath.Base(prev), back.Backing, "the backing file is named relative to the overlay")
					assert.Equal(t, since.String(), back.Since)
				}
				prev, since = file, p
			}
			moved := filepath.Join(t.TempDir(), "moved")
			require.NoError(t, os.Rename(dir, moved))
			d, err := v.Open(since)
			require.NoError(t, err)
			defer d.Close()
			assert.True(t, bytes.Equal(readAll(t, d), restore(t, filepath.Join(moved, "0003.qcow2"), c.capacity)), "a moved chain restores")
		})
	}
}

// failing fails every read after the first few.
type failing struct {
	driver.Disk
	r    driver.Reader
	left int
}

func (f *failing) ReadAt(ctx context.Context, p []byte, off int64) error {
	if f.left--; f.left < 0 {
		return errors.New("device gone")
	}
	return f.r.ReadAt(ctx, p, off)
}

// TestRefusalsAndCleanup: an incremental onto a file that holds another
// point, a file that exists, and failures and cancels part way, which leave
// the directory as it was.
func TestRefusalsAndCleanup(t *testing.T) {
	qemutools.Need(t, "qemu-img")
	dir := t.TempDir()
	v, err := memcbt.NewVolume(4<<20, nil)
	require.NoError(t, err)
	require.NoError(t, v.Write(0, 4<<20))
	p1, _ := v.ChangePoint()
	d1, err := v.Open(p1)
	require.NoError(t, err)
	defer d1.Close()
	full := filepath.Join(dir, "full.qcow2")
	_, err = backup.Full(t.Context(), d1, full, nil)
	require.NoError(t, err)

	_, err = backup.Full(t.Context(), d1, full, nil)
	assert.ErrorIs(t, err, cbt.ErrInvalidArgument, "never replaces a file")

	require.NoError(t, v.Write(0, 100))
	p2, _ := v.ChangePoint()
	require.NoError(t, v.Write(4096, 100))
	p3, _ := v.ChangePoint()
	d3, err := v.Open(p3)
	require.NoError(t, err)
	defer d3.Close()
	_, err = backup.Incremental(t.Context(), d3, p2, filepath.Join(dir, "inc.qcow2"), full, nil)
	assert.ErrorIs(t, err, cbt.ErrInvalidArgument, "full holds p1, not p2")
	assert.ErrorContains(t, err, "holds "+p1.String())
	_, err = backup.Incremental(t.Context(), d3, p1, filepath.Join(dir, "inc.qcow2"), filepath.Join(dir, "none.qcow2"), nil)
	assert.ErrorIs(t, err, cbt.ErrNotFound)

	before := listDir(t, dir)
	drv, err := v.OpenDriver(p3)
	require.NoError(t, err)
	bad, err := cbt.NewDisk(&failing{Disk: drv, r: drv.(driver.Reader), left: 0})
	require.NoError(t, err)
	defer bad.Close()
	_, err = backup.Incremental(t.Context(), bad, p1, filepath.Join(dir, "inc.qcow2"), full, &backup.Options{ChunkSize: 64 << 10})
	assert.ErrorContains(t, err, "device gone")
	assert.Equal(t, before, listDir(t, dir), "a failed backup leaves nothing behind")

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = backup.Full(ctx, d3, filepath.Join(dir, "f2.qcow2"), nil)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, before, listDir(t, dir), "a cancelled backup leaves nothing behind")

	_, err = backup.Full(t.Context(), d3, filepath.Join(dir, "f3.qcow2"), &backup.Options{Compression: "lz4"})
	assert.ErrorIs(t, err, cbt.ErrInvalidArgument)
	assert.Equal(t, before, listDir(t, dir))
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

// TestManifestJSON: the manifest is the documented JSON, and a manifest of
// another version is refused.
func TestManifestJSON(t *testing.T) {
	dir := t.TempDir()
	v, _ := memcbt.NewVolume(1<<20, nil)
	require.NoError(t, v.WriteData(0, []byte("x")))
	p, _ := v.ChangePoint()
	d, _ := v.Open(p)
	defer d.Close()
	file := filepath.Join(dir, "f.qcow2")
	_, err := backup.Full(t.Context(), d, file, nil)
	require.NoError(t, err)
	var raw map[string]any
	b, err := os.ReadFile(backup.ManifestPath(file))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &raw))
	for _, k := range []string{"version", "file", "source", "scheme", "capacity", "changeId", "clusterSize", "bytes", "extents", "sums", "started", "finished"} {
		assert.Contains(t, raw, k)
	}
	raw["version"] = 99
	b, _ = json.Marshal(raw)
	require.NoError(t, os.WriteFile(backup.ManifestPath(file), b, 0o644))
	_, err = backup.ReadManifest(file)
	assert.ErrorIs(t, err, cbt.ErrCorrupt)
}
