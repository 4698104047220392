package qemutools

import (
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Hold starts qemu-nbd serving the image of the given format, which takes
// qemu's write lock on it as a running VM would (with "-r" among args, a
// read-only one), and waits until it serves; the process is killed when the
// test ends.
func Hold(t testing.TB, format, image string, args ...string) {
	t.Helper()
	Need(t, "qemu-nbd")
	sock := filepath.Join(t.TempDir(), "nbd.sock")
	cmd := exec.Command("qemu-nbd", append(append([]string{"-f", format, "-k", sock, "-t"}, args...), image)...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("qemu-nbd: %v", err)
	}
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
			_ = c.Close()
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
			t.Fatalf("qemu-nbd did not serve %s on %s", image, sock)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Loop attaches the file to a new read-only loop device and returns the
// device's path; it is detached when the test ends. It needs root and
// losetup: without them the test is skipped, or fails under CI=true.
func Loop(t testing.TB, file string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if CI() {
			t.Fatal("loop devices need root")
		}
		t.Skip("loop devices need root")
	}
	Need(t, "losetup")
	dev := strings.TrimSpace(string(Run(t, "losetup", "--find", "--show", "--read-only", file)))
	t.Cleanup(func() {
		if out, err := exec.Command("losetup", "--detach", dev).CombinedOutput(); err != nil {
			t.Errorf("losetup --detach %s: %v: %s", dev, err, out)
		}
	})
	return dev
}
