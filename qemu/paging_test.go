package qemu

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/driver"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/qemutools"
	"github.com/stretchr/testify/require"
)

// TestPaging lists images with 512-byte clusters (pages of 2 MiB) with pages
// cut short by the extent bound too, and checks that every page is bounded and
// makes progress, and that the pages together give the same listing as one
// walk: what qemu-img map says is present, down the chain.
func TestPaging(t *testing.T) {
	qemutools.Need(t, "qemu-img", "qemu-io")
	dir := t.TempDir()
	base, top := filepath.Join(dir, "base.qcow2"), filepath.Join(dir, "top.qcow2")
	qemutools.Create(t, base, "cluster_size=512", "8M")
	qemutools.Create(t, top, "cluster_size=512", "8M", "-b", "base.qcow2", "-F", "qcow2")
	rng := rand.New(rand.NewPCG(3, 4))
	for _, p := range []string{base, top} {
		var cmds []string
		for range 300 {
			off := rng.Int64N(8<<20/512) * 512
			cmds = append(cmds, fmt.Sprintf("write -P 1 %d %d", off, min(int64(1+rng.IntN(4))*512, 8<<20-off)))
		}
		qemutools.QemuIO(t, p, cmds...)
	}
	qemutools.QemuImg(t, "snapshot", "-c", "s1", top)
	qemutools.QemuIO(t, top, "write -P 2 0 4k", "write -P 2 5M 64k")
	want := extent.Normalize(qemutools.MapWhere(qemutools.Map(t, top), func(m qemutools.MapEntry) bool { return m.Data || m.Zero && m.Present }))

	im, err := OpenImage(top, &Options{TrustUnguarded: true})
	require.NoError(t, err)
	defer im.Close()
	pt, err := im.c.resolveAt(Active())
	require.NoError(t, err)
	require.True(t, im.c.acquire())
	drv := newDisk(im.c, pt)
	defer drv.Close()
	require.Equal(t, int64(2<<20), drv.page)

	walk := func(since string, limit int) ([]extent.Extent, int) {
		old := pageExtents
		pageExtents = limit
		defer func() { pageExtents = old }()
		var all []extent.Extent
		pages := 0
		for off := int64(0); off < pt.capacity; pages++ {
			got, next, err := drv.ChangedExtents(context.Background(), driver.Request{Since: since, Offset: off, End: pt.capacity}, nil)
			require.NoError(t, err)
			require.Greater(t, next, off)
			require.LessOrEqual(t, next-off, drv.page)
			require.LessOrEqual(t, len(got), 2*limit+1)
			for _, e := range got {
				require.Less(t, e.Offset, next)
			}
			all = append(all, got...)
			off = next
		}
		return extent.Normalize(all), pages
	}
	full, pages := walk("", 8192)
	require.Equal(t, want, full)
	require.Equal(t, 4, pages)
	cut, pages := walk("", 7)
	require.Equal(t, full, cut)
	require.Greater(t, pages, 40)

	diff, _ := walk("snapshot:s1", 8192)
	require.Equal(t, []extent.Extent{{Offset: 0, Length: 4096}, {Offset: 5 << 20, Length: 64 << 10}}, diff)
	diffCut, _ := walk("snapshot:s1", 1)
	require.Equal(t, diff, diffCut)

	// Through cbt, with resumes.
	d, err := im.Open(Active())
	require.NoError(t, err)
	defer d.Close()
	got, err := cbt.Collect(d.Changes(context.Background(), cbt.ChangeID{}, nil))
	require.NoError(t, err)
	require.Equal(t, full, got)
	tail, err := cbt.Collect(d.Changes(context.Background(), cbt.ChangeID{}, &cbt.ChangesOptions{StartOffset: 3<<20 + 100}))
	require.NoError(t, err)
	require.Equal(t, extent.ClipSlice(append([]extent.Extent(nil), full...), 3<<20+100, pt.capacity), tail)
}

// TestConcurrentChanges lists one disk from several goroutines (run with -race).
func TestConcurrentChanges(t *testing.T) {
	qemutools.Need(t, "qemu-img", "qemu-io")
	p := filepath.Join(t.TempDir(), "c.qcow2")
	qemutools.Create(t, p, "cluster_size=4k", "16M")
	qemutools.QemuIO(t, p, "write -P 1 0 1M", "write -P 1 9M 64k")
	qemutools.QemuImg(t, "snapshot", "-c", "s1", p)
	qemutools.QemuIO(t, p, "write -P 2 4M 4k")
	d, err := OpenActive(p, &Options{TrustUnguarded: true})
	require.NoError(t, err)
	defer d.Close()
	s1, err := SnapshotPoint("s1").ChangeID()
	require.NoError(t, err)
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			since := cbt.ChangeID{}
			if i%2 == 1 {
				since = s1
			}
			_, err := cbt.Collect(d.Changes(context.Background(), since, nil))
			errs <- err
		}()
	}
	for range 8 {
		require.NoError(t, <-errs)
	}
}
