package qemu_test

import (
	"github.com/changedblocks/sdk/cbt/cbttest"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/qemutools"
	"github.com/changedblocks/sdk/qemu"
	"github.com/stretchr/testify/require"
)

func TestInfoAndSnapshots(t *testing.T) {
	p := newQcow2(t, "i.qcow2", "cluster_size=128k,extended_l2=on,lazy_refcounts=on", "8M")
	qemutools.QemuIO(t, p, "write -P 1 0 4k")
	snapshot(t, p, "first")
	qemutools.QemuImg(t, "resize", p, "16M")
	snapshot(t, p, "second")
	qemutools.QemuImg(t, "bitmap", "--add", p, "b1")

	im, err := qemu.OpenImage(p, nil)
	require.NoError(t, err)
	defer im.Close()
	in := im.Info()
	want := qemutools.Info(t, p)
	require.Equal(t, p, in.Path)
	require.Equal(t, "qcow2", in.Format)
	require.Equal(t, 3, in.Version)
	require.Equal(t, want.FormatSpecific.Data.Compat, in.Compat)
	require.Equal(t, want.VirtualSize, in.VirtualSize)
	require.Equal(t, want.ClusterSize, in.ClusterSize)
	require.Equal(t, want.FormatSpecific.Data.ExtendedL2, in.ExtendedL2)
	require.Equal(t, want.FormatSpecific.Data.LazyRefcounts, in.LazyRefcounts)
	require.Equal(t, want.FormatSpecific.Data.CompressionType, in.Compression)
	require.Equal(t, want.FormatSpecific.Data.RefcountBits, in.RefcountBits)
	require.Equal(t, len(want.Snapshots), in.Snapshots)
	require.Equal(t, 1, in.Bitmaps)
	require.True(t, in.BitmapsConsistent)
	require.Equal(t, []qemu.Layer{{Path: p, Format: "qcow2", VirtualSize: 16 * miB, Point: qemu.Active()}}, in.Chain)

	snaps, err := im.Snapshots()
	require.NoError(t, err)
	require.Len(t, snaps, len(want.Snapshots))
	for i, s := range snaps {
		w := want.Snapshots[i]
		require.Equal(t, w.ID, s.ID)
		require.Equal(t, w.Name, s.Name)
		require.Equal(t, time.Unix(w.DateSec, w.DateNsec), s.Date)
		require.Equal(t, time.Duration(w.VMClockSec)*time.Second+time.Duration(w.VMClockNsec), s.VMClock)
		require.Equal(t, w.VMStateSize, s.VMStateSize)
		if w.ICount != nil {
			require.Equal(t, *w.ICount, s.ICount)
		}
		require.Equal(t, qemu.PointSnapshot, s.Point.Kind)
	}
	require.Equal(t, 8*miB, snaps[0].DiskSize)
	require.Equal(t, 16*miB, snaps[1].DiskSize)

	// Capacity is the point's own size; granularity the subcluster size.
	d, err := im.Open(snaps[0].Point)
	require.NoError(t, err)
	defer d.Close()
	require.Equal(t, 8*miB, d.Capacity())
	require.Equal(t, 4*kiB, d.Granularity())
	require.Equal(t, p, d.Name())
	require.Equal(t, changeID(t, snaps[0].Point), cbttest.MustChangeID(t, d))
	require.Equal(t, []extent.Extent{ext(0, 4*kiB)}, mustList(t, d, cbt.ChangeID{}))
	// Since the first snapshot at the second: the grown range.
	d2, err := im.Open(snaps[1].Point)
	require.NoError(t, err)
	defer d2.Close()
	require.Equal(t, 16*miB, d2.Capacity())
	require.Equal(t, []extent.Extent{ext(8*miB, 8*miB)}, mustList(t, d2, changeID(t, snaps[0].Point)))
	// Since the second at the first: backwards in time, refused.
	_, err = listChanges(t, d, changeID(t, snaps[1].Point))
	require.ErrorIs(t, err, cbt.ErrInvalidArgument)
}

func TestImageAndDiskLifetimes(t *testing.T) {
	p := newQcow2(t, "l.qcow2", "cluster_size=64k", "4M")
	qemutools.QemuIO(t, p, "write -P 1 0 64k")
	im, err := qemu.OpenImage(p, nil)
	require.NoError(t, err)
	d, err := im.Open(qemu.Active())
	require.NoError(t, err)
	require.NoError(t, im.Close())
	require.NoError(t, im.Close())
	// The disk outlives the image.
	require.Equal(t, []extent.Extent{ext(0, 64*kiB)}, mustList(t, d, cbt.ChangeID{}))
	_, err = im.Open(qemu.Active())
	require.ErrorIs(t, err, cbt.ErrClosed)
	_, err = im.Snapshots()
	require.ErrorIs(t, err, cbt.ErrClosed)
	require.NoError(t, d.Close())
	require.NoError(t, d.Close())
	_, err = listChanges(t, d, cbt.ChangeID{})
	require.ErrorIs(t, err, cbt.ErrClosed)
}

func TestPointErrors(t *testing.T) {
	p := newQcow2(t, "e.qcow2", "cluster_size=64k", "4M")
	snapshot(t, p, "s1")
	im, err := qemu.OpenImage(p, nil)
	require.NoError(t, err)
	defer im.Close()
	for _, at := range []qemu.Point{{Kind: qemu.PointSnapshot}, {Kind: 9, Name: "x"}, {Kind: qemu.PointActive, Name: "x"}, qemu.BitmapPoint("b")} {
		_, err := im.Open(at)
		require.ErrorIs(t, err, cbt.ErrInvalidArgument, "%v", at)
	}
	_, err = im.Open(qemu.SnapshotPoint("nope"))
	require.ErrorIs(t, err, cbt.ErrNotFound)
	d, err := im.Open(qemu.Active())
	require.NoError(t, err)
	defer d.Close()
	for _, v := range []string{"garbage", "snapshot:", "bitmap:"} {
		id, err := cbt.NewChangeID(qemu.Scheme, v)
		require.NoError(t, err)
		_, err = listChanges(t, d, id)
		require.ErrorIs(t, err, cbt.ErrInvalidArgument, v)
	}
	other, err := cbt.NewChangeID("vsphere", "52 1/2")
	require.NoError(t, err)
	_, err = listChanges(t, d, other)
	require.ErrorIs(t, err, cbt.ErrInvalidArgument)
}

// openFDs counts the open file descriptors of the process.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(ents)
}

func TestNoFDLeaks(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts /proc/self/fd")
	}
	qemutools.Need(t, "qemu-img", "qemu-io", "qemu-nbd")
	dir := t.TempDir()
	good := filepath.Join(dir, "good.qcow2")
	qemutools.Create(t, filepath.Join(dir, "base.qcow2"), "", "1M")
	qemutools.Create(t, good, "", "1M", "-b", "base.qcow2", "-F", "qcow2")
	snapshot(t, good, "s1")
	missing := filepath.Join(dir, "missing.qcow2")
	qemutools.Create(t, filepath.Join(dir, "gone.qcow2"), "", "1M")
	qemutools.Create(t, missing, "", "1M", "-b", "gone.qcow2", "-F", "qcow2")
	require.NoError(t, os.Remove(filepath.Join(dir, "gone.qcow2")))
	loop := filepath.Join(dir, "loop.qcow2")
	qemutools.Create(t, loop, "", "1M", "-b", "base.qcow2", "-F", "qcow2")
	qemutools.QemuImg(t, "rebase", "-u", "-b", "loop.qcow2", "-F", "qcow2", loop)
	raw := filepath.Join(dir, "raw.img")
	require.NoError(t, os.WriteFile(raw, make([]byte, 1024), 0o644))
	busy := filepath.Join(dir, "busy.qcow2")
	qemutools.Create(t, busy, "", "1M", "-b", "base.qcow2", "-F", "qcow2")
	qemutools.Hold(t, "qcow2", busy)

	before := openFDs(t)
	for range 50 {
		for _, p := range []string{missing, loop, raw, busy, filepath.Join(dir, "none")} {
			_, err := qemu.OpenImage(p, nil)
			require.Error(t, err)
			_, err = qemu.OpenActive(p, nil)
			require.Error(t, err)
		}
		for _, at := range []qemu.Point{qemu.SnapshotPoint("nope"), qemu.BitmapPoint("b"), qemu.LayerPoint("nope"), {Kind: 7}} {
			_, err := qemu.Open(good, at, nil)
			require.Error(t, err)
		}
		d, err := qemu.OpenSnapshot(good, "s1", nil)
		require.NoError(t, err)
		_, err = listChanges(t, d, changeID(t, qemu.SnapshotPoint("nope")))
		require.ErrorIs(t, err, cbt.ErrChangeIDInvalid)
		require.NoError(t, d.Close())
		im, err := qemu.OpenImage(good, nil)
		require.NoError(t, err)
		d, err = im.Open(qemu.Active())
		require.NoError(t, err)
		require.NoError(t, im.Close())
		require.NoError(t, d.Close())
	}
	require.Equal(t, before, openFDs(t))
}
