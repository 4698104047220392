package vsphere

import (
	"context"
	"fmt"

	"github.com/changedblocks/sdk/cbt"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"
)

// OpenDisk returns the disk of the given device key at a VM snapshot, as a
// *cbt.Disk: its capacity is the snapshot's own copy of the disk's, its
// ChangeID the change ID that copy carries (scheme "vsphere", with the
// capacity guard), and Changes(since) pages through QueryChangedDiskAreas
// with since's changeId, or "*" (the areas in use) for a zero since. The disk
// holds no server resource; Close only marks it closed. The client is used
// for every later call, so a Relogin hook (Options) that logs it in again
// serves every disk opened with it.
//
// Changes on the disk returns cbt.ErrChangeIDInvalid before any query for a
// base of another tracking generation (a reset, or another disk) or another
// capacity; the server's faults are mapped as the package doc says.
//
// Errors: cbt.ErrNotFound (no such snapshot, or no disk of that key in it),
// cbt.ErrUnsupported (a physical RDM, an independent disk or another backing
// that change tracking does not cover), cbt.ErrNotEnabled (the snapshot's
// copy of the disk carries no change ID: tracking was off, or not yet in
// effect, when it was taken), cbt.ErrCorrupt (a changeId of an unknown shape,
// or no capacity), and the other classes of a failed call (see the package
// doc), wrapping a *FaultError.
func OpenDisk(ctx context.Context, c *vim25.Client, snapshot types.ManagedObjectReference, deviceKey int32, opts *Options) (*cbt.Disk, error) {
	call := newCaller(opts)
	var s *Snapshot
	err := call.do(ctx, "RetrieveProperties", func(ctx context.Context) error {
		var err error
		s, err = readSnapshot(ctx, c, snapshot)
		return err
	})
	if err != nil {
		return nil, err
	}
	d, ok := s.Disk(deviceKey)
	if !ok {
		return nil, errf(cbt.ErrNotFound, "snapshot %s of VM %s has no disk of device key %d", snapshot.Value, s.VM.Value, deviceKey)
	}
	name := fmt.Sprintf("%s/%s/disk-%d", s.VM.Value, snapshot.Value, deviceKey)
	if err := diskUsable(name, d); err != nil {
		return nil, err
	}
	vm := s.VM
	p := &pager{
		name:     name,
		method:   "QueryChangedDiskAreas",
		capacity: d.Capacity,
		own:      d.ChangeID,
		call:     call,
		query: func(ctx context.Context, offset int64, changeID string) (*types.DiskChangeInfo, error) {
			res, err := methods.QueryChangedDiskAreas(ctx, c, &types.QueryChangedDiskAreas{
				This:        vm,
				Snapshot:    &snapshot,
				DeviceKey:   deviceKey,
				StartOffset: offset,
				ChangeId:    changeID,
			})
			if err != nil {
				return nil, err
			}
			return &res.Returnval, nil
		},
	}
	return cbt.NewDisk(p)
}

// diskUsable checks that a snapshot's disk can be served.
func diskUsable(name string, d DiskInfo) error {
	if u := untrackable(d); u != "" {
		return errf(cbt.ErrUnsupported, "%s is %s: change tracking does not cover it", name, u)
	}
	if d.Capacity <= 0 {
		return errf(cbt.ErrCorrupt, "%s has no capacity", name)
	}
	if d.RawChangeID == "" {
		return errf(cbt.ErrNotEnabled, "%s carries no change ID: change tracking was off, or not yet in effect, when the snapshot was taken", name)
	}
	if d.ChangeID.IsZero() {
		_, err := ParseChangeID(d.RawChangeID)
		return errf(cbt.ErrCorrupt, "%s carries a change ID of an unknown shape: %v", name, err)
	}
	return nil
}
