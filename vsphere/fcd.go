package vsphere

import (
	"context"
	"reflect"
	"strings"

	"github.com/changedblocks/sdk/cbt"
	"github.com/vmware/govmomi/vim25/soap"
	vim "github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vslm"
	"github.com/vmware/govmomi/vslm/methods"
	"github.com/vmware/govmomi/vslm/types"
)

// OpenFCD returns a first-class disk (FCD, also called IVD: a virtual disk
// managed by vCenter's storage lifecycle manager, VSLM) at one of its
// snapshots, as a *cbt.Disk: its ChangeID is the snapshot's
// changedBlockTrackingId (scheme "vsphere", with the capacity guard), and
// Changes(since) pages through VSLM's QueryChangedDiskAreas with since's
// changeId, or "*" for a zero since, with the same loop, checks and fault
// mapping as OpenDisk.
//
// VSLM keeps no capacity per snapshot: the capacity is the disk's current
// one (config.capacityInMB MiB), so open a snapshot before extending the
// disk; a disk extended since its snapshot makes the listing fail (the server
// refuses offsets beyond the snapshot) rather than miss anything.
//
// VSLM endpoints name their faults "vmodl.fault.InvalidArgument" and the like,
// which govmomi's type registry does not know; call VslmFaultTypes on the
// client once, before use, so that those faults are decoded and mapped (an
// undecoded fault counts as a transport error: retried, then cbt.ErrBusy).
//
// Errors: cbt.ErrNotFound (no such disk or snapshot), cbt.ErrNotEnabled (the
// snapshot carries no change-tracking ID), cbt.ErrCorrupt (an ID of an
// unknown shape, no capacity), and the other classes of a failed call (see
// the package doc), wrapping a *FaultError.
func OpenFCD(ctx context.Context, c *vslm.Client, id, snapshotID string, opts *Options) (*cbt.Disk, error) {
	return openFCD(ctx, c, c.ServiceContent.VStorageObjectManager, id, snapshotID, opts)
}

// openFCD is OpenFCD over any RoundTripper speaking VSLM.
func openFCD(ctx context.Context, rt soap.RoundTripper, mgr vim.ManagedObjectReference, id, snapshotID string, opts *Options) (*cbt.Disk, error) {
	call := newCaller(opts)
	did, sid := vim.ID{Id: id}, vim.ID{Id: snapshotID}
	var obj *vim.VStorageObject
	if err := call.do(ctx, "VslmRetrieveVStorageObject", func(ctx context.Context) error {
		res, err := methods.VslmRetrieveVStorageObject(ctx, rt, &types.VslmRetrieveVStorageObject{This: mgr, Id: did})
		if err == nil {
			obj = &res.Returnval
		}
		return err
	}); err != nil {
		return nil, err
	}
	var details *vim.VStorageObjectSnapshotDetails
	if err := call.do(ctx, "VslmRetrieveSnapshotDetails", func(ctx context.Context) error {
		res, err := methods.VslmRetrieveSnapshotDetails(ctx, rt, &types.VslmRetrieveSnapshotDetails{This: mgr, Id: did, SnapshotId: sid})
		if err == nil {
			details = &res.Returnval
		}
		return err
	}); err != nil {
		return nil, err
	}
	name := "fcd-" + id + "/" + snapshotID
	d := DiskInfo{Capacity: obj.Config.CapacityInMB << 20, Backing: BackingFlat, Trackable: true, RawChangeID: details.ChangedBlockTrackingId}
	if own, err := ParseChangeID(d.RawChangeID); err == nil {
		own.capacity = d.Capacity
		d.ChangeID = own
	}
	if err := diskUsable(name, d); err != nil {
		return nil, err
	}
	return cbt.NewDisk(&pager{
		name:     name,
		method:   "VslmQueryChangedDiskAreas",
		capacity: d.Capacity,
		own:      d.ChangeID,
		call:     call,
		query: func(ctx context.Context, offset int64, changeID string) (*vim.DiskChangeInfo, error) {
			res, err := methods.VslmQueryChangedDiskAreas(ctx, rt, &types.VslmQueryChangedDiskAreas{
				This: mgr, Id: did, SnapshotId: sid, StartOffset: offset, ChangeId: changeID,
			})
			if err != nil {
				return nil, err
			}
			return &res.Returnval, nil
		},
	})
}

// VslmFaultTypes makes c decode the fault types VSLM endpoints send with a
// "vmodl.fault." prefix ("vmodl.fault.InvalidArgument") as govmomi's own
// (InvalidArgument), so that their class is known. Call it once, before c is
// shared.
func VslmFaultTypes(c *vslm.Client) {
	next := c.Types
	if next == nil {
		next = vim.TypeFunc()
	}
	c.Types = func(name string) (reflect.Type, bool) {
		if t, ok := next(name); ok {
			return t, true
		}
		return next(strings.TrimPrefix(name, "vmodl.fault."))
	}
}
