package main

// Helpers that drive the real qemu tools (qemu-img, qemu-io, qemu-nbd) to
// build the images the qemu commands are tested on, and to read the ground
// truth they are compared with.

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/qemutools"
)

// needQemuTools skips the test when qemu-img, qemu-io or qemu-nbd is
// missing, or fails it under CI=true (Debian package qemu-utils).
func needQemuTools(t *testing.T) {
	t.Helper()
	qemutools.Need(t, "qemu-img", "qemu-io", "qemu-nbd")
}

func qemuImg(t *testing.T, args ...string) []byte {
	t.Helper()
	return qemutools.QemuImg(t, args...)
}

// qemuIO runs qemu-io commands ("write 0 64k") on a qcow2 image in one
// process, read-write: the image's enabled bitmaps record the writes.
func qemuIO(t *testing.T, img string, cmds ...string) {
	t.Helper()
	qemutools.QemuIO(t, img, cmds...)
}

// qemuImgInfo is `qemu-img info --output=json`, decoded by internal/qemutools.
type qemuImgInfo = qemutools.ImageInfo

func qemuInfoJSON(t *testing.T, path string, args ...string) qemuImgInfo {
	t.Helper()
	var info qemuImgInfo
	out := qemuImg(t, append(append([]string{"info", "--output=json", "-f", "qcow2"}, args...), path)...)
	require.NoError(t, json.Unmarshal(out, &info))
	return info
}

// exportRaw returns the guest contents of the image at the snapshot, or at
// the active state when snapshot is "", backing chain included.
func exportRaw(t *testing.T, path, snapshot string) []byte {
	t.Helper()
	return qemutools.ExportRaw(t, path, snapshot)
}

// differing returns the byte ranges where a and b differ, merged; one of
// them nil stands for zeros.
func differing(a, b []byte) []extent.Extent {
	var out []extent.Extent
	n := max(len(a), len(b))
	at := func(s []byte, i int) byte {
		if i < len(s) {
			return s[i]
		}
		return 0
	}
	for i := 0; i < n; {
		if at(a, i) == at(b, i) {
			i++
			continue
		}
		j := i
		for j < n && at(a, j) != at(b, j) {
			j++
		}
		out = append(out, extent.Extent{Offset: int64(i), Length: int64(j - i)})
		i = j
	}
	return out
}

// requireCovers fails the test when a byte of truth lies outside every
// extent of got: the one unforgivable bug, under-reporting.
func requireCovers(t *testing.T, got, truth []extent.Extent, what string) {
	t.Helper()
	for _, tr := range truth {
		for off := tr.Offset; off < tr.End(); {
			covered := false
			for _, g := range got {
				if g.Offset <= off && off < g.End() {
					off, covered = g.End(), true
					break
				}
			}
			require.True(t, covered, "%s: changed byte %d is in no reported extent; reported %v, truth %v", what, off, got, truth)
		}
	}
}

// holdImage starts a read-write qemu-nbd on img, as a running VM holds its
// disk: it opens the image, locks it, and marks its enabled bitmaps in use.
// It returns once the image is open; kill stops the server with the signal.
func holdImage(t *testing.T, img string) (kill func(syscall.Signal)) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "nbd.sock")
	// --persistent: the server outlives the connection that tells it is ready.
	cmd := exec.Command("qemu-nbd", "--persistent", "-f", "qcow2", "-k", sock, img)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	kill = func(sig syscall.Signal) {
		select {
		case <-exited:
			return
		default:
		}
		_ = cmd.Process.Signal(sig)
		<-exited
	}
	t.Cleanup(func() { kill(syscall.SIGTERM) })
	// qemu-nbd listens on the socket before it opens the image, and greets a
	// client ("NBDMAGIC") only once the image is open: wait for the greeting.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if greeted(sock, deadline) {
			return kill
		}
		select {
		case <-exited:
			t.Fatalf("qemu-nbd on %s exited: %s", img, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			kill(syscall.SIGKILL) // stderr is ours to read once it has exited
			t.Fatalf("qemu-nbd did not open %s: %s", img, stderr.String())
		}
	}
}

// greeted reports whether the NBD server on sock sent its greeting.
func greeted(sock string, deadline time.Time) bool {
	c, err := net.Dial("unix", sock)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetReadDeadline(deadline)
	magic := make([]byte, 8)
	_, err = io.ReadFull(c, magic)
	return err == nil && string(magic) == "NBDMAGIC"
}
