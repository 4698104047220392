package vsphere_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/vsphere"
	"github.com/changedblocks/sdk/vsphere/vcsimcbt"
)

// A disk replaced under its device key (removed and a new one added with the
// same key and label, or its backing pointed at another VMDK) is another disk
// with its own tracking file: ESXi gives it a new change-epoch UUID, and a
// base taken on the old disk is refused with ErrChangeIDInvalid before any
// query, never answered with the new disk's history.
func TestDiskReplacedUnderSameKey(t *testing.T) {
	for _, how := range []string{"remove-add", "backing"} {
		t.Run(how, func(t *testing.T) {
			withVcsim(t, &vcsimcbt.Options{BlockSize: 4096}, func(e *env) {
				vm, keys := e.newVM(vmSpec{capacity: 4 << 20})
				key := keys[0]
				e.enable(vm)
				e.write(vm, key, 0, 4096)
				s1 := e.snapshot(vm)
				base := changeID(t, s1, key)
				e.write(vm, key, 1<<20, 4096) // W2: the old disk, after the base

				devices, err := e.vmObj(vm).Device(e.ctx)
				require.NoError(t, err)
				old := devices.FindByKey(key).(*types.VirtualDisk)
				file := old.Backing.(*types.VirtualDiskFlatVer2BackingInfo).FileName
				newFile := file[:len(file)-len(".vmdk")] + "-new.vmdk"
				var change []types.BaseVirtualDeviceConfigSpec
				switch how {
				case "remove-add":
					nd := *old
					b := *old.Backing.(*types.VirtualDiskFlatVer2BackingInfo)
					b.FileName, b.ChangeId = newFile, ""
					nd.Backing = &b
					change = []types.BaseVirtualDeviceConfigSpec{
						&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationRemove, Device: old},
						&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd,
							FileOperation: types.VirtualDeviceConfigSpecFileOperationCreate, Device: &nd},
					}
				case "backing":
					dc := e.reg.Any("Datacenter").(*simulator.Datacenter)
					ctask, err := object.NewVirtualDiskManager(e.c).CreateVirtualDisk(e.ctx, newFile, object.NewDatacenter(e.c, dc.Reference()),
						&types.FileBackedVirtualDiskSpec{VirtualDiskSpec: types.VirtualDiskSpec{DiskType: "thin", AdapterType: "lsiLogic"}, CapacityKb: 4 << 10})
					require.NoError(t, err)
					require.NoError(t, ctask.Wait(e.ctx))
					old.Backing.(*types.VirtualDiskFlatVer2BackingInfo).FileName = newFile
					change = []types.BaseVirtualDeviceConfigSpec{
						&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationEdit, Device: old},
					}
				}
				task, err := e.vmObj(vm).Reconfigure(e.ctx, types.VirtualMachineConfigSpec{DeviceChange: change})
				require.NoError(t, err)
				require.NoError(t, task.Wait(e.ctx))
				after, err := e.vmObj(vm).Device(e.ctx)
				require.NoError(t, err)
				disks := after.SelectByType((*types.VirtualDisk)(nil))
				require.Len(t, disks, 1)
				require.Equal(t, key, disks[0].GetVirtualDevice().Key, "the new disk has the old one's key")
				require.Equal(t, newFile, disks[0].GetVirtualDevice().Backing.(types.BaseVirtualDeviceFileBackingInfo).GetVirtualDeviceFileBackingInfo().FileName)

				e.write(vm, key, 2<<20, 4096) // W3: the new disk
				s2 := e.snapshot(vm)
				d := e.open(s2, key, nil)
				calls := e.tr.Calls()
				_, err = cbt.Collect(d.Changes(e.ctx, base, nil))
				assert.ErrorIs(t, err, cbt.ErrChangeIDInvalid, "a base of the disk replaced")
				assert.Equal(t, calls, e.tr.Calls(), "refused before any query (another change-epoch UUID)")
				t.Log(err)
				next, err := vsphere.ParseChangeID(changeID(t, s2, key).Value())
				require.NoError(t, err)
				prev, err := vsphere.ParseChangeID(base.Value())
				require.NoError(t, err)
				assert.NotEqual(t, fmt.Sprintf("% x", prev.UUID()), fmt.Sprintf("% x", next.UUID()))
			})
		})
	}
}
