package memcbt

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/extent"
)

// Scheme is the change-ID scheme of memcbt volumes.
const Scheme = "mem"

// Options configure a Volume. A nil *Options means the defaults.
type Options struct {
	// Name identifies the volume in errors; default "mem<N>".
	Name string
	// Granularity is the tracking granularity in bytes; writes are widened to
	// whole granules. Default 1 (byte precise).
	Granularity int64
	// PageExtents is the most extents one driver answer holds; default 1000.
	PageExtents int
	// PageBytes is the widest window one driver answer covers; default 1 GiB.
	PageBytes int64
	// MaxRead is the most bytes one driver read serves (cbt cuts longer
	// reads); default 256 KiB.
	MaxRead int64
}

var volumeSeq atomic.Uint64

// Volume is an in-memory disk with change tracking. It is safe for concurrent
// use; Disks opened on it see its writes as they happen only when opened at
// the live state (a zero change point).
type Volume struct {
	name, id string
	seq      uint64 // the volume's number, in every generated write's seed
	capacity int64
	opts     Options

	mu        sync.Mutex
	gen       int64            // tracking generation, bumped by ResetTracking
	epochs    []epochSet       // closed epochs of this generation, index = epoch-1
	cur       []extent.Extent  // changed in the open epoch, normalized
	allocated []extent.Extent  // normalized
	points    map[int64]*point // by epoch, this generation only
	version   uint64           // bumped on every mutation
	ops       []dataOp         // every write and discard, in order: the data; only appended to
	writes    uint64           // writes with generated content so far
}

type epochSet struct{ changed []extent.Extent }

type point struct {
	epoch     int64
	allocated []extent.Extent
	ops       int // the data is that of the first ops operations
	deleted   bool
}

// NewVolume returns an empty volume of the given capacity in bytes. It returns
// cbt.ErrInvalidArgument for a negative capacity or bad options.
func NewVolume(capacity int64, opts *Options) (*Volume, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if capacity < 0 {
		return nil, fmt.Errorf("%w: memcbt: negative capacity %d", cbt.ErrInvalidArgument, capacity)
	}
	if o.Granularity < 0 || o.PageExtents < 0 || o.PageBytes < 0 || o.MaxRead < 0 {
		return nil, fmt.Errorf("%w: memcbt: negative option", cbt.ErrInvalidArgument)
	}
	if o.Granularity == 0 {
		o.Granularity = 1
	}
	if o.PageExtents == 0 {
		o.PageExtents = 1000
	}
	if o.PageBytes == 0 {
		o.PageBytes = 1 << 30
	}
	if o.MaxRead == 0 {
		o.MaxRead = 256 << 10
	}
	n := volumeSeq.Add(1)
	if o.Name == "" {
		o.Name = "mem" + strconv.FormatUint(n, 10)
	}
	return &Volume{
		name:     o.Name,
		id:       "v" + strconv.FormatUint(n, 10),
		seq:      n,
		capacity: capacity,
		opts:     o,
		gen:      1,
		points:   map[int64]*point{},
	}, nil
}

// Capacity returns the volume's size in bytes.
func (v *Volume) Capacity() int64 { return v.capacity }

// Granularity returns the tracking granularity in bytes.
func (v *Volume) Granularity() int64 { return v.opts.Granularity }

// Write records a write of length bytes at off. Its content is generated
// from the volume and the write's order, different from every other write's
// (WriteData gives it instead). It returns cbt.ErrInvalidArgument for a
// range outside the volume.
func (v *Volume) Write(off, length int64) error {
	return v.mutate("write", off, length, true, nil)
}

// Discard records a discard (unmap, trim) of length bytes at off: the range
// counts as changed, and granules it covers whole are no longer allocated.
func (v *Volume) Discard(off, length int64) error {
	return v.mutate("discard", off, length, false, nil)
}

// mutate records a write (with data, or generated content when data is
// nil) or a discard.
func (v *Volume) mutate(op string, off, length int64, write bool, data []byte) error {
	if off < 0 || length < 0 || off > v.capacity || length > v.capacity-off {
		return fmt.Errorf("%w: memcbt: %s [%d, +%d) outside the volume of %d bytes", cbt.ErrInvalidArgument, op, off, length, v.capacity)
	}
	if length == 0 {
		return nil
	}
	g := v.opts.Granularity
	wide, _ := extent.AlignOut(extent.Extent{Offset: off, Length: length}, g, v.capacity)
	v.mu.Lock()
	defer v.mu.Unlock()
	v.version++
	v.cur = with(v.cur, wide)
	o := dataOp{off: off, n: length, data: data}
	if write && data == nil {
		v.writes++
		o.seed = splitmix(v.writes<<20^v.seq) | 1
	}
	v.ops = append(v.ops, o)
	if write {
		v.allocated = with(v.allocated, wide)
		return nil
	}
	// Deallocate only the granules the discard covers whole.
	s, t := off, off+length
	if r := s % g; r != 0 {
		s += g - r
	}
	if t != v.capacity {
		t -= t % g
	}
	if t > s {
		own := append([]extent.Extent(nil), v.allocated...)
		v.allocated = extent.SubtractSlices(own, []extent.Extent{{Offset: s, Length: t - s}})
	}
	return nil
}

// ChangePoint closes the current epoch and returns the change ID naming this
// point in time.
func (v *Volume) ChangePoint() (cbt.ChangeID, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.version++
	v.epochs = append(v.epochs, epochSet{changed: v.cur})
	v.cur = nil
	e := int64(len(v.epochs))
	v.points[e] = &point{epoch: e, allocated: append([]extent.Extent(nil), v.allocated...), ops: len(v.ops)}
	return v.changeID(e), nil
}

// DeletePoint forgets a change point, as deleting a snapshot does: it can no
// longer be opened, and as a base it gives cbt.ErrChangeIDInvalid.
func (v *Volume) DeletePoint(id cbt.ChangeID) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	p, err := v.lookup(id)
	if err != nil {
		return err
	}
	p.deleted = true
	v.version++
	return nil
}

// RecreatePoint deletes the point id names and takes a new one at once, as
// deleting a snapshot and taking one again under the same name does. Epochs
// are never reused, so the old change ID gives cbt.ErrChangeIDInvalid as a
// base; the new one is returned. Errors: those of DeletePoint.
func (v *Volume) RecreatePoint(id cbt.ChangeID) (cbt.ChangeID, error) {
	if err := v.DeletePoint(id); err != nil {
		return cbt.ChangeID{}, err
	}
	return v.ChangePoint()
}

// ResetTracking starts a new tracking generation, as a CBT reset or a lost
// dirty bitmap does: every change ID handed out before is no longer valid as a
// base. The data (and what is allocated) stays.
func (v *Volume) ResetTracking() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.version++
	v.gen++
	v.epochs = nil
	v.cur = nil
	v.points = map[int64]*point{}
}

func (v *Volume) changeID(epoch int64) cbt.ChangeID {
	id, err := cbt.NewChangeID(Scheme, v.id+"."+strconv.FormatInt(v.gen, 10)+"/"+strconv.FormatInt(epoch, 10))
	if err != nil {
		panic(err) // the value is built from digits and letters only
	}
	return id
}

// parse splits a change-ID value into volume, generation and epoch.
func parseValue(s string) (vol string, gen, epoch int64, ok bool) {
	head, ep, ok1 := strings.Cut(s, "/")
	dot := strings.LastIndexByte(head, '.')
	if !ok1 || dot < 0 {
		return "", 0, 0, false
	}
	g, err1 := strconv.ParseInt(head[dot+1:], 10, 64)
	e, err2 := strconv.ParseInt(ep, 10, 64)
	if err1 != nil || err2 != nil || g < 1 || e < 1 {
		return "", 0, 0, false
	}
	return head[:dot], g, e, true
}

// lookup finds the live point id names; v.mu must be held.
func (v *Volume) lookup(id cbt.ChangeID) (*point, error) {
	if id.Scheme() != Scheme {
		return nil, fmt.Errorf("%w: memcbt: change ID %q is not of scheme %q", cbt.ErrInvalidArgument, id.String(), Scheme)
	}
	vol, gen, epoch, ok := parseValue(id.Value())
	if !ok {
		return nil, fmt.Errorf("%w: memcbt: malformed change ID %q", cbt.ErrInvalidArgument, id.String())
	}
	if vol != v.id {
		return nil, fmt.Errorf("%w: memcbt: change ID %q belongs to another volume", cbt.ErrChangeIDInvalid, id.String())
	}
	if gen != v.gen {
		return nil, fmt.Errorf("%w: memcbt: change ID %q is from tracking generation %d; tracking was reset since (generation %d)", cbt.ErrChangeIDInvalid, id.String(), gen, v.gen)
	}
	p := v.points[epoch]
	if p == nil {
		return nil, fmt.Errorf("%w: memcbt: change ID %q names no change point of this volume", cbt.ErrChangeIDInvalid, id.String())
	}
	if p.deleted {
		return nil, fmt.Errorf("%w: memcbt: change point %q was deleted", cbt.ErrChangeIDInvalid, id.String())
	}
	return p, nil
}

// with returns a new normalized slice holding set and e. The slices a Volume
// keeps are never modified in place: readers hold them without the lock.
func with(set []extent.Extent, e extent.Extent) []extent.Extent {
	out := make([]extent.Extent, len(set), len(set)+1)
	copy(out, set)
	return extent.Normalize(append(out, e))
}
