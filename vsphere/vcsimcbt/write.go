package vcsimcbt

import (
	"fmt"

	"github.com/changedblocks/sdk/extent"
	"github.com/vmware/govmomi/vim25/types"
)

// Write records a guest write of length bytes at offset to the virtual disk
// with the given device key of vm. The write belongs to the current tracking
// epoch: it is reported for every change ID handed out before it and, from
// the next snapshot on, for "*". Writes made while tracking is off are not
// reported for any change ID (a later enable starts after them) but count as
// in use for "*". It returns ErrUnknownDisk for an unknown VM or disk and
// ErrOutOfRange unless 0 <= offset, 0 < length and offset+length <= the
// disk's current capacity.
func (t *Tracker) Write(vm types.ManagedObjectReference, deviceKey int32, offset, length int64) error {
	return t.withDisk(vm, deviceKey, func(v *vmState, d *diskState) error {
		if offset < 0 || length <= 0 || offset > d.capacity-length {
			return fmt.Errorf("%w: write [%d, +%d) on disk %d of capacity %d", ErrOutOfRange, offset, length, deviceKey, d.capacity)
		}
		d.write(extent.Extent{Offset: offset, Length: length}, t.opts.BlockSize, true)
		return nil
	})
}

// WriteAll records each extent of es as a guest write, as Write does, under one
// lock (for tests with many writes). It stops at the first invalid extent and
// returns its error; the writes before it stay recorded.
func (t *Tracker) WriteAll(vm types.ManagedObjectReference, deviceKey int32, es []extent.Extent) error {
	return t.withDisk(vm, deviceKey, func(v *vmState, d *diskState) error {
		for _, e := range es {
			if e.Offset < 0 || e.Length <= 0 || e.Offset > d.capacity-e.Length {
				return fmt.Errorf("%w: write [%d, +%d) on disk %d of capacity %d", ErrOutOfRange, e.Offset, e.Length, deviceKey, d.capacity)
			}
			d.write(e, t.opts.BlockSize, true)
		}
		return nil
	})
}

// Reset models a tracking reset of one disk (KB 2139574: disable tracking,
// delete the ctk file, enable again): the disk gets a new change-epoch UUID
// and its current backing a new change ID, which Reset returns. Change IDs of
// the old UUID then fail with FileFault cannotGetChanges (or InvalidArgument
// changeId, see Options); snapshots taken before the reset keep answering for
// their own UUID. It returns ErrUnknownDisk or ErrNotTracked.
func (t *Tracker) Reset(vm types.ManagedObjectReference, deviceKey int32) (string, error) {
	var id string
	err := t.withTrackedDisk(vm, deviceKey, func(v *vmState, d *diskState) error {
		d.startGeneration(v.hasSnapshots)
		id = d.liveChangeID()
		return nil
	})
	return id, err
}

// ChangeID returns the change ID the VM's current backing of the disk carries
// (the point tracking started, or the latest snapshot or reset since). It
// returns ErrUnknownDisk or ErrNotTracked.
func (t *Tracker) ChangeID(vm types.ManagedObjectReference, deviceKey int32) (string, error) {
	var id string
	err := t.withTrackedDisk(vm, deviceKey, func(v *vmState, d *diskState) error {
		id = d.liveChangeID()
		return nil
	})
	return id, err
}

// SnapshotChangeID returns the change ID stamped into the snapshot's copy of
// the disk, the same string its config.hardware shows. It returns
// ErrUnknownDisk for a snapshot the Tracker did not see created (or that is
// removed) or a key that is not one of its disks, and ErrNotTracked when
// tracking was off at the snapshot.
func (t *Tracker) SnapshotChangeID(snapshot types.ManagedObjectReference, deviceKey int32) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.snaps[snapshot]
	if s == nil {
		return "", fmt.Errorf("%w: snapshot %s", ErrUnknownDisk, snapshot)
	}
	p := s.disks[deviceKey]
	if p == nil {
		return "", fmt.Errorf("%w: snapshot %s has no virtual disk with key %d", ErrUnknownDisk, snapshot, deviceKey)
	}
	if p.gen == nil {
		return "", fmt.Errorf("%w: disk %d at snapshot %s", ErrNotTracked, deviceKey, snapshot)
	}
	return formatChangeID(p.gen.uuid, p.point), nil
}

// Written returns the ground truth for a query: the exact byte ranges (not
// rounded to blocks; sorted, merged) written to the disk after changeID and up
// to snapshot (nil: up to now). changeID "*" means every write up to that
// point, tracked or not. A correct paging loop over QueryChangedDiskAreas
// with the same arguments reports every byte of the result. It returns
// ErrUnknownDisk for a VM that does not exist and ErrRejected, with the
// fault's message, for arguments the query would answer with a fault.
func (t *Tracker) Written(vm types.ManagedObjectReference, deviceKey int32, changeID string, snapshot *types.ManagedObjectReference) ([]extent.Extent, error) {
	var out []extent.Extent
	err := t.withVM(vm, func(v *vmState) error {
		q, f := t.resolve(v, deviceKey, changeID, snapshot)
		if f != nil {
			return fmt.Errorf("%w: %s", ErrRejected, f.msg)
		}
		out = q.disk.exactBetween(q.lo, q.hi)
		return nil
	})
	return out, err
}

// MinimalCalls returns how many QueryChangedDiskAreas calls a correct paging
// loop (start at 0, continue at StartOffset+Length until the capacity) makes
// for these arguments, given the Tracker's window and extent cap. The count is
// what Calls grows by during such a loop. Errors are as for Written.
func (t *Tracker) MinimalCalls(vm types.ManagedObjectReference, deviceKey int32, changeID string, snapshot *types.ManagedObjectReference) (int, error) {
	n := 0
	err := t.withVM(vm, func(v *vmState) error {
		q, f := t.resolve(v, deviceKey, changeID, snapshot)
		if f != nil {
			return fmt.Errorf("%w: %s", ErrRejected, f.msg)
		}
		set := q.disk.roundedBetween(q.lo, q.hi)
		for off := int64(0); off < q.capacity; n++ {
			info := t.page(set, off, q.capacity)
			off += info.Length
		}
		return nil
	})
	return n, err
}

// withDisk runs fn under the VM's lock with disk deviceKey of vm, or returns
// ErrUnknownDisk.
func (t *Tracker) withDisk(vm types.ManagedObjectReference, deviceKey int32, fn func(*vmState, *diskState) error) error {
	return t.withVM(vm, func(v *vmState) error {
		d := v.disks[deviceKey]
		if d == nil {
			return fmt.Errorf("%w: %s has no virtual disk with key %d", ErrUnknownDisk, vm, deviceKey)
		}
		return fn(v, d)
	})
}

// withTrackedDisk is withDisk for a disk with tracking on, or ErrNotTracked.
func (t *Tracker) withTrackedDisk(vm types.ManagedObjectReference, deviceKey int32, fn func(*vmState, *diskState) error) error {
	return t.withDisk(vm, deviceKey, func(v *vmState, d *diskState) error {
		if d.gen == nil {
			return fmt.Errorf("%w: disk %d of %s", ErrNotTracked, deviceKey, vm)
		}
		return fn(v, d)
	})
}
