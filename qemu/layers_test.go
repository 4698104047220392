package qemu_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/qemutools"
	"github.com/changedblocks/sdk/qemu"
)

// layerCollect gathers what a LayerFile allocates in [off, end).
func layerCollect(t *testing.T, f *qemu.LayerFile, off, end int64) []extent.Extent {
	t.Helper()
	var out []extent.Extent
	for e, err := range f.Allocated(t.Context(), off, end) {
		require.NoError(t, err)
		out = append(out, e)
	}
	return out
}

func TestLayerFile(t *testing.T) {
	qemutools.Need(t, "qemu-img", "qemu-io")
	dir := t.TempDir()
	base := filepath.Join(dir, "base.raw")
	qemutools.CreateAs(t, "raw", base, "", "1M")
	qemutools.QemuIOAs(t, "raw", base, "write -P 1 0 1M")
	// The overlay names its backing file by a name that does not resolve
	// from where it is: OpenLayerFile must not follow it.
	top := filepath.Join(dir, "top.qcow2")
	qemutools.Create(t, top, "cluster_size=64k", "2M", "-b", "base.raw", "-F", "raw")
	qemutools.QemuIO(t, top, "write -P 2 64k 64k", "write -z 256k 64k", "discard 512k 64k")
	qemutools.QemuImg(t, "rebase", "-u", "-f", "qcow2", "-b", "../elsewhere/base.raw", "-F", "raw", top)

	f, err := qemu.OpenLayerFile(top, "", nil)
	require.NoError(t, err)
	defer func() { assert.NoError(t, f.Close()) }()
	assert.Equal(t, "qcow2", f.Format())
	assert.Equal(t, top, f.Path())
	assert.Equal(t, "../elsewhere/base.raw", f.BackingFile())
	assert.Equal(t, "raw", f.BackingFormat())
	assert.Equal(t, int64(2<<20), f.VirtualSize())
	assert.Equal(t, int64(64<<10), f.Granularity())
	assert.Equal(t, int64(8192*64<<10), f.MappingSpan())
	assert.False(t, f.Busy())
	// Data, a zero cluster and a discarded one (a zero cluster over a
	// backing file) are all the layer's own: what qemu-img map shows present.
	got := layerCollect(t, f, 0, 2<<20)
	assert.Equal(t, []extent.Extent{{Offset: 64 << 10, Length: 64 << 10}, {Offset: 256 << 10, Length: 64 << 10}, {Offset: 512 << 10, Length: 64 << 10}}, got)
	assert.Equal(t, []extent.Extent{{Offset: 300 << 10, Length: 20 << 10}}, layerCollect(t, f, 300<<10, 320<<10))

	r, err := qemu.OpenLayerFile(base, "raw", nil)
	require.NoError(t, err)
	defer func() { assert.NoError(t, r.Close()) }()
	assert.Equal(t, "raw", r.Format())
	assert.Equal(t, "", r.BackingFile())
	assert.Equal(t, "", r.BackingFormat())
	assert.Equal(t, int64(512), r.Granularity())
	assert.Zero(t, r.MappingSpan())
	assert.Equal(t, []extent.Extent{{Offset: 0, Length: 1 << 20}}, layerCollect(t, r, 0, 4<<20))

	// A cancelled context ends the walk with its error.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var errs []error
	for _, err := range f.Allocated(ctx, 0, 2<<20) {
		errs = append(errs, err)
	}
	require.Len(t, errs, 1)
	assert.ErrorIs(t, errs[0], context.Canceled)

	// Probing a file that is not qcow2 gives raw; asking for qcow2 fails.
	p, err := qemu.OpenLayerFile(base, "", nil)
	require.NoError(t, err)
	assert.Equal(t, "raw", p.Format())
	require.NoError(t, p.Close())
	require.NoError(t, p.Close(), "Close is idempotent")
	_, err = qemu.OpenLayerFile(base, "qcow2", nil)
	assert.ErrorIs(t, err, cbt.ErrUnsupported)
	_, err = qemu.OpenLayerFile(base, "vmdk", nil)
	assert.ErrorIs(t, err, cbt.ErrUnsupported)
	_, err = qemu.OpenLayerFile(filepath.Join(dir, "missing"), "", nil)
	assert.ErrorIs(t, err, cbt.ErrNotFound)
	_, err = qemu.OpenLayerFile(dir, "", nil)
	assert.ErrorIs(t, err, cbt.ErrInvalidArgument, "a path the caller passed that is a directory")
	// A qcow2 header whose tables lie beyond the end of the file.
	head, err := os.ReadFile(top)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cut.qcow2"), head[:4096], 0o644))
	_, err = qemu.OpenLayerFile(filepath.Join(dir, "cut.qcow2"), "qcow2", nil)
	assert.ErrorIs(t, err, cbt.ErrCorrupt)
}

// TestLayerFileBusy: a file a running qemu holds for writing gives
// cbt.ErrBusy, and with ForceShare its allocation is refused.
func TestLayerFileBusy(t *testing.T) {
	qemutools.Need(t, "qemu-img", "qemu-io")
	if runtime.GOOS != "linux" {
		t.Skip("locks are checked on Linux only")
	}
	p := filepath.Join(t.TempDir(), "held.qcow2")
	qemutools.Create(t, p, "", "1M")
	qemutools.Hold(t, "qcow2", p)
	_, err := qemu.OpenLayerFile(p, "", nil)
	require.ErrorIs(t, err, cbt.ErrBusy)
	f, err := qemu.OpenLayerFile(p, "qcow2", &qemu.Options{ForceShare: true})
	require.NoError(t, err)
	defer f.Close()
	assert.True(t, f.Busy())
	var errs []error
	for _, err := range f.Allocated(t.Context(), 0, 1<<20) {
		errs = append(errs, err)
	}
	require.Len(t, errs, 1)
	assert.ErrorIs(t, errs[0], cbt.ErrBusy)
}
