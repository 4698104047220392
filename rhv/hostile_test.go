package rhv_test

import (
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/rhv"
)

// hostileFile replaces path with a file of the given kind: a FIFO, a socket
// (made in a short directory, for the length limit of socket paths, and
// linked), a character device (a link to /dev/null) or a directory. It
// returns what an error must call it.
func hostileFile(t *testing.T, path, kind string) string {
	t.Helper()
	_ = os.Remove(path)
	switch kind {
	case "fifo":
		require.NoError(t, syscall.Mkfifo(path, 0o600))
		return "a named pipe (FIFO)"
	case "socket":
		dir, err := os.MkdirTemp("", "sock")
		require.NoError(t, err)
		t.Cleanup(func() { _ = os.RemoveAll(dir) })
		l, err := net.Listen("unix", filepath.Join(dir, "s"))
		require.NoError(t, err)
		t.Cleanup(func() { _ = l.Close() })
		require.NoError(t, os.Symlink(filepath.Join(dir, "s"), path))
		return "a socket"
	case "chardev":
		require.NoError(t, os.Symlink("/dev/null", path))
		return "a character device"
	case "directory":
		require.NoError(t, os.Mkdir(path, 0o700))
		return "a directory"
	}
	t.Fatalf("unknown kind %s", kind)
	return ""
}

// promptly runs fn and fails the test when it has not returned after a
// generous deadline: it blocks (a FIFO opened the ordinary way waits for a
// writer forever). No timing assertion: a correct fn waits for nothing. On
// timeout, fifo is opened for writing, which releases an open blocked on it.
func promptly[T any](t *testing.T, what, fifo string, fn func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- fn() }()
	select {
	case v := <-done:
		return v
	case <-time.After(30 * time.Second):
		if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			_ = w.Close()
		}
		t.Fatalf("%s blocked", what)
		var zero T
		return zero
	}
}

// TestReadMetaDirHostileMeta puts a FIFO, a socket and a character device
// where a volume's .meta file belongs: ReadMetaDir returns at once (on a
// FIFO it blocked forever) and lists each volume as invalid, saying what
// its metadata file is.
func TestReadMetaDirHostileMeta(t *testing.T) {
	const img = "d1000000-0000-0000-0000-0000000000d1"
	dir := filepath.Join(t.TempDir(), img)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	vols := map[string]string{
		"b1000000-0000-0000-0000-0000000000b1": "fifo",
		"b2000000-0000-0000-0000-0000000000b2": "socket",
		"b3000000-0000-0000-0000-0000000000b3": "chardev",
	}
	says := map[string]string{}
	fifo := ""
	for id, kind := range vols {
		require.NoError(t, os.WriteFile(filepath.Join(dir, id), nil, 0o644))
		meta := filepath.Join(dir, id+".meta")
		says[id] = hostileFile(t, meta, kind)
		if kind == "fifo" {
			fifo = meta
		}
	}
	type result struct {
		vols []rhv.Volume
		err  error
	}
	r := promptly(t, "ReadMetaDir", fifo, func() result {
		v, err := rhv.ReadMetaDir(dir)
		return result{v, err}
	})
	require.NoError(t, r.err)
	require.Len(t, r.vols, len(vols))
	for _, v := range r.vols {
		assert.Equal(t, rhv.StatusInvalid, v.Status, v.ID)
		assert.Equal(t, img, v.Image)
		require.Len(t, v.Problems, 1, v.ID)
		assert.Equal(t, "metadata file is "+says[v.ID]+", not a regular file: not a vdsm record (check what replaced it)", v.Problems[0], v.ID)
	}
}

// TestOpenVolumeHostileFiles puts a FIFO, a socket, a character device and
// a directory where the leaf volume of a file domain belongs: OpenVolume
// refuses each at once (on a FIFO it blocked forever) as an invalid
// argument that names the volume and says what the path is.
func TestOpenVolumeHostileFiles(t *testing.T) {
	for _, kind := range []string{"fifo", "socket", "chardev", "directory"} {
		t.Run(kind, func(t *testing.T) {
			c, ids := diskSmall(t, diskFileDomain, 2)
			p := c.filePath(ids[1])
			says := hostileFile(t, p, kind)
			err := promptly(t, "OpenVolume", p, func() error {
				d, err := rhv.OpenVolume(&c.chain, ids[1], c.options())
				if d != nil {
					_ = d.Close()
				}
				return err
			})
			require.ErrorIs(t, err, cbt.ErrInvalidArgument)
			var ce *cbt.Error
			require.ErrorAs(t, err, &ce)
			assert.Contains(t, err.Error(), "rhv: volume "+ids[1]+" of image "+c.chain.Image)
			assert.Contains(t, err.Error(), p+" is "+says+", not a regular file or block device")
			assert.Contains(t, err.Error(), "check VolumeOptions.Path or Dir")
		})
	}
}
