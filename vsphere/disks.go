package vsphere

import (
	"context"
	"strconv"
	"strings"

	"github.com/changedblocks/sdk/cbt"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// BackingKind is the kind of file or device behind a virtual disk.
type BackingKind string

// Backing kinds.
const (
	BackingFlat        BackingKind = "flat"         // VirtualDiskFlatVer2BackingInfo (a VMDK on a datastore)
	BackingSparse      BackingKind = "sparse"       // VirtualDiskSparseVer2BackingInfo
	BackingSeSparse    BackingKind = "sesparse"     // VirtualDiskSeSparseBackingInfo
	BackingRDMVirtual  BackingKind = "rdm-virtual"  // raw device mapping, virtual compatibility mode
	BackingRDMPhysical BackingKind = "rdm-physical" // raw device mapping, physical compatibility mode
	BackingRawDisk     BackingKind = "raw-disk"     // a host device (RawDiskVer2, PartitionedRawDiskVer2)
	BackingOther       BackingKind = "other"        // anything else (FlatVer1, SparseVer1, PMem, ...)
)

// DiskInfo describes one virtual disk of a VM or of a snapshot.
type DiskInfo struct {
	Key      int32       // the device key (QueryChangedDiskAreas' deviceKey)
	Label    string      // "Hard disk 1"
	FileName string      // "[datastore] vm/vm.vmdk", empty for device backings
	Capacity int64       // bytes
	Backing  BackingKind // the backing's kind
	// Mode is the disk mode ("persistent", "independent_persistent", ...),
	// empty when the backing has none.
	Mode string
	// Independent is true for the independent disk modes: snapshots do not
	// cover such a disk and change tracking does not apply to it.
	Independent bool
	// Trackable is true when change tracking can cover the disk: not a
	// physical RDM, not independent, and a backing that carries a changeId.
	Trackable bool
	// ChangeID is the backing's changeId, with this disk's capacity as its
	// guard; zero when the backing has none (tracking off, or the disk not
	// trackable). A snapshot's copy of the disk carries the change ID of
	// that snapshot: what a backup taken from it stores.
	ChangeID ChangeID
	// RawChangeID is the backing's changeId as the server wrote it (empty
	// when it has none).
	RawChangeID string
}

// VMInfo describes a VM's disks and its change-tracking state.
type VMInfo struct {
	Ref             types.ManagedObjectReference
	Name            string
	HardwareVersion int // the number of config.version "vmx-NN"; 0 when unknown
	PowerState      types.VirtualMachinePowerState
	// CBTSupported is capability.changeTrackingSupported, and false for a
	// hardware version below 7.
	CBTSupported bool
	// CBTEnabled is config.changeTrackingEnabled: the setting. On a
	// powered-on VM it takes effect at the next stun/unstun cycle (see
	// EnableCBT); a snapshot's disks carrying a change ID shows it did.
	CBTEnabled   bool
	HasSnapshots bool
	Disks        []DiskInfo
}

// Disk returns the disk of the given device key.
func (v *VMInfo) Disk(key int32) (DiskInfo, bool) { return findDisk(v.Disks, key) }

func findDisk(ds []DiskInfo, key int32) (DiskInfo, bool) {
	for _, d := range ds {
		if d.Key == key {
			return d, true
		}
	}
	return DiskInfo{}, false
}

// ListDisks reads a VM's disks and change-tracking state.
//
// Errors: cbt.ErrNotFound (no such VM), cbt.ErrUnsupported (no permission,
// or the VM has no config yet), and the other classes of a failed call (see
// the package doc), wrapping a *FaultError.
func ListDisks(ctx context.Context, c *vim25.Client, vm types.ManagedObjectReference) (*VMInfo, error) {
	var m mo.VirtualMachine
	err := property.DefaultCollector(c).RetrieveOne(ctx, vm, []string{"name", "config", "capability", "runtime.powerState", "snapshot"}, &m)
	if err != nil {
		return nil, wrapCall(ctx, "RetrieveProperties", err)
	}
	if m.Config == nil {
		return nil, errf(cbt.ErrUnsupported, "VM %s has no config", vm.Value)
	}
	v := &VMInfo{
		Ref:             vm,
		Name:            m.Name,
		HardwareVersion: hardwareVersion(m.Config.Version),
		PowerState:      m.Runtime.PowerState,
		CBTEnabled:      m.Config.ChangeTrackingEnabled != nil && *m.Config.ChangeTrackingEnabled,
		HasSnapshots:    m.Snapshot != nil && len(m.Snapshot.RootSnapshotList) > 0,
		Disks:           disksOf(m.Config.Hardware.Device),
	}
	v.CBTSupported = m.Capability.ChangeTrackingSupported && (v.HardwareVersion == 0 || v.HardwareVersion >= 7)
	return v, nil
}

// hardwareVersion parses "vmx-NN"; 0 when it cannot.
func hardwareVersion(s string) int {
	n, err := strconv.Atoi(strings.TrimPrefix(s, "vmx-"))
	if err != nil || !strings.HasPrefix(s, "vmx-") {
		return 0
	}
	return n
}

// disksOf describes the virtual disks among devices.
func disksOf(devices []types.BaseVirtualDevice) []DiskInfo {
	var out []DiskInfo
	for _, dev := range devices {
		vd, ok := dev.(*types.VirtualDisk)
		if !ok {
			continue
		}
		d := DiskInfo{Key: vd.Key, Capacity: vd.CapacityInBytes, Backing: BackingOther}
		if d.Capacity <= 0 {
			d.Capacity = vd.CapacityInKB * 1024
		}
		if di := vd.DeviceInfo; di != nil {
			d.Label = di.GetDescription().Label
		}
		var changeID string
		switch b := vd.Backing.(type) {
		case *types.VirtualDiskFlatVer2BackingInfo:
			d.Backing, d.FileName, d.Mode, changeID = BackingFlat, b.FileName, b.DiskMode, b.ChangeId
		case *types.VirtualDiskSparseVer2BackingInfo:
			d.Backing, d.FileName, d.Mode, changeID = BackingSparse, b.FileName, b.DiskMode, b.ChangeId
		case *types.VirtualDiskSeSparseBackingInfo:
			d.Backing, d.FileName, d.Mode, changeID = BackingSeSparse, b.FileName, b.DiskMode, b.ChangeId
		case *types.VirtualDiskRawDiskMappingVer1BackingInfo:
			d.Backing, d.FileName, d.Mode, changeID = BackingRDMVirtual, b.FileName, b.DiskMode, b.ChangeId
			if b.CompatibilityMode == string(types.VirtualDiskCompatibilityModePhysicalMode) {
				d.Backing = BackingRDMPhysical
			}
		case *types.VirtualDiskRawDiskVer2BackingInfo:
			d.Backing, changeID = BackingRawDisk, b.ChangeId
		case *types.VirtualDiskPartitionedRawDiskVer2BackingInfo:
			d.Backing, changeID = BackingRawDisk, b.ChangeId
		case types.BaseVirtualDeviceFileBackingInfo:
			d.FileName = b.GetVirtualDeviceFileBackingInfo().FileName
		}
		d.RawChangeID = changeID
		d.Independent = strings.HasPrefix(d.Mode, "independent")
		d.Trackable = !d.Independent && d.Backing != BackingRDMPhysical && d.Backing != BackingOther
		if id, err := ParseChangeID(changeID); err == nil && d.Trackable {
			id.capacity = d.Capacity
			d.ChangeID = id
		}
		out = append(out, d)
	}
	return out
}

// untrackable explains why change tracking cannot cover d, "" when it can.
func untrackable(d DiskInfo) string {
	switch {
	case d.Backing == BackingRDMPhysical:
		return "a physical-mode raw device mapping"
	case d.Independent:
		return "in independent mode (" + d.Mode + ")"
	case !d.Trackable:
		return "of a backing that carries no change ID"
	}
	return ""
}
