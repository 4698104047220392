package vsphere_test

import (
	"github.com/changedblocks/sdk/cbt/cbttest"
	"testing"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/vsphere"
	"github.com/changedblocks/sdk/vsphere/vcsimcbt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
)

func TestListDisksAndEnable(t *testing.T) {
	withVcsim(t, nil, func(e *env) {
		vm, keys := e.newVM(vmSpec{capacity: 8 << 20, extra: []int64{1 << 30}})
		v, err := vsphere.ListDisks(e.ctx, e.c, vm)
		require.NoError(t, err)
		assert.True(t, v.CBTSupported)
		assert.False(t, v.CBTEnabled)
		assert.Equal(t, 13, v.HardwareVersion)
		assert.Equal(t, types.VirtualMachinePowerStatePoweredOff, v.PowerState)
		require.Len(t, v.Disks, 2)
		d := v.Disks[0]
		assert.Equal(t, keys[0], d.Key)
		assert.Equal(t, int64(8<<20), d.Capacity)
		assert.Equal(t, vsphere.BackingFlat, d.Backing)
		assert.Equal(t, "persistent", d.Mode)
		assert.True(t, d.Trackable)
		assert.False(t, d.Independent)
		assert.NotEmpty(t, d.Label)
		assert.True(t, d.ChangeID.IsZero())
		assert.Equal(t, int64(1<<30), v.Disks[1].Capacity)

		r, err := vsphere.EnableCBT(e.ctx, e.c, vm, nil)
		require.NoError(t, err)
		assert.True(t, r.Enabled)
		assert.False(t, r.WasEnabled)
		assert.False(t, r.StunPending, "a powered-off VM needs no stun cycle")
		assert.True(t, r.VM.CBTEnabled)

		r, err = vsphere.EnableCBT(e.ctx, e.c, vm, nil)
		require.NoError(t, err)
		assert.True(t, r.WasEnabled)

		_, err = vsphere.ListDisks(e.ctx, e.c, types.ManagedObjectReference{Type: "VirtualMachine", Value: "vm-nope"})
		assert.ErrorIs(t, err, cbt.ErrNotFound)
		var fe *vsphere.FaultError
		assert.ErrorAs(t, err, &fe)
	})
}

func TestEnableUnsupported(t *testing.T) {
	withVcsim(t, nil, func(e *env) {
		old, _ := e.newVM(vmSpec{capacity: 1 << 20, version: "vmx-04"})
		_, err := vsphere.EnableCBT(e.ctx, e.c, old, nil)
		assert.ErrorIs(t, err, cbt.ErrUnsupported)
		assert.ErrorContains(t, err, "hardware version 4")

		ind, keys := e.newVM(vmSpec{capacity: 1 << 20, mode: string(types.VirtualDiskModeIndependent_persistent), extra: []int64{1 << 20}})
		v, err := vsphere.ListDisks(e.ctx, e.c, ind)
		require.NoError(t, err)
		assert.True(t, v.Disks[0].Independent)
		assert.False(t, v.Disks[0].Trackable)
		_, err = vsphere.EnableCBT(e.ctx, e.c, ind, nil)
		assert.ErrorIs(t, err, cbt.ErrUnsupported)
		assert.ErrorContains(t, err, "independent")

		r, err := vsphere.EnableCBT(e.ctx, e.c, ind, &vsphere.EnableOptions{AllowUntrackedDisks: true})
		require.NoError(t, err)
		assert.Equal(t, []int32{keys[0]}, r.Untracked)
		s := e.snapshot(ind)
		_, err = vsphere.OpenDisk(e.ctx, e.c, s.Ref, keys[0], nil)
		assert.ErrorIs(t, err, cbt.ErrUnsupported)
		d := e.open(s, keys[1], nil)
		assert.Equal(t, int64(1<<20), d.Capacity())
	})
}

// On a powered-on VM, tracking starts at the next stun/unstun cycle (the
// Tracker models it): without one, a snapshot taken... is itself the cycle;
// with StunWithSnapshot the cycle happens at once.
func TestEnablePoweredOn(t *testing.T) {
	withVcsim(t, nil, func(e *env) {
		vm, keys := e.newVM(vmSpec{capacity: 4 << 20})
		task, err := object.NewVirtualMachine(e.c, vm).PowerOn(e.ctx)
		require.NoError(t, err)
		require.NoError(t, task.Wait(e.ctx))

		r, err := vsphere.EnableCBT(e.ctx, e.c, vm, nil)
		require.NoError(t, err)
		assert.True(t, r.Enabled)
		assert.True(t, r.StunPending)
		assert.False(t, r.Stunned)
		_, err = e.tr.ChangeID(vm, keys[0])
		assert.ErrorIs(t, err, vcsimcbt.ErrNotTracked, "not in effect before a stun cycle")

		vm2, keys2 := e.newVM(vmSpec{capacity: 4 << 20})
		task, err = object.NewVirtualMachine(e.c, vm2).PowerOn(e.ctx)
		require.NoError(t, err)
		require.NoError(t, task.Wait(e.ctx))
		r, err = vsphere.EnableCBT(e.ctx, e.c, vm2, &vsphere.EnableOptions{StunWithSnapshot: true})
		require.NoError(t, err)
		assert.False(t, r.StunPending)
		assert.True(t, r.Stunned)
		assert.False(t, r.VM.HasSnapshots, "the temporary snapshot is removed")
		_, err = e.tr.ChangeID(vm2, keys2[0])
		assert.NoError(t, err, "tracking is in effect")
	})
}

func TestSnapshotsAndListings(t *testing.T) {
	withVcsim(t, &vcsimcbt.Options{Window: 1 << 20, MaxExtents: 3, BlockSize: 4096}, func(e *env) {
		vm, keys := e.newVM(vmSpec{capacity: 8<<20 + 4096})
		key := keys[0]
		e.enable(vm)
		e.write(vm, key, 0, 100)
		e.write(vm, key, 3<<20+7, 9000)
		s1 := e.snapshot(vm)
		id1 := changeID(t, s1, key)
		assert.Equal(t, vsphere.Scheme, id1.Scheme())
		e.write(vm, key, 5<<20, 1)
		e.write(vm, key, 8<<20, 4096)
		s2 := e.snapshot(vm)
		id2 := changeID(t, s2, key)
		assert.NotEqual(t, id1, id2)

		d1 := e.open(s1, key, nil)
		assert.Equal(t, id1, cbttest.MustChangeID(t, d1))
		assert.Equal(t, int64(8<<20+4096), d1.Capacity())
		d2 := e.open(s2, key, nil)
		assert.Equal(t, id2, cbttest.MustChangeID(t, d2))

		for _, c := range []struct {
			d    *cbt.Disk
			s    *vsphere.Snapshot
			base cbt.ChangeID
		}{{d1, s1, cbt.ChangeID{}}, {d2, s2, cbt.ChangeID{}}, {d2, s2, id1}, {d2, s2, id2}, {d1, s1, id1}} {
			got, err := cbt.Collect(c.d.Changes(e.ctx, c.base, nil))
			require.NoError(t, err)
			want := e.truth(c.s, key, c.base)
			requireCovers(t, got, want)
			assert.Empty(t, extent.SubtractSlices(got, extent.AlignSlice(want, 4096, c.d.Capacity())), "only whole tracking blocks around the writes")
		}
		got, err := cbt.Collect(d2.Changes(e.ctx, id2, nil))
		require.NoError(t, err)
		assert.Empty(t, got, "nothing since the point itself")

		// The change ID stays a valid base after its snapshot is removed.
		require.NoError(t, vsphere.RemoveSnapshot(e.ctx, e.c, s1.Ref))
		got, err = cbt.Collect(d2.Changes(e.ctx, id1, nil))
		require.NoError(t, err)
		requireCovers(t, got, []extent.Extent{{Offset: 5 << 20, Length: 1}, {Offset: 8 << 20, Length: 4096}})
		_, err = vsphere.OpenDisk(e.ctx, e.c, s1.Ref, key, nil)
		assert.ErrorIs(t, err, cbt.ErrNotFound)
		_, err = vsphere.OpenDisk(e.ctx, e.c, s2.Ref, 9999, nil)
		assert.ErrorIs(t, err, cbt.ErrNotFound)
		assert.ErrorIs(t, vsphere.RemoveSnapshot(e.ctx, e.c, s1.Ref), cbt.ErrNotFound)

		// Quiesce on a powered-off VM: vcsim accepts it.
		s3, err := vsphere.CreateSnapshot(e.ctx, e.c, vm, "q", &vsphere.SnapshotOptions{Quiesce: true, Description: "d"})
		require.NoError(t, err)
		assert.Equal(t, vm, s3.VM)
		r, err := vsphere.ReadSnapshot(e.ctx, e.c, s3.Ref)
		require.NoError(t, err)
		assert.Equal(t, s3.Disks, r.Disks)
	})
}

// A snapshot taken while tracking is off carries no change ID.
func TestOpenNotEnabled(t *testing.T) {
	withVcsim(t, nil, func(e *env) {
		vm, keys := e.newVM(vmSpec{capacity: 1 << 20})
		s := e.snapshot(vm)
		d, ok := s.Disk(keys[0])
		require.True(t, ok)
		assert.True(t, d.ChangeID.IsZero())
		_, err := vsphere.OpenDisk(e.ctx, e.c, s.Ref, keys[0], nil)
		assert.ErrorIs(t, err, cbt.ErrNotEnabled)
	})
}
