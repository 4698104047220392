//go:build cgo

package libvirt_test

import (
	"fmt"
	"github.com/changedblocks/sdk/cbt/cbttest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/qemutools"
	"github.com/changedblocks/sdk/qemu/libvirt"
)

// TestSnapshotDisks: internal snapshots a running domain takes (virsh
// snapshot-create-as, memory included) are listed and diffed with the
// offline qcow2 code while the domain runs, next to its checkpoints; the
// diff equals what changed in the exported data between the two snapshots.
func TestSnapshotDisks(t *testing.T) {
	c := connect(t)
	const size = 16 << 20
	v := newVM(t, size)
	_, err := c.CreateCheckpoint(v.name, "k1", nil) // checkpoints and internal snapshots coexist
	require.NoError(t, err)
	v.write(0x21, 1<<20, 64<<10)
	snap := func(name string) {
		s, err := v.dom().CreateSnapshotXML(fmt.Sprintf("<domainsnapshot><name>%s</name></domainsnapshot>", name), 0)
		require.NoError(t, err)
		require.NoError(t, s.Free())
	}
	snap("s1")
	writes := []write{{0x22, 3 << 20, 4096}, {0x23, 9<<20 + 512, 200 << 10}}
	for _, w := range writes {
		v.write(w.pattern, w.off, w.length)
	}
	snap("s2")
	v.write(0x24, 12<<20, 64<<10) // after s2: not in the diff

	names, err := c.Snapshots(v.name)
	require.NoError(t, err)
	assert.Equal(t, []string{"s1", "s2"}, names)
	d1, err := c.OpenSnapshotDisk(v.name, "vda", "s1")
	require.NoError(t, err)
	defer d1.Close()
	d2, err := c.OpenSnapshotDisk(v.name, "vda", "s2")
	require.NoError(t, err)
	defer d2.Close()
	assert.Equal(t, "qcow2", d2.Scheme())
	got, err := cbt.Collect(d2.Changes(t.Context(), cbttest.MustChangeID(t, d1), nil))
	require.NoError(t, err)
	assert.Equal(t, granules(writes, size), got)

	// Ground truth: the two snapshots' data, exported (qemu-img needs the
	// image closed) and compared.
	v.stop()
	a := qemutools.ExportRawAs(t, "qcow2", v.image, "s1")
	b := qemutools.ExportRawAs(t, "qcow2", v.image, "s2")
	changed := qemutools.ChangedSectors(a[:size], b[:size])
	assert.Empty(t, extent.SubtractSlices(changed, got), "every changed sector is listed")

	_, err = c.OpenSnapshotDisk(v.name, "vda", "nope")
	require.ErrorIs(t, err, cbt.ErrNotFound)
	_, err = c.OpenSnapshotDisk(v.name, "vdz", "s1")
	require.ErrorIs(t, err, cbt.ErrNotFound)
}

// TestIntersectAllocation: an area discarded since the checkpoint is dirty,
// and reads as zeros (base:allocation hole+zero); IntersectAllocation leaves
// it out, the default listing keeps it.
func TestIntersectAllocation(t *testing.T) {
	c := connect(t)
	const size = 16 << 20
	v := newVM(t, size)
	v.write(0x31, 4<<20, 128<<10) // data before the checkpoint
	_, err := c.CreateCheckpoint(v.name, "k1", nil)
	require.NoError(t, err)
	cp, err := c.Checkpoint(v.name, "k1", false)
	require.NoError(t, err)
	v.write(0x32, 1<<20, 64<<10)
	out, err := v.dom().QemuMonitorCommand(`qemu-io -d /machine/peripheral/virtio-disk0/virtio-backend "write -zu 4194304 131072"`,
		golibvirtHMP)
	require.NoError(t, err)
	require.Empty(t, out)

	list := func(intersect bool) []extent.Extent {
		d, err := c.OpenDisk(v.name, "vda", &libvirt.DiskOptions{IntersectAllocation: intersect})
		require.NoError(t, err)
		defer d.Close()
		got, err := cbt.Collect(d.Changes(t.Context(), cp.ChangeID(), nil))
		require.NoError(t, err)
		return got
	}
	assert.Equal(t, []extent.Extent{{Offset: 1 << 20, Length: 64 << 10}, {Offset: 4 << 20, Length: 128 << 10}}, list(false),
		"the discard is a change")
	assert.Equal(t, []extent.Extent{{Offset: 1 << 20, Length: 64 << 10}}, list(true),
		"IntersectAllocation drops what now reads as an unallocated hole")
}
