package qemu_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/qemutools"
	"github.com/changedblocks/sdk/qemu"
)

// TestWindowAtGrownTail: a base smaller than its overlay counts as changed
// past its size, widened to granules; a window that ends in the granule the
// base's end lies in gets that listing clipped, like any other window (found
// by the rhv window tests: the tail was compared with the window's end, not
// the widened window's).
func TestWindowAtGrownTail(t *testing.T) {
	qemutools.Need(t, "qemu-img")
	dir := t.TempDir()
	base := filepath.Join(dir, "base.qcow2")
	top := filepath.Join(dir, "top.qcow2")
	qemutools.Create(t, base, "cluster_size=65536", "1049088") // 1 MiB + 512
	qemutools.Create(t, top, "cluster_size=65536", "2M", "-b", base, "-F", "qcow2")
	d, err := qemu.OpenActive(top, trusted)
	require.NoError(t, err)
	defer d.Close()
	since, err := qemu.LayerPoint(base).ChangeID()
	require.NoError(t, err)
	full, err := cbt.Collect(d.Changes(context.Background(), since, nil))
	require.NoError(t, err)
	require.Equal(t, []extent.Extent{{Offset: 1 << 20, Length: 1 << 20}}, full)
	for _, w := range [][2]int64{{0, 1<<20 + 256}, {0, 1<<20 + 1}, {1<<20 - 4096, 8192}, {1<<20 + 512, 100}} {
		got, err := cbt.Collect(d.Changes(context.Background(), since, &cbt.ChangesOptions{StartOffset: w[0], Length: w[1]}))
		require.NoError(t, err)
		require.Equal(t, extent.ClipSlice(append([]extent.Extent(nil), full...), w[0], w[0]+w[1]), got, "window %v", w)
	}
}
