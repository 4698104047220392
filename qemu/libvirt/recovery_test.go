//go:build cgo

package libvirt_test

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/internal/qemutools"
	"github.com/changedblocks/sdk/qemu/libvirt"
)

// TestCheckpointRedefine: checkpoint metadata lost (a transient domain
// restarted, a domain moved) and brought back from saved XML, parents first,
// with REDEFINE_VALIDATE; the incrementals are as before.
func TestCheckpointRedefine(t *testing.T) {
	c := connect(t)
	const size = 32 << 20
	v := newVM(t, size)
	rng := rand.New(rand.NewPCG(7, 7))
	var saved []string
	var ids []cbt.ChangeID
	var after [][]write
	for _, name := range []string{"r1", "r2"} {
		cp, err := c.CreateCheckpoint(v.name, name, &libvirt.CheckpointOptions{Description: "nightly"})
		require.NoError(t, err)
		full, err := c.Checkpoint(v.name, name, false)
		require.NoError(t, err)
		require.Contains(t, full.XML, "<domain", "the saved XML holds the domain definition redefine needs")
		saved = append(saved, full.XML)
		ids = append(ids, cp.ChangeID())
		ws := randomWrites(rng, size, 12)
		for _, w := range ws {
			v.write(w.pattern, w.off, w.length)
		}
		after = append(after, ws)
	}
	require.NoError(t, c.DeleteCheckpoint(v.name, "r2", &libvirt.DeleteOptions{MetadataOnly: true}))
	require.NoError(t, c.DeleteCheckpoint(v.name, "r1", &libvirt.DeleteOptions{MetadataOnly: true}))
	cps, err := c.Checkpoints(v.name)
	require.NoError(t, err)
	require.Empty(t, cps)

	d, err := c.OpenDisk(v.name, "vda", &libvirt.DiskOptions{SocketDir: t.TempDir()})
	require.NoError(t, err)
	defer d.Close()
	_, err = cbt.Collect(d.Changes(t.Context(), ids[0], nil))
	require.ErrorIs(t, err, cbt.ErrChangeIDInvalid, "metadata gone: full backup")

	for _, x := range saved {
		_, err := c.RedefineCheckpoint(v.name, x)
		require.NoError(t, err)
	}
	cps, err = c.Checkpoints(v.name)
	require.NoError(t, err)
	require.Len(t, cps, 2)
	assert.Equal(t, "r1", cps[1].Parent)
	got, err := cbt.Collect(d.Changes(t.Context(), ids[0], nil))
	require.NoError(t, err, "the redefined checkpoint keeps its guard (creation time)")
	assert.Equal(t, granules(append(append([]write{}, after[0]...), after[1]...), size), got)
	require.NoError(t, c.ValidateCheckpoint(v.name, "r1"))
}

// TestCheckpointBrokenBitmap: a checkpoint whose qcow2 bitmap was removed
// behind libvirt's back gives ErrChangeIDInvalid (take a full backup), live
// and offline; the broken checkpoint is deleted with MetadataOnly.
func TestCheckpointBrokenBitmap(t *testing.T) {
	c := connect(t)
	const size = 16 << 20
	v := newVM(t, size)
	for _, name := range []string{"b1", "b2"} {
		_, err := c.CreateCheckpoint(v.name, name, nil)
		require.NoError(t, err)
		v.write(0x11, 1<<20, 64<<10)
	}
	cp, err := c.Checkpoint(v.name, "b2", false)
	require.NoError(t, err)
	v.stop()
	qemutools.QemuImg(t, "bitmap", "--remove", v.image, "b2")

	d, err := c.OpenDisk(v.name, "vda", nil)
	require.NoError(t, err)
	defer d.Close()
	_, err = cbt.Collect(d.Changes(t.Context(), cp.ChangeID(), nil))
	require.ErrorIs(t, err, cbt.ErrChangeIDInvalid, "offline: %v", err)
	t.Logf("offline: %v", err)

	v.start()
	_, err = cbt.Collect(d.Changes(t.Context(), cp.ChangeID(), nil))
	require.ErrorIs(t, err, cbt.ErrChangeIDInvalid, "live: %v", err)
	t.Logf("live: %v", err)
	assert.False(t, v.jobRunning())
	err = c.ValidateCheckpoint(v.name, "b2")
	require.ErrorIs(t, err, cbt.ErrChangeIDInvalid)
	require.NoError(t, c.DeleteCheckpoint(v.name, "b2", &libvirt.DeleteOptions{MetadataOnly: true}))
}
