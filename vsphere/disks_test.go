package vsphere

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/vmware/govmomi/vim25/types"
)

func disk(key int32, capacity int64, b types.BaseVirtualDeviceBackingInfo) *types.VirtualDisk {
	return &types.VirtualDisk{VirtualDevice: types.VirtualDevice{Key: key, Backing: b,
		DeviceInfo: &types.Description{Label: "Hard disk"}}, CapacityInBytes: capacity}
}

func file(name string) types.VirtualDeviceFileBackingInfo {
	return types.VirtualDeviceFileBackingInfo{FileName: name}
}

func TestDisksOf(t *testing.T) {
	devs := []types.BaseVirtualDevice{
		&types.VirtualCdrom{},
		disk(1, 1<<30, &types.VirtualDiskFlatVer2BackingInfo{VirtualDeviceFileBackingInfo: file("[ds] a.vmdk"), DiskMode: "persistent", ChangeId: realID1}),
		disk(2, 0, &types.VirtualDiskSparseVer2BackingInfo{VirtualDeviceFileBackingInfo: file("[ds] b.vmdk"), DiskMode: "persistent"}),
		disk(3, 1<<20, &types.VirtualDiskSeSparseBackingInfo{VirtualDeviceFileBackingInfo: file("[ds] c.vmdk"), DiskMode: "persistent", ChangeId: realID2}),
		disk(4, 1<<20, &types.VirtualDiskRawDiskMappingVer1BackingInfo{VirtualDeviceFileBackingInfo: file("[ds] d.vmdk"), CompatibilityMode: "virtualMode", DiskMode: "persistent", ChangeId: realID1}),
		disk(5, 1<<20, &types.VirtualDiskRawDiskMappingVer1BackingInfo{VirtualDeviceFileBackingInfo: file("[ds] e.vmdk"), CompatibilityMode: "physicalMode", ChangeId: realID1}),
		disk(6, 1<<20, &types.VirtualDiskFlatVer2BackingInfo{VirtualDeviceFileBackingInfo: file("[ds] f.vmdk"), DiskMode: "independent_nonpersistent", ChangeId: realID1}),
		disk(7, 1<<20, &types.VirtualDiskRawDiskVer2BackingInfo{DescriptorFileName: "/dev/x"}),
		disk(8, 1<<20, &types.VirtualDiskFlatVer1BackingInfo{VirtualDeviceFileBackingInfo: file("[ds] h.vmdk"), DiskMode: "persistent"}),
		disk(9, 1<<20, &types.VirtualDiskFlatVer2BackingInfo{VirtualDeviceFileBackingInfo: file("[ds] i.vmdk"), ChangeId: "not a change id"}),
	}
	devs[2].(*types.VirtualDisk).CapacityInKB = 2048
	ds := disksOf(devs)
	assert.Len(t, ds, 9)
	type row struct {
		key       int32
		kind      BackingKind
		capacity  int64
		trackable bool
		indep     bool
		hasID     bool
		raw       string
	}
	want := []row{
		{1, BackingFlat, 1 << 30, true, false, true, realID1},
		{2, BackingSparse, 2 << 20, true, false, false, ""},
		{3, BackingSeSparse, 1 << 20, true, false, true, realID2},
		{4, BackingRDMVirtual, 1 << 20, true, false, true, realID1},
		{5, BackingRDMPhysical, 1 << 20, false, false, false, realID1},
		{6, BackingFlat, 1 << 20, false, true, false, realID1},
		{7, BackingRawDisk, 1 << 20, true, false, false, ""},
		{8, BackingOther, 1 << 20, false, false, false, ""},
		{9, BackingFlat, 1 << 20, true, false, false, "not a change id"},
	}
	for i, w := range want {
		d := ds[i]
		assert.Equal(t, w, row{d.Key, d.Backing, d.Capacity, d.Trackable, d.Independent, !d.ChangeID.IsZero(), d.RawChangeID}, "disk %d", w.key)
		assert.Equal(t, "Hard disk", d.Label)
	}
	assert.Equal(t, int64(1<<30), ds[0].ChangeID.Capacity(), "the change ID carries the disk's capacity")
	assert.Equal(t, "[ds] h.vmdk", ds[7].FileName)
	assert.Contains(t, untrackable(ds[4]), "physical")
	assert.Contains(t, untrackable(ds[5]), "independent")
	assert.Empty(t, untrackable(ds[0]))
	assert.Equal(t, 7, hardwareVersion("vmx-07"))
	assert.Equal(t, 0, hardwareVersion("7"))
	assert.Equal(t, 0, hardwareVersion("vmx-x"))
}
