package vcsimcbt

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/changedblocks/sdk/extent"
)

// After a tracking reset the disk has a new UUID; change IDs of the old one
// fail with FileFault cannotGetChanges (or InvalidArgument changeId when so
// configured), and queries from the new change ID work.
func TestResetGivesNewUUID(t *testing.T) {
	for _, invalidArg := range []bool{false, true} {
		withEnv(t, &Options{ResetAnswersInvalidArgument: invalidArg}, func(e *env) {
			s1, base := e.tracked()
			oldUUID, _, _ := parseChangeID(base)

			id, err := e.tr.Reset(e.ref(), diskKey)
			require.NoError(t, err)
			newUUID, _, ok := parseChangeID(id)
			require.True(t, ok)
			assert.NotEqual(t, oldUUID, newUUID)
			assert.Equal(t, id, changeIDOf(e.disk(nil)), "the current backing is restamped")

			e.writeAll(extent.Extent{Offset: 0, Length: 1})
			s2 := e.snapshot("after-reset")
			_, err = e.query(&s2, diskKey, 0, base)
			if invalidArg {
				requireInvalidArgument(t, err, PropChangeID)
			} else {
				requireFileFault(t, err, KeyCannotGetChanges)
			}
			all, _ := e.pageAll(&s2, id, e.capacity(&s2))
			assert.Len(t, all, 1)

			// The snapshot from before the reset still answers for its own
			// generation.
			_, pages := e.pageAll(&s1, base, e.capacity(&s1))
			assert.Len(t, pages, 5)
		})
	}
}

// Growing a disk: the snapshots before and after keep their own capacities,
// and the grown area is reported as changed (a false positive the API allows)
// so a query across the resize never misses a byte.
func TestResize(t *testing.T) {
	withEnv(t, nil, func(e *env) {
		s1, base := e.tracked()
		disk := e.disk(nil)
		disk.CapacityInBytes = 12 * gib
		disk.CapacityInKB = 0
		require.NoError(t, e.vm.EditDevice(e.ctx, disk))
		require.Equal(t, 12*gib, e.capacity(nil))

		e.writeAll(extent.Extent{Offset: 11 * gib, Length: 1})
		s2 := e.snapshot("grown")
		assert.Equal(t, 10*gib, e.capacity(&s1))
		assert.Equal(t, 12*gib, e.capacity(&s2))

		all, pages := e.pageAll(&s2, base, e.capacity(&s2))
		assert.Len(t, pages, 6)
		assert.Equal(t, []extent.Extent{{Offset: 10 * gib, Length: 2 * gib}}, extent.Normalize(all))

		_, err := e.query(&s1, diskKey, 10*gib, base)
		requireInvalidArgument(t, err, PropStartOffset)
	})
}

// Disks that CBT cannot track (independent disks here) get InvalidArgument
// naming deviceKey, and no change ID.
func TestIndependentDiskNotTracked(t *testing.T) {
	withEnv(t, nil, func(e *env) {
		e.powerOff()
		disk := e.disk(nil)
		disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo).DiskMode = string(types.VirtualDiskModeIndependent_persistent)
		require.NoError(t, e.vm.EditDevice(e.ctx, disk))
		e.setCBT(true)
		assert.Empty(t, changeIDOf(e.disk(nil)))
		_, err := e.query(nil, diskKey, 0, Star)
		requireInvalidArgument(t, err, PropDeviceKey)

		// Made persistent again, the disk is tracked from then on.
		disk = e.disk(nil)
		disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo).DiskMode = string(types.VirtualDiskModePersistent)
		require.NoError(t, e.vm.EditDevice(e.ctx, disk))
		id := changeIDOf(e.disk(nil))
		_, _, ok := parseChangeID(id)
		require.True(t, ok, "stamped: %q", id)
		e.writeAll(extent.Extent{Offset: 0, Length: 1})
		all, _ := e.pageAll(nil, id, e.capacity(nil))
		assert.Len(t, all, 1)
	})
}
