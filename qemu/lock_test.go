package qemu_test

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
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

// holdImage starts qemu-nbd on the image (read-only with -r among args) and
// waits for its socket; the process is killed at the end of the test.
func holdImage(t *testing.T, p string, args ...string) {
	t.Helper()
	qemutools.Need(t, "qemu-nbd")
	sock := filepath.Join(t.TempDir(), "nbd.sock")
	cmd := exec.Command("qemu-nbd", append(append([]string{"-f", "qcow2", "-k", sock, "-t"}, args...), p)...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	// qemu-nbd listens before it opens the image: wait for the server's
	// greeting, which it sends once the export (and its locks) exist.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			var magic [8]byte
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err := io.ReadFull(c, magic[:])
			c.Close()
			if err == nil && string(magic[:]) == "NBDMAGIC" {
				return
			}
		}
		select {
		case err := <-done:
			t.Fatalf("qemu-nbd exited early: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("qemu-nbd did not create its socket %s", sock)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

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
	holdImage(t, p)

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
	holdImage(t, p, "-r")
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
	holdImage(t, base)

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
