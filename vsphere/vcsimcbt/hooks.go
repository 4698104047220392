package vcsimcbt

import (
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// hooks is the Tracker seen as a simulator.RegisterObject. The registry calls
// PutObject when an object is added: new tasks (whose Execute it wraps, to
// look at the VM when a reconfigure or a stun/unstun cycle completes) and new
// snapshots (which it stamps). Both run in the simulator's task goroutine,
// which holds the VM's lock.
type hooks Tracker

func (h *hooks) Reference() types.ManagedObjectReference { return h.self }

// PutObject implements simulator.RegisterObject.
func (h *hooks) PutObject(_ *simulator.Context, item mo.Reference) {
	t := (*Tracker)(h)
	switch o := item.(type) {
	case *simulator.Task:
		t.wrapTask(o)
	case *simulator.VirtualMachineSnapshot:
		t.snapshotCreated(o)
	}
}

// UpdateObject implements simulator.RegisterObject; the model needs no
// property changes.
func (h *hooks) UpdateObject(*simulator.Context, mo.Reference, []types.PropertyChange) {}

// RemoveObject implements simulator.RegisterObject: it forgets removed
// snapshots and VMs.
func (h *hooks) RemoveObject(_ *simulator.Context, ref types.ManagedObjectReference) {
	t := (*Tracker)(h)
	t.mu.Lock()
	defer t.mu.Unlock()
	switch ref.Type {
	case "VirtualMachineSnapshot":
		delete(t.snaps, ref)
	case "VirtualMachine":
		delete(t.vms, ref)
		for k, s := range t.snaps {
			if s.vm == ref {
				delete(t.snaps, k)
			}
		}
	}
}

// taskEvents maps the VM tasks the model follows to what they mean for it.
// Snapshot creation is handled where the snapshot is put instead.
var taskEvents = map[string]event{
	"reconfigVm":         evReconfig,
	"powerOn":            evStun,
	"powerOff":           evStun,
	"suspend":            evStun,
	"reset":              evStun,
	"removeSnapshot":     evStun,
	"RemoveAllSnapshots": evStun,
	"revertSnapshot":     evStun,
	"revertToSnapshot":   evStun,
}

// wrapTask makes a VM task look at its VM once it has run. PutObject runs
// before the task's goroutine starts, so replacing Execute is race-free.
func (t *Tracker) wrapTask(task *simulator.Task) {
	ref := task.Info.Entity
	if ref == nil || ref.Type != "VirtualMachine" {
		return
	}
	name, ok := strings.CutPrefix(task.Info.DescriptionId, "VirtualMachine.")
	if !ok {
		return
	}
	ev, ok := taskEvents[name]
	if !ok || task.Execute == nil {
		return
	}
	vmRef, run := *ref, task.Execute
	task.Execute = func(tk *simulator.Task) (types.AnyType, types.BaseMethodFault) {
		// Look before too, so that the event is judged against the state
		// the VM had (a VM first seen here is learned as it was).
		if vm, ok := t.reg.Get(vmRef).(*simulator.VirtualMachine); ok {
			t.look(vmRef, vm, evLook)
		}
		res, fault := run(tk)
		if vm, ok := t.reg.Get(vmRef).(*simulator.VirtualMachine); ok {
			t.look(vmRef, vm, ev)
		}
		return res, fault
	}
}

// look updates the model of vm and restamps its current backings. The caller
// holds vm's lock.
func (t *Tracker) look(ref types.ManagedObjectReference, vm *simulator.VirtualMachine, ev event) {
	info := readVM(vm)
	t.mu.Lock()
	_, ids := t.apply(ref, info, ev)
	t.mu.Unlock()
	if vm.Config != nil {
		stamp(vm.Config.Hardware.Device, ids)
	}
}

// snapshotCreated activates pending tracking (a snapshot is a stun/unstun
// cycle), hands out a point per tracked disk, stamps it into the snapshot's
// disk backings and the VM's current ones, and records the snapshot.
func (t *Tracker) snapshotCreated(s *simulator.VirtualMachineSnapshot) {
	vm, ok := t.reg.Get(s.Vm).(*simulator.VirtualMachine)
	if !ok || s.Config.Hardware.Device == nil {
		return
	}
	info := readVM(vm)
	snapIDs := map[int32]string{}
	t.mu.Lock()
	v, _ := t.apply(s.Vm, info, evStun)
	st := &snapState{vm: s.Vm, disks: map[int32]*pointDisk{}}
	for _, di := range readDisks(s.Config.Hardware.Device) {
		d := v.disks[di.key]
		if d == nil {
			continue
		}
		p := &pointDisk{disk: d, file: di.file, capacity: di.capacity, trackable: di.trackable, gen: d.gen}
		if d.gen != nil {
			p.point = d.point()
			snapIDs[di.key] = formatChangeID(d.gen.uuid, p.point)
		}
		st.disks[di.key] = p
	}
	t.snaps[s.Self] = st
	liveIDs := map[int32]string{}
	for key, d := range v.disks {
		liveIDs[key] = d.liveChangeID()
	}
	t.mu.Unlock()
	stamp(s.Config.Hardware.Device, snapIDs)
	stamp(vm.Config.Hardware.Device, liveIDs)
}
