//go:build cgo

package libvirt_test

import (
	"bytes"
	"context"
	"github.com/changedblocks/sdk/cbt/cbttest"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/qemu/libvirt"
)

// TestCheckpointChainEndToEnd: a checkpoint chain c1 -> c2 -> c3 with seeded
// random guest writes between; the incremental from each checkpoint equals
// the writes made since, at bitmap granularity, live (pull-mode backup over
// NBD) and, once the domain is shut off, from the qcow2 bitmaps; no job,
// socket or scratch file is left behind.
func TestCheckpointChainEndToEnd(t *testing.T) {
	c := connect(t)
	const size = 64 << 20
	v := newVM(t, size)
	rng := rand.New(rand.NewPCG(20261130, 5))
	sockDir := t.TempDir()

	var rounds [][]write // rounds[i]: the writes after checkpoint c(i+1)
	apply := func(ws []write) {
		for _, w := range ws {
			v.write(w.pattern, w.off, w.length)
		}
	}
	before := randomWrites(rng, size, 20)
	apply(before)
	var ids []cbt.ChangeID
	for i := 1; i <= 3; i++ {
		cp, err := c.CreateCheckpoint(v.name, "c"+string(rune('0'+i)), nil)
		require.NoError(t, err)
		ids = append(ids, cp.ChangeID())
		ws := randomWrites(rng, size, 10+rng.IntN(30))
		apply(ws)
		rounds = append(rounds, ws)
	}

	cps, err := c.Checkpoints(v.name)
	require.NoError(t, err)
	require.Len(t, cps, 3)
	assert.Equal(t, []string{"", "c1", "c2"}, []string{cps[0].Parent, cps[1].Parent, cps[2].Parent}, "a chain, parents first")

	expect := func(from int) []extent.Extent {
		var ws []write
		for _, r := range rounds[from:] {
			ws = append(ws, r...)
		}
		return granules(ws, size)
	}
	check := func(t *testing.T, what string) {
		d, err := c.OpenDisk(v.name, "vda", &libvirt.DiskOptions{SocketDir: sockDir})
		require.NoError(t, err)
		defer d.Close()
		_, noID := d.ChangeID()
		assert.ErrorIs(t, noID, cbt.ErrUnsupported, "no new checkpoint: no change ID")
		for i, id := range ids {
			got, err := cbt.Collect(d.Changes(t.Context(), id, nil))
			require.NoError(t, err, "%s: since c%d", what, i+1)
			assert.Equal(t, expect(i), got, "%s: since c%d", what, i+1)
			t.Logf("%s: since c%d: %d extents, %d bytes", what, i+1, len(got), extent.TotalSlice(got))
		}
		all, err := cbt.Collect(d.Changes(t.Context(), cbt.ChangeID{}, nil))
		require.NoError(t, err)
		var every []write
		every = append(every, before...)
		for _, r := range rounds {
			every = append(every, r...)
		}
		written := granules(every, size)
		assert.Empty(t, extent.SubtractSlices(written, all), "%s: a full listing covers every write", what)
		assert.Empty(t, dirEntries(t, sockDir), "%s: socket and scratch files removed", what)
	}
	t.Run("live", func(t *testing.T) {
		check(t, "live")
		assert.False(t, v.jobRunning(), "no job left")
	})

	t.Run("new checkpoint in the same call", func(t *testing.T) {
		d, err := c.OpenDisk(v.name, "vda", &libvirt.DiskOptions{SocketDir: sockDir, NewCheckpoint: "c4"})
		require.NoError(t, err)
		defer d.Close()
		got, err := cbt.Collect(d.Changes(t.Context(), ids[2], nil))
		require.NoError(t, err)
		assert.Equal(t, expect(2), got)
		c4 := cbttest.MustChangeID(t, d)
		require.False(t, c4.IsZero())
		ws := randomWrites(rng, size, 15)
		apply(ws)
		d2, err := c.OpenDisk(v.name, "vda", &libvirt.DiskOptions{SocketDir: sockDir})
		require.NoError(t, err)
		defer d2.Close()
		got, err = cbt.Collect(d2.Changes(t.Context(), c4, nil))
		require.NoError(t, err, "the change ID of the new checkpoint is a base")
		assert.Equal(t, granules(ws, size), got)
		rounds = append(rounds, ws)
		cp, err := c.Checkpoint(v.name, "c4", false)
		require.NoError(t, err)
		assert.Equal(t, "c3", cp.Parent)
		ids = append(ids, cp.ChangeID())
		assert.False(t, v.jobRunning())
	})

	t.Run("an incomplete listing takes its new checkpoint back", func(t *testing.T) {
		d, err := c.OpenDisk(v.name, "vda", &libvirt.DiskOptions{SocketDir: sockDir, NewCheckpoint: "c5"})
		require.NoError(t, err)
		defer d.Close()
		for range d.Changes(t.Context(), ids[3], nil) {
			break
		}
		_, err = c.Checkpoint(v.name, "c5", false)
		require.ErrorIs(t, err, cbt.ErrNotFound, "stopped early: no checkpoint left")
		ws := randomWrites(rng, size, 5)
		apply(ws)
		rounds = append(rounds, ws)
		got, err := cbt.Collect(d.Changes(t.Context(), ids[3], nil))
		require.NoError(t, err, "the same listing runs again")
		assert.Equal(t, expect(3), got, "nothing lost: c4's bitmap still holds every write")
		cp, err := c.Checkpoint(v.name, "c5", false)
		require.NoError(t, err)
		require.NoError(t, c.DeleteCheckpoint(v.name, cp.Name, nil), "merged into c4")

		// A resume (a listing of part of the disk) cannot make the
		// checkpoint: it would hide the writes to the rest made between the
		// first job and this one.
		_, err = cbt.Collect(d.Changes(t.Context(), ids[3], &cbt.ChangesOptions{StartOffset: 1 << 20}))
		require.ErrorIs(t, err, cbt.ErrInvalidArgument)
		_, err = c.Checkpoint(v.name, "c5", false)
		require.ErrorIs(t, err, cbt.ErrNotFound)
		assert.False(t, v.jobRunning())
	})

	t.Run("data from the export", func(t *testing.T) {
		var r io.ReaderAt
		d, err := c.OpenDisk(v.name, "vda", &libvirt.DiskOptions{SocketDir: sockDir,
			OnExport: func(x io.ReaderAt) { r = x }})
		require.NoError(t, err)
		defer d.Close()
		w := write{pattern: 0x5a, off: 40 << 20, length: 128 << 10}
		v.write(w.pattern, w.off, w.length)
		rounds = append(rounds, []write{w})
		read := false
		for e, err := range d.Changes(t.Context(), ids[3], nil) {
			require.NoError(t, err)
			if e.Offset <= w.off && w.off+w.length <= e.End() {
				read = true
				buf := make([]byte, w.length)
				_, err := r.ReadAt(buf, w.off)
				require.NoError(t, err)
				assert.Equal(t, bytes.Repeat([]byte{w.pattern}, int(w.length)), buf)
			}
		}
		require.True(t, read, "the write was listed and read back")
		_, err = r.ReadAt(make([]byte, 512), 0)
		require.ErrorIs(t, err, cbt.ErrClosed, "the reader ends with the listing")
	})

	t.Run("cancel and early stop leave nothing", func(t *testing.T) {
		d, err := c.OpenDisk(v.name, "vda", &libvirt.DiskOptions{SocketDir: sockDir})
		require.NoError(t, err)
		defer d.Close()
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var last error
		n := 0
		for _, err := range d.Changes(ctx, ids[0], nil) {
			n++
			cancel()
			last = err
		}
		require.ErrorIs(t, last, context.Canceled)
		assert.False(t, v.jobRunning(), "cancel: job ended")
		assert.Empty(t, dirEntries(t, sockDir), "cancel: files removed")
		for range d.Changes(t.Context(), ids[0], nil) {
			break
		}
		assert.False(t, v.jobRunning(), "early stop: job ended")
		assert.Empty(t, dirEntries(t, sockDir), "early stop: files removed")
		assert.Panics(t, func() {
			for range d.Changes(t.Context(), ids[0], nil) {
				panic("caller bug")
			}
		})
		assert.False(t, v.jobRunning(), "panic: job ended")
		assert.Empty(t, dirEntries(t, sockDir), "panic: files removed")
	})

	t.Run("stale or foreign change IDs", func(t *testing.T) {
		d, err := c.OpenDisk(v.name, "vda", &libvirt.DiskOptions{SocketDir: sockDir})
		require.NoError(t, err)
		defer d.Close()
		ref, err := libvirt.ParseCheckpointRef(ids[0].Value())
		require.NoError(t, err)
		ref.Time++
		_, err = cbt.Collect(d.Changes(t.Context(), ref.ChangeID(), nil))
		require.ErrorIs(t, err, cbt.ErrChangeIDInvalid, "a checkpoint made again under the same name")
		gone := libvirt.CheckpointRef{Name: "nope"}.ChangeID()
		_, err = cbt.Collect(d.Changes(t.Context(), gone, nil))
		require.ErrorIs(t, err, cbt.ErrChangeIDInvalid)
		assert.Empty(t, dirEntries(t, sockDir))
	})

	t.Run("shut off", func(t *testing.T) {
		v.stop()
		check(t, "offline")
		d, err := c.OpenDisk(v.name, "vda", &libvirt.DiskOptions{NewCheckpoint: "c9"})
		require.NoError(t, err)
		defer d.Close()
		_, err = cbt.Collect(d.Changes(t.Context(), ids[0], nil))
		require.ErrorIs(t, err, cbt.ErrUnsupported, "no checkpoint of a shut-off domain")
	})
}
