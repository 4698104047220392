package nbd

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/changedblocks/sdk/internal/qemutools"
	"github.com/stretchr/testify/require"
)

// TestNbdkitBlockSizes: the data plugin (512 extents) behind the
// blocksize-policy filter (min 4 KiB, max 64 KiB): many requests, each
// within the limits, matching nbdinfo --map, and reads matching qemu-img
// convert of the same export.
func TestNbdkitBlockSizes(t *testing.T) {
	qemutools.Need(t, "nbdinfo", "qemu-img")
	srv := newServer(t, "unix", "nbdkit", "--filter=blocksize-policy", "data", "( 1 @+65535 0x5a @+65535 ) * 256",
		"blocksize-minimum=4096", "blocksize-preferred=8192", "blocksize-maximum=65536")
	c := srv.dial(t, &Options{MetaContexts: []string{ContextBaseAllocation}})
	require.Equal(t, ExportInfo{Size: 32 << 20, Flags: c.Flags(), MinBlock: 4096, PreferredBlock: 8192, MaxBlock: 65536}, c.Info())
	ctx := context.Background()
	got, n, err := collect(t, c.BlockStatus(ctx, ContextBaseAllocation, 0, c.Size()), 0)
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, 512)
	require.Equal(t, nbdinfoMap(t, srv.uri, ContextBaseAllocation), got)
	// An unaligned range is asked aligned and clipped back.
	want := clipTo(got, 40000, 100000)
	sub, _, err := collect(t, c.BlockStatus(ctx, ContextBaseAllocation, 40000, 100000), 40000)
	require.NoError(t, err)
	require.Equal(t, want, sub)

	raw := filepath.Join(t.TempDir(), "export.raw")
	qemutools.QemuImg(t, "convert", "-f", "raw", srv.uri, "-O", "raw", raw)
	want2, err := os.ReadFile(raw)
	require.NoError(t, err)
	buf := make([]byte, c.Size())
	require.NoError(t, c.ReadAt(ctx, buf, 0))
	require.True(t, bytes.Equal(want2, buf), "read differs from qemu-img convert")
	require.ErrorIs(t, c.ReadAt(ctx, buf[:100], 0), ErrInvalidArgument)
}

// TestNbdkitErrorChunks: the error filter makes every read fail with EIO;
// the error carries the errno and the connection stays usable.
func TestNbdkitErrorChunks(t *testing.T) {
	srv := newServer(t, "unix", "nbdkit", "--filter=error", "memory", "1M", "error-pread=EIO", "error-pread-rate=100%")
	c := srv.dial(t, &Options{MetaContexts: []string{ContextBaseAllocation}})
	ctx := context.Background()
	err := c.ReadAt(ctx, make([]byte, 4096), 0)
	var ne *Error
	require.ErrorAs(t, err, &ne)
	require.Equal(t, uint32(5), ne.Errno)
	require.ErrorIs(t, err, syscall.EIO)
	t.Logf("read error: %v", err)
	got, _, err := collect(t, c.BlockStatus(ctx, ContextBaseAllocation, 0, c.Size()), 0)
	require.NoError(t, err)
	require.Equal(t, []Extent{{0, 1 << 20, StateHole | StateZero}}, got)
}

// TestCancel: a server that delays block status; a deadline interrupts the
// call promptly and closes the connection.
func TestCancel(t *testing.T) {
	srv := newServer(t, "unix", "nbdkit", "--filter=delay", "memory", "1M", "delay-extents=30")
	c := srv.dial(t, &Options{MetaContexts: []string{ContextBaseAllocation}})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := collect(t, c.BlockStatus(ctx, ContextBaseAllocation, 0, c.Size()), 0)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 5*time.Second)
	require.ErrorIs(t, c.ReadAt(context.Background(), make([]byte, 512), 0), ErrClosed)

	// Cancel during the handshake: a listener that never answers.
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "mute.sock"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		if nc, err := l.Accept(); err == nil {
			accepted <- nc
		}
	}()
	ctx2, cancel2 := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel2)
	_, err = Dial(ctx2, "unix", l.Addr().String(), nil)
	require.ErrorIs(t, err, context.Canceled)
	select {
	case nc := <-accepted:
		_ = nc.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("the listener saw no connection")
	}
}
