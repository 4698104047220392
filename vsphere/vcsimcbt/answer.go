package vcsimcbt

import (
	"fmt"
	"sort"

	"github.com/changedblocks/sdk/extent"
	"github.com/vmware/govmomi/vim25/types"
)

// modelFault is a fault the model raises, with its message.
type modelFault struct {
	fault types.BaseMethodFault
	msg   string
}

// query is a resolved request: which writes (tags in (lo, hi]) of which disk,
// up to which capacity.
type query struct {
	disk     *diskState
	lo, hi   int64
	capacity int64
}

// resolve checks a request as ESXi would (see Tracker.Wrap for the order)
// and returns what to answer from. The caller holds t.mu.
func (t *Tracker) resolve(v *vmState, key int32, changeID string, snapshot *types.ManagedObjectReference) (query, *modelFault) {
	var p pointDisk
	maxPoint := int64(0)
	if snapshot != nil {
		s := t.snaps[*snapshot]
		if s == nil || s.vm != v.ref {
			return query{}, &modelFault{InvalidArgument(PropSnapshotID),
				fmt.Sprintf("vcsimcbt: %s is not a snapshot of this VM (InvalidArgument snapshotId)", snapshot)}
		}
		pd := s.disks[key]
		if pd == nil {
			return query{}, &modelFault{InvalidArgument(PropDeviceKey),
				fmt.Sprintf("vcsimcbt: snapshot %s has no virtual disk with key %d (InvalidArgument deviceKey)", snapshot, key)}
		}
		p, maxPoint = *pd, pd.point
	} else {
		if v.poweredOn {
			return query{}, &modelFault{InvalidArgument(PropSnapshotID),
				"vcsimcbt: the current state (no snapshot) can be queried only on a powered-off VM (InvalidArgument snapshotId)"}
		}
		d := v.disks[key]
		if d == nil {
			return query{}, &modelFault{InvalidArgument(PropDeviceKey),
				fmt.Sprintf("vcsimcbt: the VM has no virtual disk with key %d (InvalidArgument deviceKey)", key)}
		}
		p = pointDisk{disk: d, file: d.file, capacity: d.capacity, trackable: d.trackable, gen: d.gen, point: allTags}
		maxPoint = d.cur - 1
	}
	if !p.trackable {
		return query{}, &modelFault{InvalidArgument(PropDeviceKey),
			fmt.Sprintf("vcsimcbt: disk %d is a physical-mode RDM or an independent disk, which CBT cannot track (InvalidArgument deviceKey)", key)}
	}
	if p.gen == nil {
		return query{}, &modelFault{FileFault(KeyNoTrack, p.file, "Change tracking is not enabled for this disk."),
			fmt.Sprintf("vcsimcbt: change tracking is not in effect for disk %d at the queried point (FileFault %s)", key, KeyNoTrack)}
	}
	q := query{disk: p.disk, hi: p.point, capacity: p.capacity}
	if changeID == Star {
		if p.gen.noStar {
			return query{}, &modelFault{FileFault(KeyNoEpoch, p.file, "No epoch for the areas in use."),
				fmt.Sprintf(`vcsimcbt: "*" needs a VM without snapshots when tracking was enabled (KB 320557); disk %d had some (FileFault %s)`, key, KeyNoEpoch)}
		}
		return q, nil
	}
	uuid, n, ok := parseChangeID(changeID)
	if !ok || n > maxPoint {
		return query{}, &modelFault{InvalidArgument(PropChangeID),
			fmt.Sprintf("vcsimcbt: change ID %q is malformed or later than the queried point (InvalidArgument changeId)", changeID)}
	}
	if uuid != p.gen.uuid || n < p.gen.start {
		if t.opts.ResetAnswersInvalidArgument {
			return query{}, &modelFault{InvalidArgument(PropChangeID),
				fmt.Sprintf("vcsimcbt: change ID %q is of another tracking generation of disk %d (InvalidArgument changeId)", changeID, key)}
		}
		return query{}, &modelFault{FileFault(KeyCannotGetChanges, p.file, "Cannot compute changes for this change ID."),
			fmt.Sprintf("vcsimcbt: change ID %q is of another tracking generation of disk %d, or before tracking started (FileFault %s)", changeID, key, KeyCannotGetChanges)}
	}
	q.lo = n
	return q, nil
}

// page answers one window of set (normalised, block-rounded) from start:
// up to Window bytes and MaxExtents extents, clipped to [start, capacity).
func (t *Tracker) page(set []extent.Extent, start, capacity int64) types.DiskChangeInfo {
	end := capacity
	if capacity-start > t.opts.Window {
		end = start + t.opts.Window
	}
	info := types.DiskChangeInfo{StartOffset: start, Length: end - start}
	i := sort.Search(len(set), func(i int) bool { return set[i].End() > start })
	for ; i < len(set) && set[i].Offset < end; i++ {
		if len(info.ChangedArea) == t.opts.MaxExtents {
			// More extents remain in the window: stop after the last one
			// returned.
			last := info.ChangedArea[len(info.ChangedArea)-1]
			info.Length = last.Start + last.Length - start
			break
		}
		e, ok := extent.ClipTo(set[i], start, end)
		if ok {
			info.ChangedArea = append(info.ChangedArea, types.DiskChangeExtent{Start: e.Offset, Length: e.Length})
		}
	}
	return info
}
