package vcsimcbt

import (
	"math"
	"slices"

	"github.com/changedblocks/sdk/extent"
	"github.com/vmware/govmomi/vim25/types"
)

// vmState is the model's view of one VM.
type vmState struct {
	ref          types.ManagedObjectReference
	enabled      bool // config.changeTrackingEnabled as last read
	pending      bool // enabled, waiting for a stun/unstun cycle
	poweredOn    bool
	hasSnapshots bool
	disks        map[int32]*diskState
}

// generation is one tracking generation of a disk: one change-epoch UUID.
type generation struct {
	uuid  string
	start int64 // the point tracking started at
	// noStar: the VM had snapshots when tracking started, so "*" has no
	// epoch (KB 320557: "*" needs zero snapshots at enable).
	noStar bool
}

// diskState is one virtual disk: its tracking generation and every write.
//
// Points and tags share one counter per disk. A point p handed out takes
// p = cur and then cur++; a write is tagged with cur. So a write tagged t
// happened after every point < t and before every point >= t, and the writes
// between points n and s are those with n < t <= s.
type diskState struct {
	key       int32
	file      string
	capacity  int64
	trackable bool
	gen       *generation // nil: not tracked now
	cur       int64
	live      int64 // the point the current backing carries

	exact   []taggedWrite             // every guest write, as made
	rounded map[int64][]extent.Extent // per tag, block-rounded; normalised lazily
	dirty   map[int64]bool
	cache   map[[2]int64][]extent.Extent
}

type taggedWrite struct {
	tag int64
	e   extent.Extent
}

func newDisk(key int32) *diskState {
	return &diskState{key: key, cur: 1, rounded: map[int64][]extent.Extent{}, dirty: map[int64]bool{}}
}

// snapState is what the model recorded when a snapshot was created.
type snapState struct {
	vm    types.ManagedObjectReference
	disks map[int32]*pointDisk
}

// pointDisk is one disk at a snapshot.
type pointDisk struct {
	disk      *diskState
	file      string
	capacity  int64
	trackable bool
	gen       *generation // nil: not tracked at the snapshot
	point     int64
}

// point hands out the next point of the disk.
func (d *diskState) point() int64 {
	p := d.cur
	d.cur++
	d.live = p
	return p
}

// startGeneration starts tracking with a new UUID at a new point.
func (d *diskState) startGeneration(hasSnapshots bool) {
	d.gen = &generation{uuid: newUUID(), noStar: hasSnapshots}
	d.gen.start = d.point()
}

func (d *diskState) liveChangeID() string {
	if d.gen == nil {
		return ""
	}
	return formatChangeID(d.gen.uuid, d.live)
}

// write records e in the current epoch: block-rounded for answers and, when
// guest is set, exactly for ground truth.
func (d *diskState) write(e extent.Extent, block int64, guest bool) {
	if guest {
		d.exact = append(d.exact, taggedWrite{tag: d.cur, e: e})
	}
	if r, ok := extent.AlignOut(e, block, 0); ok {
		d.rounded[d.cur] = append(d.rounded[d.cur], r)
		d.dirty[d.cur] = true
		d.cache = nil
	}
}

// roundedBetween returns the normalised union of the block-rounded writes
// tagged in (lo, hi]. The result is shared: do not modify it.
func (d *diskState) roundedBetween(lo, hi int64) []extent.Extent {
	k := [2]int64{lo, hi}
	if es, ok := d.cache[k]; ok {
		return es
	}
	var sets [][]extent.Extent
	for tag, es := range d.rounded {
		if tag <= lo || tag > hi {
			continue
		}
		if d.dirty[tag] {
			es = extent.Normalize(es)
			d.rounded[tag] = es
			delete(d.dirty, tag)
		}
		sets = append(sets, es)
	}
	var out []extent.Extent
	switch len(sets) {
	case 0:
	case 1:
		out = sets[0]
	default:
		out = extent.UnionSlices(sets...)
	}
	if d.cache == nil {
		d.cache = map[[2]int64][]extent.Extent{}
	}
	d.cache[k] = out
	return out
}

// exactBetween returns the normalised union of the guest writes tagged in
// (lo, hi], in a new slice.
func (d *diskState) exactBetween(lo, hi int64) []extent.Extent {
	var es []extent.Extent
	for _, w := range d.exact {
		if w.tag > lo && w.tag <= hi {
			es = append(es, w.e)
		}
	}
	return extent.Normalize(slices.Clip(es))
}

// allTags is the upper tag bound of a query of the current state.
const allTags = math.MaxInt64
