package imagelayer_test

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/imagelayer"
	"github.com/changedblocks/sdk/internal/qemutools"
)

// collect gathers what a layer allocates in [off, end).
func collect(t *testing.T, l imagelayer.Layer, off, end int64) []extent.Extent {
	t.Helper()
	var out []extent.Extent
	for e, err := range l.Allocated(off, end) {
		require.NoError(t, err)
		out = append(out, e)
	}
	return out
}

// TestAllocatedQcow2: data, zero and discarded clusters over a backing
// file are the layer's own, as `qemu-img map` reports them present; a
// window clips them.
func TestAllocatedQcow2(t *testing.T) {
	qemutools.Need(t, "qemu-img", "qemu-io")
	dir := t.TempDir()
	base := filepath.Join(dir, "base.raw")
	qemutools.CreateAs(t, "raw", base, "", "2M")
	qemutools.QemuIOAs(t, "raw", base, "write -P 1 0 2M")
	top := filepath.Join(dir, "top.qcow2")
	qemutools.Create(t, top, "cluster_size=64k", "2M", "-b", "base.raw", "-F", "raw")
	qemutools.QemuIO(t, top, "write -P 2 64k 64k", "write -z 256k 128k", "discard 1M 64k", "write -P 3 1984k 64k")

	l := open(t, top, "", nil)
	got := collect(t, l, 0, l.VirtualSize())
	assert.Equal(t, []extent.Extent{{Offset: 64 << 10, Length: 64 << 10}, {Offset: 256 << 10, Length: 128 << 10},
		{Offset: 1 << 20, Length: 64 << 10}, {Offset: 1984 << 10, Length: 64 << 10}}, got)
	assert.Equal(t, qemutools.MapPresent(t, top), extent.CoalesceSlice(got, 0), "what qemu-img map shows present")
	assert.Equal(t, []extent.Extent{{Offset: 300 << 10, Length: 20 << 10}}, collect(t, l, 300<<10, 320<<10))
	assert.Empty(t, collect(t, l, 128<<10, 256<<10))
}

// TestAllocatedRaw: a sparse raw file yields its data regions in 512-byte
// sectors, never its holes.
func TestAllocatedRaw(t *testing.T) {
	qemutools.Need(t, "qemu-img", "qemu-io")
	p := filepath.Join(t.TempDir(), "disk.raw")
	qemutools.CreateAs(t, "raw", p, "", "8M")
	qemutools.QemuIOAs(t, "raw", p, "write -P 1 1M 64k", "write -P 2 5M 4k")
	l := open(t, p, "", nil)
	got := collect(t, l, 0, l.VirtualSize())
	require.NotEmpty(t, got)
	covered := func(off, n int64) bool {
		for _, e := range got {
			if e.Offset <= off && off+n <= e.End() {
				return true
			}
		}
		return false
	}
	assert.True(t, covered(1<<20, 64<<10), "%v", got)
	assert.True(t, covered(5<<20, 4<<10), "%v", got)
	for _, e := range got {
		assert.Zero(t, e.Offset%512, "%v", got)
		assert.Zero(t, e.Length%512, "%v", got)
	}
	if runtime.GOOS == "linux" {
		// The file system keeps the holes: far from the writes, no data.
		assert.False(t, covered(3<<20, 512), "a hole reported as data: %v", got)
		total := int64(0)
		for _, e := range got {
			total += e.Length
		}
		assert.Less(t, total, int64(2<<20), "%v", got)
	}
	// A window inside the data, and one beyond the end.
	assert.Equal(t, []extent.Extent{{Offset: 1<<20 + 512, Length: 512}}, collect(t, l, 1<<20+512, 1<<20+1024))
	assert.Empty(t, collect(t, l, 8<<20, 9<<20))
}

// TestAllocatedStop: a walk the caller leaves early ends there.
func TestAllocatedStop(t *testing.T) {
	qemutools.Need(t, "qemu-img", "qemu-io")
	dir := t.TempDir()
	q := filepath.Join(dir, "disk.qcow2")
	qemutools.Create(t, q, "cluster_size=64k", "1M")
	qemutools.QemuIO(t, q, "write -P 1 0 64k", "write -P 1 512k 64k")
	r := filepath.Join(dir, "disk.raw")
	qemutools.CreateAs(t, "raw", r, "", "1M")
	qemutools.QemuIOAs(t, "raw", r, "write -P 1 0 64k", "write -P 1 512k 64k")
	for _, p := range []string{q, r} {
		l := open(t, p, "", nil)
		n := 0
		for _, err := range l.Allocated(0, l.VirtualSize()) {
			require.NoError(t, err)
			n++
			break
		}
		assert.Equal(t, 1, n, p)
	}
}

// TestBusy: a file qemu holds for writing is refused, unless ForceShare;
// then Busy says so and a qcow2 layer's stale active tables are refused.
func TestBusy(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("qemu's locks are checked on Linux only")
	}
	qemutools.Need(t, "qemu-img")
	p := filepath.Join(t.TempDir(), "held.qcow2")
	qemutools.Create(t, p, "", "1M")
	qemutools.Hold(t, "qcow2", p)
	_, err := imagelayer.Open(p, "", nil)
	require.ErrorIs(t, err, imagelayer.ErrBusy)
	assert.ErrorContains(t, err, p)

	l := open(t, p, "", &imagelayer.Options{ForceShare: true})
	assert.True(t, l.Busy())
	var errs []error
	for _, err := range l.Allocated(0, l.VirtualSize()) {
		errs = append(errs, err)
	}
	require.Len(t, errs, 1)
	assert.ErrorIs(t, errs[0], imagelayer.ErrBusy)

	// Read as raw, the held file is its bytes as they are now.
	r := open(t, p, imagelayer.FormatRaw, &imagelayer.Options{ForceShare: true})
	assert.True(t, r.Busy())
	assert.NotEmpty(t, collect(t, r, 0, r.VirtualSize()))
}

// TestBlockDevice opens a qcow2 image on a loop device, as on a logical
// volume: its size is the device's, and it reads as the file does.
func TestBlockDevice(t *testing.T) {
	qemutools.Need(t, "qemu-img", "qemu-io")
	p := filepath.Join(t.TempDir(), "lv.qcow2")
	qemutools.Create(t, p, "cluster_size=64k", "4M")
	qemutools.QemuIO(t, p, "write -P 1 0 64k", "write -z 1M 64k")
	dev := qemutools.Loop(t, p)
	onFile := open(t, p, "", nil)
	onDev := open(t, dev, "", nil)
	assert.Equal(t, imagelayer.FormatQcow2, onDev.Format())
	assert.NotZero(t, onDev.Stat().Mode()&os.ModeDevice)
	assert.Equal(t, onFile.VirtualSize(), onDev.VirtualSize())
	assert.Equal(t, collect(t, onFile, 0, onFile.VirtualSize()), collect(t, onDev, 0, onDev.VirtualSize()))

	// As raw, the device is the file's bytes: the size of the file below.
	r := open(t, dev, imagelayer.FormatRaw, nil)
	assert.Equal(t, onFile.Stat().Size(), r.VirtualSize())
	assert.NotEmpty(t, collect(t, r, 0, r.VirtualSize()))
}
