package vsphere

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/changedblocks/sdk/cbt"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"
)

// EnableOptions tunes EnableCBT. A nil *EnableOptions means the defaults.
type EnableOptions struct {
	// StunWithSnapshot: when the VM is powered on and tracking was off,
	// create and remove a temporary snapshot (no memory, no quiescing) right
	// after enabling, the stun/unstun cycle that makes tracking take effect
	// now. Without it, tracking starts at the VM's next stun/unstun cycle
	// (power on, snapshot create, remove or revert, migration, resume): a
	// backup's first snapshot is such a cycle, so its change IDs are valid,
	// but nothing before it is tracked.
	StunWithSnapshot bool

	// AllowUntrackedDisks enables tracking even when some of the VM's disks
	// cannot be tracked (physical RDMs, independent disks); they are listed
	// in EnableResult.Untracked. Without it, such a disk is an error.
	AllowUntrackedDisks bool
}

// EnableResult reports what EnableCBT did and found.
type EnableResult struct {
	// WasEnabled: config.changeTrackingEnabled was already true; nothing
	// was reconfigured, nor stunned. Whether the setting is in effect then
	// cannot be told from the config (StunPending is false): the disks of
	// the next snapshot carrying change IDs show it is.
	WasEnabled bool
	// Enabled is config.changeTrackingEnabled as re-read after the change.
	Enabled bool
	// StunPending: the VM is powered on, tracking was just enabled, and no
	// stun/unstun cycle has happened yet: tracking takes effect at the next
	// one (see EnableOptions.StunWithSnapshot).
	StunPending bool
	// Stunned: a temporary snapshot was created and removed.
	Stunned bool
	// Untracked lists the device keys of disks tracking does not cover.
	Untracked []int32
	// VM is the VM as re-read at the end.
	VM *VMInfo
}

// EnableCBT turns change tracking on for a VM: it checks that the VM supports
// it (capability.changeTrackingSupported, hardware version 7 or later),
// reconfigures it with changeTrackingEnabled=true, waits for the task and
// re-reads the config. See EnableOptions for the stun/unstun cycle a
// powered-on VM needs, and EnableResult for what is reported. A VM that has
// tracking on already is left as it is.
//
// Errors: cbt.ErrUnsupported (the VM cannot track changes: hardware version
// below 7, capability off, or, without AllowUntrackedDisks, a physical RDM or
// independent disk; or the setting did not hold), cbt.ErrNotFound (no such
// VM), cbt.ErrBusy (a task in progress, a transient failure), and the other
// classes of a failed call (see the package doc), wrapping a *FaultError.
// When removing the temporary snapshot fails, the error names it.
func EnableCBT(ctx context.Context, c *vim25.Client, vm types.ManagedObjectReference, opts *EnableOptions) (*EnableResult, error) {
	var o EnableOptions
	if opts != nil {
		o = *opts
	}
	v, err := ListDisks(ctx, c, vm)
	if err != nil {
		return nil, err
	}
	if v.HardwareVersion > 0 && v.HardwareVersion < 7 {
		return nil, errf(cbt.ErrUnsupported, "VM %s has virtual hardware version %d; change tracking needs 7 or later", vm.Value, v.HardwareVersion)
	}
	if !v.CBTSupported {
		return nil, errf(cbt.ErrUnsupported, "VM %s does not support change tracking (capability.changeTrackingSupported is false)", vm.Value)
	}
	r := &EnableResult{WasEnabled: v.CBTEnabled}
	var why []string
	for _, d := range v.Disks {
		if u := untrackable(d); u != "" {
			r.Untracked = append(r.Untracked, d.Key)
			why = append(why, fmt.Sprintf("disk %d (%s) is %s", d.Key, d.Label, u))
		}
	}
	if len(why) > 0 && !o.AllowUntrackedDisks {
		return nil, errf(cbt.ErrUnsupported, "VM %s: change tracking cannot cover every disk: %s (EnableOptions.AllowUntrackedDisks enables it for the others)",
			vm.Value, strings.Join(why, "; "))
	}
	if v.CBTEnabled {
		r.Enabled, r.VM = true, v
		return r, nil
	}

	on := true
	task, err := object.NewVirtualMachine(c, vm).Reconfigure(ctx, types.VirtualMachineConfigSpec{ChangeTrackingEnabled: &on})
	if err != nil {
		return nil, wrapCall(ctx, "ReconfigVM_Task", err)
	}
	if err := task.Wait(ctx); err != nil {
		return nil, wrapCall(ctx, "ReconfigVM_Task", err)
	}
	r.StunPending = v.PowerState == types.VirtualMachinePowerStatePoweredOn
	if r.StunPending && o.StunWithSnapshot {
		name := fmt.Sprintf("cbt-enable-%d", time.Now().UnixNano())
		s, err := CreateSnapshot(ctx, c, vm, name, &SnapshotOptions{Description: "temporary: makes change tracking take effect"})
		if err != nil {
			return nil, fmt.Errorf("%w (tracking is enabled but takes effect only at the next stun/unstun cycle)", err)
		}
		if err := RemoveSnapshot(ctx, c, s.Ref); err != nil {
			return nil, fmt.Errorf("%w (removing the temporary snapshot %q, %s, of VM %s: remove it by hand)", err, name, s.Ref.Value, vm.Value)
		}
		r.StunPending, r.Stunned = false, true
	}
	if r.VM, err = ListDisks(ctx, c, vm); err != nil {
		return nil, err
	}
	r.Enabled = r.VM.CBTEnabled
	if !r.Enabled {
		return nil, errf(cbt.ErrUnsupported, "VM %s: the reconfiguration succeeded but config.changeTrackingEnabled is still false", vm.Value)
	}
	return r, nil
}
