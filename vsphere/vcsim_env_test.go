package vsphere_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/vsphere"
	"github.com/changedblocks/sdk/vsphere/vcsimcbt"
	"github.com/stretchr/testify/require"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// env is one in-process vcsim (VPX model) with a vcsimcbt Tracker answering
// QueryChangedDiskAreas on its client.
type env struct {
	t   testing.TB
	ctx context.Context
	c   *vim25.Client
	reg *simulator.Registry
	tr  *vcsimcbt.Tracker
}

// withVcsim runs f against a fresh simulator with a Tracker of opts.
func withVcsim(t *testing.T, opts *vcsimcbt.Options, f func(e *env)) {
	t.Helper()
	simulator.Test(func(ctx context.Context, c *vim25.Client) {
		reg := simulator.Map(ctx)
		tr, err := vcsimcbt.New(reg, opts)
		require.NoError(t, err)
		defer tr.Close()
		tr.Install(c)
		f(&env{t: t, ctx: ctx, c: c, reg: reg, tr: tr})
	})
}

var vmSeq atomic.Int64

// vmSpec describes a VM newVM creates.
type vmSpec struct {
	capacity int64  // of the first disk
	version  string // "vmx-13" when empty
	mode     string // disk mode of the first disk; persistent when empty
	extra    []int64
}

// newVM creates a powered-off VM with one disk per capacity on a pvscsi
// controller, and returns it and its disks' device keys.
func (e *env) newVM(s vmSpec) (types.ManagedObjectReference, []int32) {
	e.t.Helper()
	name := fmt.Sprintf("cbt-%d", vmSeq.Add(1))
	dc := e.reg.Any("Datacenter").(*simulator.Datacenter)
	ds := e.reg.Any("Datastore").(*simulator.Datastore)
	pool := e.reg.Any("ResourcePool").Reference()
	dsName := ds.Name

	var devices object.VirtualDeviceList
	scsi, err := devices.CreateSCSIController("pvscsi")
	require.NoError(e.t, err)
	devices = append(devices, scsi)
	ctrl := devices.PickController(scsi.(types.BaseVirtualController))
	for i, capacity := range append([]int64{s.capacity}, s.extra...) {
		d := devices.CreateDisk(ctrl, ds.Reference(), fmt.Sprintf("[%s] %s/disk%d.vmdk", dsName, name, i))
		d.CapacityInBytes = capacity
		d.CapacityInKB = capacity / 1024
		if i == 0 && s.mode != "" {
			d.Backing.(*types.VirtualDiskFlatVer2BackingInfo).DiskMode = s.mode
		}
		devices = append(devices, d)
	}
	change, err := devices.ConfigSpec(types.VirtualDeviceConfigSpecOperationAdd)
	require.NoError(e.t, err)
	version := s.version
	if version == "" {
		version = "vmx-13"
	}
	spec := types.VirtualMachineConfigSpec{
		Name:         name,
		GuestId:      string(types.VirtualMachineGuestOsIdentifierOtherGuest64),
		Version:      version,
		Files:        &types.VirtualMachineFileInfo{VmPathName: fmt.Sprintf("[%s]", dsName)},
		DeviceChange: change,
	}
	folder := object.NewFolder(e.c, dc.VmFolder)
	task, err := folder.CreateVM(e.ctx, spec, object.NewResourcePool(e.c, pool), nil)
	require.NoError(e.t, err)
	res, err := task.WaitForResult(e.ctx)
	require.NoError(e.t, err)
	ref := res.Result.(types.ManagedObjectReference)

	var m mo.VirtualMachine
	require.NoError(e.t, object.NewVirtualMachine(e.c, ref).Properties(e.ctx, ref, []string{"config.hardware"}, &m))
	var keys []int32
	for _, d := range object.VirtualDeviceList(m.Config.Hardware.Device).SelectByType((*types.VirtualDisk)(nil)) {
		keys = append(keys, d.GetVirtualDevice().Key)
	}
	require.Len(e.t, keys, 1+len(s.extra))
	return ref, keys
}

// destroy removes a VM and its snapshots.
func (e *env) destroy(vm types.ManagedObjectReference) {
	task, err := object.NewVirtualMachine(e.c, vm).Destroy(e.ctx)
	if err == nil {
		err = task.Wait(e.ctx)
	}
	if err != nil {
		e.t.Errorf("destroy %s: %v", vm, err)
	}
}

func (e *env) enable(vm types.ManagedObjectReference) {
	e.t.Helper()
	r, err := vsphere.EnableCBT(e.ctx, e.c, vm, nil)
	require.NoError(e.t, err)
	require.True(e.t, r.Enabled)
}

func (e *env) write(vm types.ManagedObjectReference, key int32, off, n int64) extent.Extent {
	e.t.Helper()
	require.NoError(e.t, e.tr.Write(vm, key, off, n))
	return extent.Extent{Offset: off, Length: n}
}

func (e *env) snapshot(vm types.ManagedObjectReference) *vsphere.Snapshot {
	e.t.Helper()
	s, err := vsphere.CreateSnapshot(e.ctx, e.c, vm, fmt.Sprintf("s%d", vmSeq.Add(1)), nil)
	require.NoError(e.t, err)
	return s
}

func (e *env) open(s *vsphere.Snapshot, key int32, opts *vsphere.Options) *cbt.Disk {
	e.t.Helper()
	d, err := vsphere.OpenDisk(e.ctx, e.c, s.Ref, key, opts)
	require.NoError(e.t, err)
	e.t.Cleanup(func() { d.Close() })
	return d
}

// changeID is the cbt change ID of a snapshot's disk.
func changeID(t testing.TB, s *vsphere.Snapshot, key int32) cbt.ChangeID {
	t.Helper()
	d, ok := s.Disk(key)
	require.True(t, ok)
	require.False(t, d.ChangeID.IsZero(), "snapshot %s disk %d carries no change ID", s.Ref, key)
	return d.ChangeID.CBT()
}

// truth is what vcsimcbt recorded as written to the disk since base (""
// means "*") up to the snapshot.
func (e *env) truth(s *vsphere.Snapshot, key int32, base cbt.ChangeID) []extent.Extent {
	e.t.Helper()
	raw := "*"
	if !base.IsZero() {
		id, err := vsphere.ParseChangeID(base.Value())
		require.NoError(e.t, err)
		raw = id.Raw()
	}
	w, err := e.tr.Written(s.VM, key, raw, &s.Ref)
	require.NoError(e.t, err)
	return w
}

// requireCovers fails unless every byte of want lies in a reported extent.
func requireCovers(t testing.TB, got, want []extent.Extent) {
	t.Helper()
	require.True(t, extent.IsNormalized(got), "reported extents are not normalised: %v", got)
	miss := extent.SubtractSlices(want, got)
	require.Empty(t, miss, "UNDER-REPORT: written bytes outside every reported extent")
}

func (e *env) vmObj(vm types.ManagedObjectReference) *object.VirtualMachine {
	return object.NewVirtualMachine(e.c, vm)
}

// resize grows a disk to capacity bytes.
func (e *env) resize(vm types.ManagedObjectReference, key int32, capacity int64) {
	e.t.Helper()
	devices, err := e.vmObj(vm).Device(e.ctx)
	require.NoError(e.t, err)
	d, ok := devices.FindByKey(key).(*types.VirtualDisk)
	require.True(e.t, ok)
	d.CapacityInBytes = capacity
	d.CapacityInKB = capacity / 1024
	task, err := e.vmObj(vm).Reconfigure(e.ctx, types.VirtualMachineConfigSpec{DeviceChange: []types.BaseVirtualDeviceConfigSpec{
		&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationEdit, Device: d},
	}})
	require.NoError(e.t, err)
	require.NoError(e.t, task.Wait(e.ctx))
}
