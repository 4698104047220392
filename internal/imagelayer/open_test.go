package imagelayer_test

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/internal/hostfile"
	"github.com/changedblocks/sdk/internal/imagelayer"
	"github.com/changedblocks/sdk/internal/qcow2"
	"github.com/changedblocks/sdk/internal/qemutools"
)

// open opens a layer that must open, closed at the end of the test.
func open(t *testing.T, path, format string, opts *imagelayer.Options) imagelayer.Layer {
	t.Helper()
	l, err := imagelayer.Open(path, format, opts)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, l.Close()) })
	return l
}

func TestOpenQcow2(t *testing.T) {
	qemutools.Need(t, "qemu-img")
	p := filepath.Join(t.TempDir(), "top.qcow2")
	qemutools.Create(t, p, "cluster_size=64k,extended_l2=on", "3M", "-b", "../elsewhere/base.raw", "-F", "raw", "-u")
	for _, format := range []string{"", imagelayer.FormatQcow2} {
		l := open(t, p, format, nil)
		assert.Equal(t, p, l.Path())
		assert.Equal(t, imagelayer.FormatQcow2, l.Format())
		assert.Equal(t, "../elsewhere/base.raw", l.BackingFile(), "named, not followed")
		assert.Equal(t, "raw", l.BackingFormat())
		assert.Equal(t, int64(3<<20), l.VirtualSize())
		assert.Equal(t, int64(2<<10), l.Granularity(), "the subcluster size with extended L2 entries")
		assert.Equal(t, int64(8192/2*64<<10), l.MappingSpan(), "one cluster of 16-byte L2 entries")
		assert.False(t, l.Busy())
		assert.True(t, l.Stat().Mode().IsRegular())
		q, ok := l.(imagelayer.Qcow2Layer)
		require.True(t, ok, "a qcow2 layer hands out its image")
		assert.Equal(t, uint64(3<<20), q.Image().Header.Size)
	}
}

func TestOpenRaw(t *testing.T) {
	qemutools.Need(t, "qemu-img")
	dir := t.TempDir()
	p := filepath.Join(dir, "disk.raw")
	qemutools.CreateAs(t, "raw", p, "", "1M")
	for _, format := range []string{"", imagelayer.FormatRaw} {
		l := open(t, p, format, nil)
		assert.Equal(t, imagelayer.FormatRaw, l.Format())
		assert.Empty(t, l.BackingFile())
		assert.Empty(t, l.BackingFormat())
		assert.Equal(t, int64(1<<20), l.VirtualSize())
		assert.Equal(t, int64(512), l.Granularity())
		assert.Zero(t, l.MappingSpan())
		_, ok := l.(imagelayer.Qcow2Layer)
		assert.False(t, ok)
	}
	// A qcow2 file read as raw is its bytes; an empty file probes as raw.
	q := filepath.Join(dir, "image.qcow2")
	qemutools.Create(t, q, "", "8M")
	l := open(t, q, imagelayer.FormatRaw, nil)
	assert.Equal(t, imagelayer.FormatRaw, l.Format())
	assert.Equal(t, l.Stat().Size(), l.VirtualSize())
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.WriteFile(empty, nil, 0o644))
	assert.Equal(t, imagelayer.FormatRaw, open(t, empty, "", nil).Format())
}

func TestOpenErrors(t *testing.T) {
	qemutools.Need(t, "qemu-img")
	dir := t.TempDir()
	raw := filepath.Join(dir, "disk.raw")
	qemutools.CreateAs(t, "raw", raw, "", "1M")
	q := filepath.Join(dir, "image.qcow2")
	qemutools.Create(t, q, "", "1M")

	_, err := imagelayer.Open(filepath.Join(dir, "missing"), "", nil)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.NotErrorIs(t, err, imagelayer.ErrPath)

	_, err = imagelayer.Open(raw, "vmdk", nil)
	assert.ErrorIs(t, err, imagelayer.ErrFormat)
	assert.ErrorContains(t, err, `"vmdk"`)

	_, err = imagelayer.Open(raw, imagelayer.FormatQcow2, nil)
	assert.ErrorIs(t, err, qcow2.ErrNotQcow2)

	head, err := os.ReadFile(q)
	require.NoError(t, err)
	cut := filepath.Join(dir, "cut.qcow2")
	require.NoError(t, os.WriteFile(cut, head[:4096], 0o644))
	_, err = imagelayer.Open(cut, "", nil)
	assert.ErrorIs(t, err, qcow2.ErrCorrupt)
	assert.ErrorContains(t, err, cut)

	_, err = imagelayer.Open(dir, "", nil)
	assert.ErrorIs(t, err, imagelayer.ErrPath)
	var ke *hostfile.KindError
	require.ErrorAs(t, err, &ke)
	assert.Equal(t, dir+" is a directory, not a regular file or block device", err.Error(), "the cause's own message")

	_, err = imagelayer.Open(filepath.Join(dir, strings.Repeat("x", 300)), "", nil)
	assert.ErrorIs(t, err, imagelayer.ErrPath)
	assert.ErrorIs(t, err, syscall.ENAMETOOLONG)
	_, err = imagelayer.Open(filepath.Join(raw, "below"), "", nil)
	assert.ErrorIs(t, err, imagelayer.ErrPath)
	assert.ErrorIs(t, err, syscall.ENOTDIR)
}

// TestOpenHostile: a FIFO (with no writer: opened the ordinary way it
// blocks forever), a socket and a character device are refused at once,
// before anything is read, saying what they are.
func TestOpenHostile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	sock := filepath.Join(dir, "sock")
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	defer ln.Close()
	for path, says := range map[string]string{fifo: "a named pipe (FIFO)", sock: "a socket", "/dev/null": "a character device"} {
		for _, format := range []string{"", imagelayer.FormatRaw, imagelayer.FormatQcow2} {
			done := make(chan error, 1)
			go func() {
				l, err := imagelayer.Open(path, format, nil)
				if l != nil {
					_ = l.Close()
				}
				done <- err
			}()
			select {
			case err := <-done:
				require.ErrorIs(t, err, imagelayer.ErrPath, path)
				var ke *hostfile.KindError
				assert.True(t, errors.As(err, &ke))
				assert.Equal(t, path+" is "+says+", not a regular file or block device", err.Error())
			case <-time.After(10 * time.Second):
				t.Fatalf("Open(%s) blocks", path)
			}
		}
	}
}

func TestCloseIdempotent(t *testing.T) {
	qemutools.Need(t, "qemu-img")
	p := filepath.Join(t.TempDir(), "disk.qcow2")
	qemutools.Create(t, p, "", "1M")
	l, err := imagelayer.Open(p, "", nil)
	require.NoError(t, err)
	require.NoError(t, l.Close())
	assert.NoError(t, l.Close())
}
