package vcsimcbt

import (
	"fmt"

	"github.com/changedblocks/sdk/extent"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// vmInfo is what the model reads from a simulator VM.
type vmInfo struct {
	enabled      bool
	poweredOn    bool
	hasSnapshots bool
	disks        []diskInfo
}

type diskInfo struct {
	key       int32
	file      string
	capacity  int64
	trackable bool
}

// event says why the model looks at a VM.
type event int

const (
	evLook     event = iota // a query, a write, a reset: no cycle
	evReconfig              // a ReconfigVM task completed
	evStun                  // a stun/unstun cycle: power operation, snapshot create/remove/revert
)

// readVM copies what the model needs from vm. The caller holds vm's lock (or
// runs in the task that does).
func readVM(vm *simulator.VirtualMachine) vmInfo {
	var info vmInfo
	if vm.Config == nil {
		return info
	}
	info.enabled = vm.Config.ChangeTrackingEnabled != nil && *vm.Config.ChangeTrackingEnabled
	info.poweredOn = vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn
	info.hasSnapshots = vm.Snapshot != nil && len(vm.Snapshot.RootSnapshotList) > 0
	info.disks = readDisks(vm.Config.Hardware.Device)
	return info
}

func readDisks(devices []types.BaseVirtualDevice) []diskInfo {
	var out []diskInfo
	for _, dev := range devices {
		disk, ok := dev.(*types.VirtualDisk)
		if !ok {
			continue
		}
		file, trackable := backingInfo(disk.Backing)
		out = append(out, diskInfo{key: disk.Key, file: file, capacity: diskCapacity(disk), trackable: trackable})
	}
	return out
}

func diskCapacity(disk *types.VirtualDisk) int64 {
	if disk.CapacityInBytes > 0 {
		return disk.CapacityInBytes
	}
	return disk.CapacityInKB * 1024
}

// backingInfo returns the disk file and whether CBT can track the backing:
// not a physical-mode RDM, not an independent disk (KB 320557), and one of
// the backings that carry a changeId.
func backingInfo(b types.BaseVirtualDeviceBackingInfo) (string, bool) {
	independent := func(mode string) bool {
		return mode == string(types.VirtualDiskModeIndependent_persistent) ||
			mode == string(types.VirtualDiskModeIndependent_nonpersistent)
	}
	switch b := b.(type) {
	case *types.VirtualDiskFlatVer2BackingInfo:
		return b.FileName, !independent(b.DiskMode)
	case *types.VirtualDiskSparseVer2BackingInfo:
		return b.FileName, !independent(b.DiskMode)
	case *types.VirtualDiskSeSparseBackingInfo:
		return b.FileName, !independent(b.DiskMode)
	case *types.VirtualDiskRawDiskMappingVer1BackingInfo:
		return b.FileName, !independent(b.DiskMode) &&
			b.CompatibilityMode != string(types.VirtualDiskCompatibilityModePhysicalMode)
	case *types.VirtualDiskRawDiskVer2BackingInfo:
		return b.DescriptorFileName, true
	}
	if f, ok := b.(types.BaseVirtualDeviceFileBackingInfo); ok {
		return f.GetVirtualDeviceFileBackingInfo().FileName, false
	}
	return "", false
}

// setChangeID writes id into a backing that has a ChangeId field.
func setChangeID(b types.BaseVirtualDeviceBackingInfo, id string) {
	switch b := b.(type) {
	case *types.VirtualDiskFlatVer2BackingInfo:
		b.ChangeId = id
	case *types.VirtualDiskSparseVer2BackingInfo:
		b.ChangeId = id
	case *types.VirtualDiskSeSparseBackingInfo:
		b.ChangeId = id
	case *types.VirtualDiskRawDiskMappingVer1BackingInfo:
		b.ChangeId = id
	case *types.VirtualDiskRawDiskVer2BackingInfo:
		b.ChangeId = id
	}
}

// stamp writes the change IDs by device key into the disks of devices.
func stamp(devices []types.BaseVirtualDevice, ids map[int32]string) {
	for _, dev := range devices {
		if disk, ok := dev.(*types.VirtualDisk); ok {
			if id, ok := ids[disk.Key]; ok {
				setChangeID(disk.Backing, id)
			}
		}
	}
}

// apply brings the model of a VM up to date with info and returns the change
// IDs its current backings must carry. The caller holds t.mu.
func (t *Tracker) apply(ref types.ManagedObjectReference, info vmInfo, ev event) (*vmState, map[int32]string) {
	v := t.vms[ref]
	learned := v == nil
	if learned {
		v = &vmState{ref: ref, disks: map[int32]*diskState{}}
		t.vms[ref] = v
	}
	v.poweredOn = info.poweredOn
	v.hasSnapshots = info.hasSnapshots

	seen := map[int32]bool{}
	for _, di := range info.disks {
		seen[di.key] = true
		d := v.disks[di.key]
		if d != nil && d.file != "" && di.file != d.file {
			// Another VMDK under the same key (the disk removed and a new
			// one added with its key, or its backing pointed elsewhere):
			// another disk, with its own tracking file and so its own
			// change-epoch UUID. Snapshots keep the old disk's state.
			d = nil
		}
		if d == nil {
			d = newDisk(di.key)
			v.disks[di.key] = d
		}
		if d.gen != nil && d.capacity > 0 && di.capacity > d.capacity {
			// Resize: the grown area is reported as changed (a false
			// positive, never an omission).
			d.write(extent.FromRange(d.capacity, di.capacity), t.opts.BlockSize, false)
		}
		d.file, d.capacity, d.trackable = di.file, di.capacity, di.trackable
		if !d.trackable {
			d.gen = nil
		}
	}
	for key := range v.disks {
		if !seen[key] {
			delete(v.disks, key)
		}
	}

	switch {
	case !info.enabled:
		v.enabled, v.pending = false, false
		for _, d := range v.disks {
			d.gen = nil
		}
	case !v.enabled || learned:
		// Tracking switched on. A VM learned already enabled is taken as
		// tracked since its creation.
		v.enabled = true
		v.pending = ev != evStun && v.poweredOn && !learned && !t.opts.EnableImmediately
	case v.pending && (ev == evStun || !v.poweredOn):
		v.pending = false
	}
	if v.enabled && !v.pending {
		// Starts tracking on the disks that have none: all of them when
		// tracking just took effect, else disks added (or made trackable)
		// since.
		t.activate(v)
	}

	ids := map[int32]string{}
	for key, d := range v.disks {
		ids[key] = d.liveChangeID()
	}
	return v, ids
}

// activate starts a tracking generation on every trackable disk of v that has
// none.
func (t *Tracker) activate(v *vmState) {
	for _, d := range v.disks {
		if d.trackable && d.gen == nil {
			d.startGeneration(v.hasSnapshots)
		}
	}
}

// lockCtx returns a simulator context to lock objects with from outside the
// simulator's own goroutines.
func (t *Tracker) lockCtx() *simulator.Context {
	return &simulator.Context{Map: t.reg}
}

// withVM locks the simulator VM, brings the model up to date, runs f under
// t.mu, and restamps the VM's current backings. It returns ErrUnknownDisk if
// the VM does not exist.
func (t *Tracker) withVM(ref types.ManagedObjectReference, f func(*vmState) error) error {
	vm, ok := t.reg.Get(ref).(*simulator.VirtualMachine)
	if !ok {
		return fmt.Errorf("%w: no virtual machine %s", ErrUnknownDisk, ref)
	}
	var err error
	t.reg.WithLock(t.lockCtx(), vm, func() {
		info := readVM(vm)
		t.mu.Lock()
		v, _ := t.apply(ref, info, evLook)
		err = f(v)
		ids := map[int32]string{}
		for key, d := range v.disks {
			ids[key] = d.liveChangeID()
		}
		t.mu.Unlock()
		stamp(vm.Config.Hardware.Device, ids)
	})
	return err
}
