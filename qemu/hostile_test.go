package qemu_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/internal/qemutools"
	"github.com/changedblocks/sdk/qemu"
)

// hostileKind is a path that is no image file, and what an error must call
// it.
type hostileKind struct {
	name, path, says string
}

// hostileKinds makes a FIFO, a socket and a directory in dir, with
// /dev/null as a character device.
func hostileKinds(t *testing.T, dir string) []hostileKind {
	t.Helper()
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	sub := filepath.Join(dir, "subdir")
	require.NoError(t, os.Mkdir(sub, 0o700))
	return []hostileKind{
		{"fifo", fifo, "is a named pipe (FIFO), not a regular file or block device"},
		{"socket", sock, "is a socket, not a regular file or block device"},
		{"chardev", "/dev/null", "is a character device, not a regular file or block device"},
		{"directory", sub, "is a directory, not a regular file or block device"},
	}
}

// promptly runs fn and fails the test when it has not returned after a
// generous deadline (it blocks: a FIFO opened the ordinary way waits for a
// writer forever). The deadline is no timing assertion: a correct fn never
// waits for anything. On timeout, the FIFOs given are opened for writing,
// which releases an open blocked on them.
func promptly(t *testing.T, what string, fn func() error, fifos ...string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		for _, f := range fifos {
			if w, err := os.OpenFile(f, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				_ = w.Close()
			}
		}
		t.Fatalf("%s blocked", what)
		return nil
	}
}

// errOf keeps the error of a call that returns a value to close.
func errOf[T interface{ Close() error }](v T, err error) error {
	if err == nil {
		_ = v.Close()
	}
	return err
}

// TestHostileImagePaths gives OpenImage, Open and OpenLayerFile a FIFO, a
// socket, a character device and a directory as the image: each is refused
// at once as an invalid argument saying what the path is (before, a FIFO
// blocked forever and a directory was "not supported").
func TestHostileImagePaths(t *testing.T) {
	dir := t.TempDir()
	for _, k := range hostileKinds(t, dir) {
		t.Run(k.name, func(t *testing.T) {
			for what, fn := range map[string]func() error{
				"OpenImage":     func() error { return errOf(qemu.OpenImage(k.path, nil)) },
				"Open":          func() error { return errOf(qemu.Open(k.path, qemu.Active(), nil)) },
				"OpenLayerFile": func() error { return errOf(qemu.OpenLayerFile(k.path, "", nil)) },
				"OpenLayerFile qcow2": func() error {
					return errOf(qemu.OpenLayerFile(k.path, "qcow2", nil))
				},
			} {
				err := promptly(t, what+" "+k.path, fn, k.path)
				require.ErrorIs(t, err, cbt.ErrInvalidArgument, "%s: %v", what, err)
				assert.Contains(t, err.Error(), k.path+" "+k.says, what)
				assert.Contains(t, err.Error(), "give the path of a qcow2 image file", what)
			}
		})
	}
}

// TestHostileBackingFiles makes overlays whose backing file name (written by
// qemu-img create -u -b, and by qemu-img rebase -u) is a FIFO, a socket, a
// character device or a directory: OpenImage refuses each at once as
// unsupported, naming the backing file, its overlay and what it is.
func TestHostileBackingFiles(t *testing.T) {
	qemutools.Need(t, "qemu-img")
	dir := t.TempDir()
	for i, k := range hostileKinds(t, dir) {
		t.Run(k.name, func(t *testing.T) {
			top := filepath.Join(dir, k.name+".qcow2")
			if i%2 == 0 {
				qemutools.QemuImg(t, "create", "-q", "-f", "qcow2", "-u", "-b", k.path, "-F", "raw", top, "1M")
			} else {
				qemutools.Create(t, top, "", "1M")
				qemutools.QemuImg(t, "rebase", "-u", "-b", k.path, "-F", "raw", top)
			}
			for what, fn := range map[string]func() error{
				"OpenImage": func() error { return errOf(qemu.OpenImage(top, nil)) },
				"Open":      func() error { return errOf(qemu.Open(top, qemu.Active(), nil)) },
			} {
				err := promptly(t, what+" "+top, fn, k.path)
				require.ErrorIs(t, err, cbt.ErrUnsupported, "%s: %v", what, err)
				assert.NotErrorIs(t, err, cbt.ErrInvalidArgument)
				assert.Contains(t, err.Error(), "backing file "+`"`+k.path+`" of `+top+": "+k.path+" "+k.says, what)
				assert.Contains(t, err.Error(), "qemu-img rebase", what)
			}
			// The overlay alone, its backing file not followed, opens.
			f, err := qemu.OpenLayerFile(top, "qcow2", nil)
			require.NoError(t, err)
			assert.Equal(t, k.path, f.BackingFile())
			require.NoError(t, f.Close())
		})
	}
}

// TestNameTooLong gives a path with a component longer than the system
// allows (ENAMETOOLONG): as the image it is an invalid argument, as a backing
// file name an image records it is unsupported; neither is ErrCorrupt (as it
// was).
func TestNameTooLong(t *testing.T) {
	qemutools.Need(t, "qemu-img")
	dir := t.TempDir()
	long := filepath.Join(dir, strings.Repeat("n", 300)+".qcow2")
	_, err := qemu.OpenImage(long, nil)
	require.ErrorIs(t, err, cbt.ErrInvalidArgument)
	assert.NotErrorIs(t, err, cbt.ErrCorrupt)
	assert.Contains(t, err.Error(), "the file name is too long for this system")
	_, err = qemu.OpenLayerFile(long, "", nil)
	require.ErrorIs(t, err, cbt.ErrInvalidArgument)

	top := filepath.Join(dir, "top.qcow2")
	qemutools.QemuImg(t, "create", "-q", "-f", "qcow2", "-u", "-b", strings.Repeat("b", 300), "-F", "qcow2", top, "1M")
	_, err = qemu.OpenImage(top, nil)
	require.ErrorIs(t, err, cbt.ErrUnsupported)
	assert.NotErrorIs(t, err, cbt.ErrCorrupt)
	assert.Contains(t, err.Error(), "the file name is too long for this system")
}
