package vcsimcbt_test

import (
	"context"
	"fmt"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/changedblocks/sdk/vsphere/vcsimcbt"
)

// An incremental backup against vcsim: enable CBT, snapshot, store the disk's
// changeId, let the guest write, snapshot again, and page through
// QueryChangedDiskAreas from the stored changeId.
func Example() {
	simulator.Run(func(ctx context.Context, c *vim25.Client) error {
		tr, err := vcsimcbt.New(simulator.Map(ctx), nil)
		if err != nil {
			return err
		}
		defer tr.Close()
		tr.Install(c)

		vm := object.NewVirtualMachine(c, simulator.Map(ctx).Any("VirtualMachine").Reference())
		const key = 204 // the simulator VM's disk

		wait := func(task *object.Task, err error) (types.AnyType, error) {
			if err != nil {
				return nil, err
			}
			info, err := task.WaitForResult(ctx)
			if err != nil {
				return nil, err
			}
			return info.Result, nil
		}
		if _, err := wait(vm.Reconfigure(ctx, types.VirtualMachineConfigSpec{ChangeTrackingEnabled: types.NewBool(true)})); err != nil {
			return err
		}
		// On a powered-on VM, the snapshot is the stun/unstun cycle that
		// starts tracking; its disk carries the first change ID.
		res, err := wait(vm.CreateSnapshot(ctx, "full", "", false, false))
		if err != nil {
			return err
		}
		full := res.(types.ManagedObjectReference)
		var snap mo.VirtualMachineSnapshot
		if err := vm.Properties(ctx, full, []string{"config.hardware"}, &snap); err != nil {
			return err
		}
		var stored string
		var capacity int64
		for _, d := range object.VirtualDeviceList(snap.Config.Hardware.Device).SelectByType((*types.VirtualDisk)(nil)) {
			if disk := d.(*types.VirtualDisk); disk.Key == key {
				stored = disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo).ChangeId
				capacity = disk.CapacityInBytes
			}
		}

		// The guest writes 4 KiB at 3 GiB and 1 byte at 9 GiB.
		if err := tr.Write(vm.Reference(), key, 3<<30, 4096); err != nil {
			return err
		}
		if err := tr.Write(vm.Reference(), key, 9<<30, 1); err != nil {
			return err
		}
		res, err = wait(vm.CreateSnapshot(ctx, "incremental", "", false, false))
		if err != nil {
			return err
		}
		incr := res.(types.ManagedObjectReference)

		tr.ResetCalls()
		for off := int64(0); off < capacity; {
			r, err := methods.QueryChangedDiskAreas(ctx, c, &types.QueryChangedDiskAreas{
				This: vm.Reference(), Snapshot: &incr, DeviceKey: key, StartOffset: off, ChangeId: stored,
			})
			if err != nil {
				return err
			}
			for _, a := range r.Returnval.ChangedArea {
				fmt.Printf("changed [%d, +%d)\n", a.Start, a.Length)
			}
			off = r.Returnval.StartOffset + r.Returnval.Length
		}
		fmt.Println("calls:", tr.Calls())
		return nil
	})
	// Output:
	// changed [3221225472, +65536)
	// changed [9663676416, +65536)
	// calls: 5
}
