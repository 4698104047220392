package nbd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/changedblocks/sdk/internal/qemutools"
	"github.com/stretchr/testify/require"
)

// bitmapImage builds a qcow2 image of size bytes with an enabled bitmap bm1
// (64 KiB granularity) and the given writes (qemu-io commands) made after
// the bitmap, plus a write of 0x11 at 0 before it.
func bitmapImage(t *testing.T, size string, writes ...string) string {
	t.Helper()
	qemutools.Need(t, "qemu-img", "qemu-io", "qemu-nbd", "nbdinfo")
	img := filepath.Join(t.TempDir(), "a.qcow2")
	qemutools.Create(t, img, "", size)
	qemutools.QemuIO(t, img, "write -P 0x11 0 128k")
	qemutools.QemuImg(t, "bitmap", "--add", "--enable", "-g", "65536", img, "bm1")
	qemutools.QemuIO(t, img, writes...)
	return img
}

func TestQemuNBDContexts(t *testing.T) {
	img := bitmapImage(t, "16M", "write -P 0xab 1M 64k", "write -P 0xcd 3M 200k", "write -z 8M 64k", "write -P 0x01 16320k 64k")
	for _, network := range []string{"unix", "tcp"} {
		t.Run(network, func(t *testing.T) {
			srv := newServer(t, network, "qemu-nbd", "-r", "-f", "qcow2", "-B", "bm1", "-A", "-t", img)
			ctx := context.Background()
			ctxs := []string{ContextBaseAllocation, "qemu:dirty-bitmap:bm1", ContextAllocationDepth}
			c := srv.dial(t, &Options{MetaContexts: ctxs})
			require.Equal(t, uint64(16<<20), c.Size())
			require.NotZero(t, c.Flags()&FlagReadOnly)
			require.True(t, c.StructuredReplies())
			info := c.Info()
			require.NotZero(t, info.MinBlock)
			require.NotZero(t, info.MaxBlock)
			require.Len(t, c.MetaContexts(), 3)
			for _, mc := range ctxs {
				got, _, err := collect(t, c.BlockStatus(ctx, mc, 0, c.Size()), 0)
				require.NoError(t, err, mc)
				require.Equal(t, nbdinfoMap(t, srv.uri, mc), got, mc)
			}
			// A sub-range that starts and ends inside extents is clipped.
			want := clipTo(nbdinfoMap(t, srv.uri, "qemu:dirty-bitmap:bm1"), 1<<20+4096, 2<<20+512)
			got, _, err := collect(t, c.BlockStatus(ctx, "qemu:dirty-bitmap:bm1", 1<<20+4096, 2<<20+512), 1<<20+4096)
			require.NoError(t, err)
			require.Equal(t, want, got)
			// Stopping early leaves the connection usable.
			for range c.BlockStatus(ctx, ContextBaseAllocation, 0, c.Size()) {
				break
			}
			buf := make([]byte, c.Size())
			require.NoError(t, c.ReadAt(ctx, buf, 0))
			require.True(t, bytes.Equal(qemutools.ExportRaw(t, img, ""), buf), "read differs from qemu-img convert")
			require.NoError(t, c.Close())
			require.NoError(t, c.Close())
			for _, err := range c.BlockStatus(ctx, ContextBaseAllocation, 0, 1) {
				require.ErrorIs(t, err, ErrClosed)
			}
		})
	}
}

func clipTo(es []Extent, off, n uint64) []Extent {
	var out []Extent
	for _, e := range es {
		lo, hi := max(e.Offset, off), min(e.End(), off+n)
		if lo < hi {
			out = append(out, Extent{Offset: lo, Length: hi - lo, Flags: e.Flags})
		}
	}
	return out
}

func TestQemuNBDListAndErrors(t *testing.T) {
	img := bitmapImage(t, "1M", "write -P 0xab 512k 64k")
	srv := newServer(t, "unix", "qemu-nbd", "-r", "-f", "qcow2", "-B", "bm1", "-A", "-x", "disk", "-t", img)
	ctx := context.Background()
	dial := func() *Handshake {
		h, err := Negotiate(ctx, mustDial(t, srv))
		require.NoError(t, err)
		t.Cleanup(h.Abort)
		return h
	}
	h := dial()
	require.True(t, h.StructuredReplies())
	names, err := h.ListMetaContexts(ctx, "disk", "qemu:")
	require.NoError(t, err)
	slices.Sort(names)
	require.Equal(t, []string{"qemu:allocation-depth", "qemu:dirty-bitmap:bm1"}, names)
	names, err = h.ListMetaContexts(ctx, "disk")
	require.NoError(t, err)
	require.Contains(t, names, ContextBaseAllocation)
	// Unknown export: an option error, and the handshake stays usable.
	_, err = h.Go(ctx, "nope")
	var oe *OptionError
	require.ErrorAs(t, err, &oe)
	require.Equal(t, uint32(optGo), oe.Option)
	t.Logf("unknown export: %v", err)
	ms, err := h.SetMetaContexts(ctx, "disk", "qemu:dirty-bitmap:nope", "qemu:dirty-bitmap:bm1")
	require.NoError(t, err)
	require.Len(t, ms, 1)
	c, err := h.Go(ctx, "disk")
	require.NoError(t, err)
	defer c.Close()
	got, _, err := collect(t, c.BlockStatus(ctx, "qemu:dirty-bitmap:bm1", 0, c.Size()), 0)
	require.NoError(t, err)
	require.Equal(t, []Extent{{0, 512 << 10, 0}, {512 << 10, 64 << 10, 1}, {576 << 10, 448 << 10, 0}}, got)
	// A context that was not selected, a range outside the export.
	for _, err := range c.BlockStatus(ctx, ContextBaseAllocation, 0, 1) {
		require.ErrorIs(t, err, ErrUnsupported)
	}
	for _, err := range c.BlockStatus(ctx, "qemu:dirty-bitmap:bm1", 0, c.Size()+1) {
		require.ErrorIs(t, err, ErrInvalidArgument)
	}
	// Connect refuses a context the export does not have.
	_, err = Dial(ctx, "unix", srv.addr, &Options{Export: "disk", MetaContexts: []string{"qemu:dirty-bitmap:nope"}})
	require.ErrorIs(t, err, ErrUnsupported)
	// Reads outside the export are refused before sending.
	require.ErrorIs(t, c.ReadAt(ctx, make([]byte, 2), c.Size()-1), ErrInvalidArgument)
}

func mustDial(t *testing.T, srv *server) net.Conn {
	t.Helper()
	nc, err := net.Dial(srv.network, srv.addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	return nc
}

// TestWalkResumesAfterServerKill kills qemu-nbd in the middle of a walk and
// restarts it on the same socket: the walk resumes where it stopped.
func TestWalkResumesAfterServerKill(t *testing.T) {
	var writes []string
	for off := 0; off < 96<<20; off += 256 << 10 {
		writes = append(writes, fmt.Sprintf("write -P 0x5a %d 64k", off))
	}
	img := bitmapImage(t, "96M", writes...)
	srv := newServer(t, "unix", "qemu-nbd", "-r", "-f", "qcow2", "-B", "bm1", "-t", img)
	want := nbdinfoMap(t, srv.uri, "qemu:dirty-bitmap:bm1")
	require.Greater(t, len(want), 700)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts := &Options{MetaContexts: []string{"qemu:dirty-bitmap:bm1"}}
	dials, reconnects := 0, 0
	dial := func(ctx context.Context) (*Conn, error) {
		dials++
		return Dial(ctx, "unix", srv.addr, opts)
	}
	var resumedAt []uint64
	wo := &WalkOptions{Delay: 50 * time.Millisecond, OnReconnect: func(at uint64, cause error) {
		reconnects++
		resumedAt = append(resumedAt, at)
		require.ErrorIs(t, cause, ErrDisconnected)
	}}
	var got []Extent
	next := uint64(0)
	killed := 0
	for e, err := range Walk(ctx, dial, "qemu:dirty-bitmap:bm1", 0, 96<<20, wo) {
		require.NoError(t, err)
		require.Equal(t, next, e.Offset, "gap or repeat")
		next = e.End()
		got = appendMerged(got, e)
		// qemu-nbd answers at most 32 MiB per request: kill it after the
		// first and second answers, restarting it on the same socket.
		if killed < 2 && e.End() >= uint64(killed+1)*(32<<20)-(256<<10) {
			killed++
			srv.stop()
			srv.start()
		}
	}
	require.Equal(t, want, got)
	require.Equal(t, 2, killed)
	require.Equal(t, 2, reconnects, "resumed at %v", resumedAt)
	require.Equal(t, 3, dials)
}

// TestWalkGivesUp: a server that stays down ends the walk with an error
// after the retries.
func TestWalkGivesUp(t *testing.T) {
	img := bitmapImage(t, "1M")
	srv := newServer(t, "unix", "qemu-nbd", "-r", "-f", "qcow2", "-B", "bm1", "-t", img)
	srv.stop()
	dial := func(ctx context.Context) (*Conn, error) {
		return Dial(ctx, "unix", srv.addr, &Options{MetaContexts: []string{"qemu:dirty-bitmap:bm1"}})
	}
	var errs []error
	for _, err := range Walk(context.Background(), dial, "qemu:dirty-bitmap:bm1", 0, 1<<20, &WalkOptions{Retries: 2, Delay: time.Millisecond}) {
		errs = append(errs, err)
	}
	require.Len(t, errs, 1)
	require.Error(t, errs[0])
	require.False(t, errors.Is(errs[0], ErrProtocol))
}
