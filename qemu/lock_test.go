package qemu_test

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/qemutools"
	"github.com/changedblocks/sdk/qemu"
	"github.com/stretchr/testify/require"
)

func TestLockBusy(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("qemu's OFD locks are checked on Linux only")
	}
	p := newQcow2(t, "busy.qcow2", "cluster_size=64k", "4M")
	qemutools.QemuIO(t, p, "write -P 1 0 64k")
	snapshot(t, p, "s1")
	qemutools.QemuIO(t, p, "write -P 2 1M 64k")
	snapshot(t, p, "s2")
	qemutools.QemuImg(t, "bitmap", "--add", p, "b1")
	s1 := snapID(t, p, "s1")
	qemutools.Hold(t, "qcow2", p)

	_, err := qemu.OpenImage(p, nil)
	require.ErrorIs(t, err, cbt.ErrBusy)
	require.Contains(t, err.Error(), "ForceShare")
	require.Contains(t, err.Error(), "libvirt")
	_, err = qemu.OpenActive(p, nil)
	require.ErrorIs(t, err, cbt.ErrBusy)

	var logs bytes.Buffer
	opts := &qemu.Options{ForceShare: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	im, err := qemu.OpenImage(p, opts)
	require.NoError(t, err)
	defer im.Close()
	require.Contains(t, logs.String(), "level=WARN")
	require.Contains(t, logs.String(), "ForceShare")
	snaps, err := im.Snapshots()
	require.NoError(t, err)
	require.Len(t, snaps, 2)
	bms, err := im.Bitmaps()
	require.NoError(t, err)
	require.Len(t, bms, 1)
	require.False(t, bms[0].Usable)
	require.Contains(t, bms[0].Reason, "running qemu")

	// Snapshot to snapshot works.
	d, err := im.Open(qemu.SnapshotPoint("s2"))
	require.NoError(t, err)
	defer d.Close()
	require.Equal(t, []extent.Extent{ext(1*miB, 64*kiB)}, mustList(t, d, s1))
	require.Equal(t, []extent.Extent{ext(0, 64*kiB), ext(1*miB, 64*kiB)}, mustList(t, d, cbt.ChangeID{}))
	// Anything reading the active tables does not.
	a, err := im.Open(qemu.Active())
	require.NoError(t, err)
	defer a.Close()
	_, err = listChanges(t, a, s1)
	require.ErrorIs(t, err, cbt.ErrBusy)
	_, err = listChanges(t, a, cbt.ChangeID{})
	require.ErrorIs(t, err, cbt.ErrBusy)
	_, err = listChanges(t, a, changeID(t, qemu.BitmapPoint("b1")))
	require.ErrorIs(t, err, cbt.ErrBusy, "a bitmap qemu holds is busy, not a reason for a full backup")
	require.NotErrorIs(t, err, cbt.ErrChangeIDInvalid)
}

func TestLockReadOnlyHolder(t *testing.T) {
	p := newQcow2(t, "ro.qcow2", "cluster_size=64k", "4M")
	qemutools.QemuIO(t, p, "write -P 1 0 64k")
	qemutools.Hold(t, "qcow2", p, "-r")
	d, err := qemu.OpenActive(p, nil)
	require.NoError(t, err)
	defer d.Close()
	require.Equal(t, []extent.Extent{ext(0, 64*kiB)}, mustList(t, d, cbt.ChangeID{}))
}

func TestLockBusyBacking(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("qemu's OFD locks are checked on Linux only")
	}
	qemutools.Need(t, "qemu-img", "qemu-io", "qemu-nbd")
	dir := t.TempDir()
	base, top := filepath.Join(dir, "base.qcow2"), filepath.Join(dir, "top.qcow2")
	qemutools.Create(t, base, "cluster_size=64k", "4M")
	qemutools.QemuIO(t, base, "write -P 1 0 64k")
	qemutools.Create(t, top, "cluster_size=64k", "4M", "-b", "base.qcow2", "-F", "qcow2")
	qemutools.QemuIO(t, top, "write -P 1 1M 64k")
	snapshot(t, top, "s1")
	s1 := snapID(t, top, "s1")
	qemutools.Hold(t, "qcow2", base)

	_, err := qemu.OpenImage(top, nil)
	require.ErrorIs(t, err, cbt.ErrBusy)
	require.Contains(t, err.Error(), base)
	d, err := qemu.OpenSnapshot(top, "s1", &qemu.Options{ForceShare: true})
	require.NoError(t, err)
	defer d.Close()
	// The top's own tables are fine; the base's active tables are not.
	require.Empty(t, mustList(t, d, s1))
	_, err = listChanges(t, d, cbt.ChangeID{})
	require.ErrorIs(t, err, cbt.ErrBusy)
}
