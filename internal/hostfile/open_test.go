package hostfile_test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/internal/hostfile"
)

// openSoon runs Open and fails the test when it blocks.
func openSoon(t *testing.T, path string, allow hostfile.Kind) (*os.File, int64, error) {
	t.Helper()
	type result struct {
		f    *os.File
		size int64
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		f, _, size, err := hostfile.Open(path, allow)
		ch <- result{f, size, err}
	}()
	select {
	case r := <-ch:
		if r.f != nil {
			t.Cleanup(func() { _ = r.f.Close() })
		}
		return r.f, r.size, r.err
	case <-time.After(5 * time.Second):
		t.Fatalf("Open(%s) blocked", path)
		return nil, 0, nil
	}
}

func TestOpenRefusesWhatWouldBlockOrIsNoFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })

	for _, c := range []struct {
		path, says string
	}{
		{fifo, "a named pipe (FIFO)"},
		{sock, "a socket"},
		{"/dev/null", "a character device"},
		{dir, "a directory"},
	} {
		f, _, err := openSoon(t, c.path, hostfile.Regular|hostfile.BlockDevice)
		assert.Nil(t, f)
		var ke *hostfile.KindError
		require.ErrorAs(t, err, &ke, c.path)
		assert.Equal(t, c.path+" is "+c.says+", not a regular file or block device", err.Error())
		assert.Error(t, hostfile.Check(c.path, hostfile.Regular|hostfile.BlockDevice))
	}
	f, _, err := openSoon(t, dir, hostfile.Directory)
	require.NoError(t, err, "a directory, where one is allowed")
	assert.NotNil(t, f)
}

func TestOpenRegularReadsBlocking(t *testing.T) {
	p := filepath.Join(t.TempDir(), "img")
	require.NoError(t, os.WriteFile(p, []byte("hello"), 0o600))
	f, size, err := openSoon(t, p, hostfile.Regular)
	require.NoError(t, err)
	assert.Equal(t, int64(5), size)
	b := make([]byte, 5)
	_, err = f.ReadAt(b, 0)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(b))
	rc, err := f.SyscallConn()
	require.NoError(t, err)
	var flags uintptr
	require.NoError(t, rc.Control(func(fd uintptr) {
		flags, _, _ = syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_GETFL, 0)
	}))
	assert.Zero(t, flags&syscall.O_NONBLOCK, "O_NONBLOCK is cleared on an accepted file")

	_, _, err = openSoon(t, p, hostfile.BlockDevice)
	assert.ErrorAs(t, err, new(*hostfile.KindError), "a regular file where only block devices are allowed")
	_, _, err = openSoon(t, filepath.Join(t.TempDir(), "none"), hostfile.Regular)
	assert.True(t, errors.Is(err, os.ErrNotExist), "%v", err)
}

// TestOpenBlockDevice opens a loop device over a file (as root) and checks
// its size is the device's.
func TestOpenBlockDevice(t *testing.T) {
	dev := loopDevice(t, 3<<20)
	f, size, err := openSoon(t, dev, hostfile.BlockDevice)
	require.NoError(t, err)
	assert.NotNil(t, f)
	assert.Equal(t, int64(3<<20), size)
	_, _, err = openSoon(t, dev, hostfile.Regular)
	assert.ErrorAs(t, err, new(*hostfile.KindError))
}

// TestOpenRefusalClosesTheFile: a refused file is closed (it was leaked to
// the finalizer once).
func TestOpenRefusalClosesTheFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	count := func() int {
		es, err := os.ReadDir("/proc/self/fd")
		require.NoError(t, err)
		return len(es)
	}
	before := count()
	for range 20 {
		_, _, err := openSoon(t, fifo, hostfile.Regular)
		require.Error(t, err)
		_, _, err = openSoon(t, dir, hostfile.Regular)
		require.Error(t, err)
	}
	assert.Equal(t, before, count(), "no descriptor is left open")
}
