package qemutools_test

import (
	"path/filepath"
	"testing"

	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/qemutools"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ext(off, n int64) extent.Extent { return extent.Extent{Offset: off, Length: n} }

// TestTools walks the helpers through the documented example (notes §2, §4):
// 1 MiB image, 64 KiB clusters, a snapshot, a bitmap, data and zero writes.
func TestTools(t *testing.T) {
	qemutools.Need(t, "qemu-img", "qemu-io")
	path := filepath.Join(t.TempDir(), "a.qcow2")
	qemutools.Create(t, path, "", "1M")
	qemutools.QemuIO(t, path, "write -P 0xab 0 64k")
	qemutools.QemuImg(t, "snapshot", "-c", "snap1", path)
	qemutools.QemuImg(t, "bitmap", "--add", path, "bm1")
	qemutools.QemuIO(t, path, "write -P 0xcd 128k 64k", "write -z 512k 64k")

	info := qemutools.Info(t, path)
	assert.Equal(t, "qcow2", info.Format)
	assert.Equal(t, int64(1<<20), info.VirtualSize)
	assert.Equal(t, int64(64<<10), info.ClusterSize)
	assert.Equal(t, "1.1", info.FormatSpecific.Data.Compat)
	require.Len(t, info.Snapshots, 1)
	assert.Equal(t, "snap1", info.Snapshots[0].Name)
	require.Len(t, info.FormatSpecific.Data.Bitmaps, 1)
	assert.Equal(t, []string{"auto"}, info.FormatSpecific.Data.Bitmaps[0].Flags)

	assert.Equal(t, []extent.Extent{ext(0, 64<<10), ext(128<<10, 64<<10), ext(512<<10, 64<<10)}, qemutools.MapPresent(t, path))

	snap := qemutools.ExportRaw(t, path, "snap1")
	active := qemutools.ExportRaw(t, path, "")
	require.Len(t, snap, 1<<20)
	require.Len(t, active, 1<<20)
	assert.Equal(t, []extent.Extent{ext(0, 64<<10)}, qemutools.NonZeroSectors(snap))
	assert.Equal(t, []extent.Extent{ext(128<<10, 64<<10)}, qemutools.ChangedSectors(snap, active))
	assert.Equal(t, qemutools.ChangedSectors(snap, active), qemutools.SectorsOf(snap).Changed(qemutools.SectorsOf(active)))
	assert.Equal(t, qemutools.NonZeroSectors(active), qemutools.SectorsOf(active).NonZero())
	assert.Equal(t, []extent.Extent{ext(512, 1<<20-512)}, qemutools.ChangedSectors(snap[:512], snap))
	assert.Equal(t, []extent.Extent{ext(512, 1<<20-512)}, qemutools.SectorsOf(snap).Truncate(512).Changed(qemutools.SectorsOf(snap)))

	qemutools.RunFail(t, "qemu-io", "-f", "qcow2", "-c", "write 0 64k", filepath.Join(t.TempDir(), "missing.qcow2"))

	if qemutools.Have(t, "nbdinfo") && qemutools.Have(t, "qemu-nbd") {
		// The bitmap was added after the first write: the 0xcd write and the
		// zero write are dirty, the 0xab write is not.
		assert.Equal(t, []extent.Extent{ext(128<<10, 64<<10), ext(512<<10, 64<<10)}, qemutools.DirtyMap(t, path, "bm1"))
		assert.Equal(t, []extent.Extent{ext(0, 64<<10)}, qemutools.LocalAllocation(t, path, "-l", "snapshot.name=snap1"))
	}
}

// TestQemuIOFailure checks that a failed qemu-io command (reported on stdout,
// exit status 0) fails the test.
func TestQemuIOFailure(t *testing.T) {
	qemutools.Need(t, "qemu-img", "qemu-io")
	path := filepath.Join(t.TempDir(), "a.qcow2")
	qemutools.Create(t, path, "", "1M")
	qemutools.QemuIO(t, path, "write -P 1 0 64k")
	ft := &fakeTB{TB: t}
	func() {
		defer func() { recover() }()
		// A compressed write onto an allocated cluster fails with EIO.
		qemutools.QemuIO(ft, path, "write -c -P 2 0 64k")
	}()
	assert.True(t, ft.failed, "a failed qemu-io command must fail the test")
}

type fakeTB struct {
	testing.TB
	failed bool
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = true
	panic("fatal")
}
