package vcsimcbt

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/changedblocks/sdk/extent"
)

// diskKey is the device key of the default simulator VM's disk.
const diskKey int32 = 204

// env is one in-process vcsim with a Tracker installed on its client.
type env struct {
	t   *testing.T
	ctx context.Context
	c   *vim25.Client
	tr  *Tracker
	vm  *object.VirtualMachine
}

// withEnv runs f against a fresh VPX model with a Tracker of opts installed
// on the client, and the first VM of the model picked.
func withEnv(t *testing.T, opts *Options, f func(e *env)) {
	t.Helper()
	simulator.Test(func(ctx context.Context, c *vim25.Client) {
		tr, err := New(simulator.Map(ctx), opts)
		require.NoError(t, err)
		defer tr.Close()
		tr.Install(c)
		ref := simulator.Map(ctx).Any("VirtualMachine").Reference()
		f(&env{t: t, ctx: ctx, c: c, tr: tr, vm: object.NewVirtualMachine(c, ref)})
	})
}

func (e *env) ref() types.ManagedObjectReference { return e.vm.Reference() }

func (e *env) wait(task *object.Task, err error) types.AnyType {
	e.t.Helper()
	require.NoError(e.t, err)
	res, err := task.WaitForResult(e.ctx)
	require.NoError(e.t, err)
	return res.Result
}

// setCBT reconfigures changeTrackingEnabled.
func (e *env) setCBT(on bool) {
	e.t.Helper()
	e.wait(e.vm.Reconfigure(e.ctx, types.VirtualMachineConfigSpec{ChangeTrackingEnabled: types.NewBool(on)}))
}

func (e *env) powerOff() {
	e.t.Helper()
	e.wait(e.vm.PowerOff(e.ctx))
}

func (e *env) snapshot(name string) types.ManagedObjectReference {
	e.t.Helper()
	return e.wait(e.vm.CreateSnapshot(e.ctx, name, "", false, false)).(types.ManagedObjectReference)
}

// disk returns the disk with key diskKey as the VM (or the snapshot, if not
// nil) shows it through the property collector.
func (e *env) disk(snapshot *types.ManagedObjectReference) *types.VirtualDisk {
	e.t.Helper()
	var devices []types.BaseVirtualDevice
	if snapshot != nil {
		var s mo.VirtualMachineSnapshot
		require.NoError(e.t, e.vm.Properties(e.ctx, *snapshot, []string{"config.hardware"}, &s))
		devices = s.Config.Hardware.Device
	} else {
		var v mo.VirtualMachine
		require.NoError(e.t, e.vm.Properties(e.ctx, e.ref(), []string{"config.hardware"}, &v))
		devices = v.Config.Hardware.Device
	}
	for _, d := range devices {
		if disk, ok := d.(*types.VirtualDisk); ok && disk.Key == diskKey {
			return disk
		}
	}
	e.t.Fatalf("no disk %d", diskKey)
	return nil
}

// changeID returns the changeId of a disk's backing.
func changeIDOf(d *types.VirtualDisk) string {
	return d.Backing.(*types.VirtualDiskFlatVer2BackingInfo).ChangeId
}

// query makes one raw QueryChangedDiskAreas call.
func (e *env) query(snapshot *types.ManagedObjectReference, key int32, off int64, changeID string) (types.DiskChangeInfo, error) {
	res, err := methods.QueryChangedDiskAreas(e.ctx, e.c, &types.QueryChangedDiskAreas{
		This: e.ref(), Snapshot: snapshot, DeviceKey: key, StartOffset: off, ChangeId: changeID,
	})
	if err != nil {
		return types.DiskChangeInfo{}, err
	}
	return res.Returnval, nil
}

// pageAll is the correct paging loop (notes §3.4): it returns every extent
// and every answer.
func (e *env) pageAll(snapshot *types.ManagedObjectReference, changeID string, capacity int64) ([]extent.Extent, []types.DiskChangeInfo) {
	e.t.Helper()
	var all []extent.Extent
	var pages []types.DiskChangeInfo
	for off := int64(0); off < capacity; {
		info, err := e.query(snapshot, diskKey, off, changeID)
		require.NoError(e.t, err)
		require.Equal(e.t, off, info.StartOffset)
		require.Positive(e.t, info.Length)
		for _, a := range info.ChangedArea {
			all = append(all, extent.Extent{Offset: a.Start, Length: a.Length})
		}
		pages = append(pages, info)
		off = info.StartOffset + info.Length
	}
	return all, pages
}

// vimFault returns the typed fault of a SOAP fault error.
func vimFault(t *testing.T, err error) types.AnyType {
	t.Helper()
	require.Error(t, err)
	require.True(t, soap.IsSoapFault(err), "not a SOAP fault: %v", err)
	return soap.ToSoapFault(err).VimFault()
}

// requireFileFault asserts err is a FileFault with the given key.
func requireFileFault(t *testing.T, err error, key string) {
	t.Helper()
	f, ok := vimFault(t, err).(types.FileFault)
	require.True(t, ok, "want FileFault, got %T (%v)", vimFault(t, err), err)
	require.NotEmpty(t, f.FaultMessage)
	require.Equal(t, key, f.FaultMessage[0].Key)
	require.True(t, fault.Is(err, &types.FileFault{}))
}

// requireInvalidArgument asserts err is an InvalidArgument naming property.
func requireInvalidArgument(t *testing.T, err error, property string) {
	t.Helper()
	f, ok := vimFault(t, err).(types.InvalidArgument)
	require.True(t, ok, "want InvalidArgument, got %T (%v)", vimFault(t, err), err)
	require.Equal(t, property, f.InvalidProperty)
	require.True(t, fault.Is(err, &types.InvalidArgument{}))
}

// writeAll records each extent as a guest write.
func (e *env) writeAll(es ...extent.Extent) {
	e.t.Helper()
	for _, x := range es {
		require.NoError(e.t, e.tr.Write(e.ref(), diskKey, x.Offset, x.Length))
	}
}

// capacity returns the capacity of the VM's disk, or of the snapshot's copy.
func (e *env) capacity(snapshot *types.ManagedObjectReference) int64 {
	return e.disk(snapshot).CapacityInBytes
}

const (
	kib int64 = 1 << 10
	mib int64 = 1 << 20
	gib int64 = 1 << 30
)

// removeSnapshot removes one snapshot (not its children).
func (e *env) removeSnapshot(s types.ManagedObjectReference) {
	e.t.Helper()
	res, err := methods.RemoveSnapshot_Task(e.ctx, e.c, &types.RemoveSnapshot_Task{This: s})
	require.NoError(e.t, err)
	require.NoError(e.t, object.NewTask(e.c, res.Returnval).Wait(e.ctx))
}
