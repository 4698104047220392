package vsphere

import (
	"context"
	"time"

	"github.com/changedblocks/sdk/cbt"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// SnapshotOptions tunes CreateSnapshot. A nil *SnapshotOptions means the
// defaults: no description, no memory, no quiescing.
type SnapshotOptions struct {
	Description string
	// Quiesce asks VMware Tools to quiesce the guest's file systems first
	// (the VM must be powered on and run the Tools).
	Quiesce bool
	// Memory includes the VM's memory (a powered-on VM). Backups do not need it.
	Memory bool
}

// Snapshot is a VM snapshot and its copy of the VM's disks.
type Snapshot struct {
	Ref types.ManagedObjectReference
	VM  types.ManagedObjectReference
	// Disks are the snapshot's copy of the disks (its own config.hardware):
	// their capacity at the snapshot, and the change ID each carries (zero
	// when tracking was not in effect), which is what a backup taken from
	// this snapshot stores for the next incremental.
	Disks []DiskInfo
}

// Disk returns the snapshot's disk of the given device key.
func (s *Snapshot) Disk(key int32) (DiskInfo, bool) { return findDisk(s.Disks, key) }

// CreateSnapshot takes a snapshot of a VM, waits for it, and reads its disks
// with their change IDs. A failed task is not retried (a retry could leave
// two snapshots).
//
// Errors: cbt.ErrNotFound (no such VM), cbt.ErrBusy (the VM is in a state
// that does not allow it, a task in progress, or a transient failure),
// cbt.ErrUnsupported (for example quiescing without VMware Tools), and the
// other classes of a failed call (see the package doc), wrapping a
// *FaultError.
func CreateSnapshot(ctx context.Context, c *vim25.Client, vm types.ManagedObjectReference, name string, opts *SnapshotOptions) (*Snapshot, error) {
	var o SnapshotOptions
	if opts != nil {
		o = *opts
	}
	if name == "" {
		return nil, errf(cbt.ErrInvalidArgument, "empty snapshot name")
	}
	task, err := object.NewVirtualMachine(c, vm).CreateSnapshot(ctx, name, o.Description, o.Memory, o.Quiesce)
	if err != nil {
		return nil, wrapCall(ctx, "CreateSnapshot_Task", err)
	}
	info, err := task.WaitForResult(ctx)
	if ctx.Err() != nil {
		// Interrupted after the task was submitted: the server may still
		// create the snapshot. Wait for the task (bounded, on a context of
		// our own) and remove what it made, so that nothing is left behind.
		removeSnapshotOf(ctx, c, task)
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, wrapCall(ctx, "CreateSnapshot_Task", err)
	}
	if info == nil {
		return nil, errf(cbt.ErrCorrupt, "CreateSnapshot_Task of VM %s ended without a task result", vm.Value)
	}
	ref, ok := info.Result.(types.ManagedObjectReference)
	if !ok {
		return nil, errf(cbt.ErrCorrupt, "CreateSnapshot_Task of VM %s returned %T, not a snapshot reference", vm.Value, info.Result)
	}
	return ReadSnapshot(ctx, c, ref)
}

// ReadSnapshot reads a snapshot's VM and its copy of the disks, with their
// change IDs.
//
// Errors: cbt.ErrNotFound (no such snapshot), and the other classes of a
// failed call (see the package doc), wrapping a *FaultError.
func ReadSnapshot(ctx context.Context, c *vim25.Client, snapshot types.ManagedObjectReference) (*Snapshot, error) {
	s, err := readSnapshot(ctx, c, snapshot)
	if err != nil {
		return nil, wrapCall(ctx, "RetrieveProperties", err)
	}
	return s, nil
}

// readSnapshot is ReadSnapshot with govmomi's error as it is.
func readSnapshot(ctx context.Context, c *vim25.Client, snapshot types.ManagedObjectReference) (*Snapshot, error) {
	var m mo.VirtualMachineSnapshot
	if err := property.DefaultCollector(c).RetrieveOne(ctx, snapshot, []string{"config.hardware", "vm"}, &m); err != nil {
		return nil, err
	}
	return &Snapshot{Ref: snapshot, VM: m.Vm, Disks: disksOf(m.Config.Hardware.Device)}, nil
}

// RemoveSnapshot removes a snapshot (not its children) and waits for it;
// consolidation is left to the server's default. The change IDs the
// snapshot handed out stay valid as bases: that is how incremental backups
// work on vSphere (store the change ID, remove the snapshot, ask later).
//
// Errors: cbt.ErrNotFound (no such snapshot), cbt.ErrBusy, and the other
// classes of a failed call (see the package doc), wrapping a *FaultError.
func RemoveSnapshot(ctx context.Context, c *vim25.Client, snapshot types.ManagedObjectReference) error {
	res, err := methods.RemoveSnapshot_Task(ctx, c, &types.RemoveSnapshot_Task{This: snapshot, RemoveChildren: false})
	if err != nil {
		return wrapCall(ctx, "RemoveSnapshot_Task", err)
	}
	if err := object.NewTask(c, res.Returnval).Wait(ctx); err != nil {
		return wrapCall(ctx, "RemoveSnapshot_Task", err)
	}
	return nil
}

// cleanupTimeout bounds the cleanup of a snapshot task that was interrupted.
const cleanupTimeout = 2 * time.Minute

// removeSnapshotOf waits for an interrupted snapshot task to end and removes
// the snapshot it created, if any; failures are ignored (best effort, the
// caller's context is already cancelled).
func removeSnapshotOf(ctx context.Context, c *vim25.Client, task *object.Task) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	info, err := task.WaitForResult(cctx)
	if err != nil || info == nil {
		return
	}
	if ref, ok := info.Result.(types.ManagedObjectReference); ok {
		_ = RemoveSnapshot(cctx, c, ref)
	}
}
