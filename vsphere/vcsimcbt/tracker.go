package vcsimcbt

import (
	"errors"
	"fmt"
	"math/bits"
	"sync"
	"sync/atomic"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// ErrUnknownDisk is returned (wrapped) by Tracker methods given a VM that is
// not in the simulator or a device key that is not one of its virtual disks.
var ErrUnknownDisk = errors.New("vcsimcbt: unknown VM or disk")

// ErrOutOfRange is returned (wrapped) by Write for a range that is empty or not
// inside the disk's current capacity.
var ErrOutOfRange = errors.New("vcsimcbt: range outside the disk")

// ErrNotTracked is returned (wrapped) by Reset and ChangeID for a disk whose
// change tracking is not in effect.
var ErrNotTracked = errors.New("vcsimcbt: change tracking not in effect")

// ErrRejected is returned (wrapped, with the fault's message) by Written and
// MinimalCalls for arguments QueryChangedDiskAreas would answer with a fault.
var ErrRejected = errors.New("vcsimcbt: the query would fail")

var trackerSeq atomic.Int64

// Tracker is the CBT model of one simulator Registry. It is safe for
// concurrent use. Create it with New; answer queries through Wrap or Install.
type Tracker struct {
	reg  *simulator.Registry
	self types.ManagedObjectReference
	opts Options

	mu    sync.Mutex
	vms   map[types.ManagedObjectReference]*vmState
	snaps map[types.ManagedObjectReference]*snapState
	calls int
	rules []rule
}

// New returns a Tracker for the registry of a simulator model (model.Map(),
// or simulator.Map(ctx) inside simulator.Test) and registers its hooks with
// Registry.AddHandler. Close removes them. It returns an error if opts has a
// negative field or a BlockSize that is not a power of two, or a Window that
// is not a multiple of BlockSize.
func New(reg *simulator.Registry, opts *Options) (*Tracker, error) {
	if reg == nil {
		return nil, errors.New("vcsimcbt: nil registry")
	}
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.Window < 0 || o.MaxExtents < 0 || o.BlockSize < 0 {
		return nil, fmt.Errorf("vcsimcbt: negative option in %+v", o)
	}
	if o.Window == 0 {
		o.Window = DefaultWindow
	}
	if o.MaxExtents == 0 {
		o.MaxExtents = DefaultMaxExtents
	}
	if o.BlockSize == 0 {
		o.BlockSize = DefaultBlockSize
	}
	if bits.OnesCount64(uint64(o.BlockSize)) != 1 {
		return nil, fmt.Errorf("vcsimcbt: block size %d is not a power of two", o.BlockSize)
	}
	if o.Window%o.BlockSize != 0 {
		return nil, fmt.Errorf("vcsimcbt: window %d is not a multiple of the block size %d", o.Window, o.BlockSize)
	}
	t := &Tracker{
		reg: reg,
		self: types.ManagedObjectReference{
			Type:  "VcsimCbtTracker",
			Value: fmt.Sprintf("vcsimcbt-%d", trackerSeq.Add(1)),
		},
		opts:  o,
		vms:   map[types.ManagedObjectReference]*vmState{},
		snaps: map[types.ManagedObjectReference]*snapState{},
	}
	reg.AddHandler((*hooks)(t))
	return t, nil
}

// Close removes the Tracker's hooks from the registry: it no longer sees
// snapshots, reconfigurations or power operations. Change IDs already stamped
// stay, and a wrapped RoundTripper keeps answering from what the Tracker
// knows.
func (t *Tracker) Close() {
	t.reg.RemoveHandler((*hooks)(t))
}

// Options returns the options in effect, defaults filled in.
func (t *Tracker) Options() Options { return t.opts }

// Wrap returns a RoundTripper that answers QueryChangedDiskAreas from the
// model and passes every other method to next.
//
// Each QueryChangedDiskAreas call is counted (Calls), then failed if a
// FailCall rule matches it, then dispatched to vcsim first, so that vcsim's
// own checks apply: NotAuthenticated when the session is gone,
// ManagedObjectNotFound when the VM is. (vcsim then answers MethodNotFound,
// which the model replaces by its answer.) The model then checks, in order:
//   - the snapshot: not a live snapshot of this VM, or nil while the VM is
//     powered on: InvalidArgument snapshotId;
//   - the device key: no virtual disk with that key at the queried point, or
//     a backing that cannot be tracked (physical-mode RDM, independent disk):
//     InvalidArgument deviceKey;
//   - tracking: off at the queried point: FileFault noTrack;
//   - the change ID: malformed, or a point later than the queried one:
//     InvalidArgument changeId; a UUID of another tracking generation:
//     FileFault cannotGetChanges (or InvalidArgument changeId, see Options);
//     "*" when the VM had snapshots as tracking was enabled: FileFault
//     noEpoch;
//   - startOffset: negative, or not below the capacity: InvalidArgument
//     startOffset.
func (t *Tracker) Wrap(next soap.RoundTripper) soap.RoundTripper {
	return &roundTripper{t: t, next: next}
}

// Install wraps c.RoundTripper with Wrap. Call it before c is shared with
// other goroutines.
func (t *Tracker) Install(c *vim25.Client) {
	c.RoundTripper = t.Wrap(c.RoundTripper)
}
