package vcsimcbt

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/changedblocks/sdk/extent"
)

// On a powered-on VM, enabling takes effect at the next stun/unstun cycle; a
// snapshot is one, and its disk carries a change ID of the notes' shape,
// also stamped into the VM's current backing.
func TestSnapshotStampsChangeIDs(t *testing.T) {
	withEnv(t, nil, func(e *env) {
		s0 := e.snapshot("before-cbt")
		assert.Empty(t, changeIDOf(e.disk(&s0)), "no change ID without tracking")

		e.setCBT(true)
		assert.Empty(t, changeIDOf(e.disk(nil)), "powered on: tracking waits for a stun/unstun cycle")
		_, err := e.tr.ChangeID(e.ref(), diskKey)
		require.ErrorIs(t, err, ErrNotTracked)

		s1 := e.snapshot("s1")
		id1 := changeIDOf(e.disk(&s1))
		uuid, n1, ok := parseChangeID(id1)
		require.True(t, ok, "change ID %q has the ESXi shape", id1)
		assert.Regexp(t, `^([0-9a-f]{2} ){7}[0-9a-f]{2}-([0-9a-f]{2} ){7}[0-9a-f]{2}/[0-9]+$`, id1)
		assert.Equal(t, id1, changeIDOf(e.disk(nil)), "the current backing carries the latest point")
		got, err := e.tr.SnapshotChangeID(s1, diskKey)
		require.NoError(t, err)
		assert.Equal(t, id1, got)

		s2 := e.snapshot("s2")
		id2 := changeIDOf(e.disk(&s2))
		uuid2, n2, ok := parseChangeID(id2)
		require.True(t, ok)
		assert.Equal(t, uuid, uuid2, "same tracking generation")
		assert.Greater(t, n2, n1)
		assert.Equal(t, id1, changeIDOf(e.disk(&s1)), "older snapshots keep their change ID")
		live, err := e.tr.ChangeID(e.ref(), diskKey)
		require.NoError(t, err)
		assert.Equal(t, id2, live)

		_, err = e.tr.SnapshotChangeID(s0, diskKey)
		require.ErrorIs(t, err, ErrNotTracked)
	})
}

// On a powered-off VM enabling takes effect at once; disabling clears the
// change IDs; enabling again starts a new generation (a new UUID).
func TestEnableDisablePoweredOff(t *testing.T) {
	withEnv(t, nil, func(e *env) {
		e.powerOff()
		e.setCBT(true)
		id := changeIDOf(e.disk(nil))
		uuid1, _, ok := parseChangeID(id)
		require.True(t, ok, "stamped at once: %q", id)

		e.setCBT(false)
		assert.Empty(t, changeIDOf(e.disk(nil)))
		_, err := e.query(nil, diskKey, 0, id)
		requireFileFault(t, err, KeyNoTrack)

		e.setCBT(true)
		uuid2, _, ok := parseChangeID(changeIDOf(e.disk(nil)))
		require.True(t, ok)
		assert.NotEqual(t, uuid1, uuid2)
	})
}

// A power cycle is a stun/unstun cycle too; EnableImmediately skips the wait.
func TestStunCycles(t *testing.T) {
	withEnv(t, nil, func(e *env) {
		e.setCBT(true)
		assert.Empty(t, changeIDOf(e.disk(nil)))
		e.powerOff()
		assert.NotEmpty(t, changeIDOf(e.disk(nil)))
	})
	withEnv(t, nil, func(e *env) {
		s := e.snapshot("old")
		e.setCBT(true)
		assert.Empty(t, changeIDOf(e.disk(nil)))
		e.removeSnapshot(s)
		assert.NotEmpty(t, changeIDOf(e.disk(nil)), "removing a snapshot is a stun/unstun cycle")
	})
	withEnv(t, &Options{EnableImmediately: true}, func(e *env) {
		e.setCBT(true)
		assert.NotEmpty(t, changeIDOf(e.disk(nil)))
	})
}

// The usual backup flow: store the snapshot's change ID, delete the
// snapshot, and later ask a newer snapshot for the changes since the stored
// change ID (which the object method cannot do, notes §2.2).
func TestStoredChangeIDOutlivesItsSnapshot(t *testing.T) {
	withEnv(t, nil, func(e *env) {
		s1, stored := e.tracked()
		e.removeSnapshot(s1)
		e.writeAll(extent.Extent{Offset: 4 * gib, Length: 100})
		s2 := e.snapshot("next")
		all, _ := e.pageAll(&s2, stored, e.capacity(&s2))
		assert.Equal(t, []extent.Extent{{Offset: 4 * gib, Length: DefaultBlockSize}}, all)
	})
}

// Adding a disk while tracking is on tracks it; its backing is stamped.
func TestHotAddedDiskIsTracked(t *testing.T) {
	withEnv(t, &Options{EnableImmediately: true}, func(e *env) {
		e.setCBT(true)
		devices, err := e.vm.Device(e.ctx)
		require.NoError(t, err)
		ctrl, err := devices.FindDiskController("")
		require.NoError(t, err)
		disk := devices.CreateDisk(ctrl, types.ManagedObjectReference{}, "")
		disk.CapacityInKB = 1024 * 1024
		require.NoError(t, e.vm.AddDevice(e.ctx, disk))
		devices, err = e.vm.Device(e.ctx)
		require.NoError(t, err)
		disks := devices.SelectByType((*types.VirtualDisk)(nil))
		require.Len(t, disks, 2)
		for _, d := range disks {
			id := d.(*types.VirtualDisk).Backing.(*types.VirtualDiskFlatVer2BackingInfo).ChangeId
			_, _, ok := parseChangeID(id)
			assert.True(t, ok, "disk %d: %q", d.GetVirtualDevice().Key, id)
		}
	})
}
