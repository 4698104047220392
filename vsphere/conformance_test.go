package vsphere_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/cbttest"
	"github.com/changedblocks/sdk/vsphere"
	"github.com/changedblocks/sdk/vsphere/vcsimcbt"
	"github.com/vmware/govmomi/vim25/types"
)

// The conformance suite over vcsim with vcsimcbt: a target is a fresh VM with
// one disk and tracking on; Write records a guest write with the Tracker; a
// change point is a VM snapshot (its disk's change ID); Open opens the disk
// at that snapshot; ResetTracking removes the VM's snapshots and resets
// tracking (the KB 2139574 procedure: never with snapshots present), after
// which the disk's change IDs carry a new UUID.
//
// The targets are no Deleter: on vSphere a change ID stays a valid base after
// its snapshot is removed (that is how incrementals work: store the change
// ID, remove the snapshot, ask later), so "a deleted point gives
// ErrChangeIDInvalid" does not hold. TestSnapshotsAndListings covers a base
// whose snapshot was removed. For the same reason a point re-created (its
// snapshot removed and taken again under the same name, which gives a new
// change ID) leaves the old change ID a correct base:
// Config.RecreatedBaseStaysValid.
//
// Small windows and answers (1 MiB, 3 extents) make every listing take many
// pages; the capacity is not a multiple of the window or of the tracking
// block.
const (
	confBlock    = 4096
	confCapacity = 4<<20 + 3*512
)

type confHarness struct{ e *env }

func (confHarness) Config() cbttest.Config {
	return cbttest.Config{
		Capacity:          confCapacity,
		WriteAlign:        512,
		Precision:         confBlock,
		Workloads:         cbttest.MinWorkloads,
		ForeignIDsInvalid: true,
		// A changeId names a point of the disk's tracking history, not the
		// snapshot it was read from.
		RecreatedBaseStaysValid: true,
	}
}

func (h confHarness) NewTarget(t testing.TB) cbttest.Target {
	e := *h.e
	e.t = t
	vm, keys := e.newVM(vmSpec{capacity: confCapacity})
	t.Cleanup(func() { e.destroy(vm) })
	e.enable(vm)
	return &confTarget{e: &e, vm: vm, key: keys[0], snaps: map[string]types.ManagedObjectReference{}, names: map[string]string{}}
}

type confTarget struct {
	e   *env
	vm  types.ManagedObjectReference
	key int32

	mu    sync.Mutex
	snaps map[string]types.ManagedObjectReference // change ID value → snapshot
	names map[string]string                       // change ID value → snapshot name
	n     int
}

func (c *confTarget) Write(_ context.Context, off, length int64) error {
	return c.e.tr.Write(c.vm, c.key, off, length)
}

func (c *confTarget) ChangePoint(ctx context.Context) (cbt.ChangeID, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return c.snapshot(ctx, fmt.Sprintf("p%d", c.n))
}

// RecreatePoint removes the point's snapshot and takes one again under its
// name.
func (c *confTarget) RecreatePoint(ctx context.Context, id cbt.ChangeID) (cbt.ChangeID, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.snaps[id.Value()]
	if !ok {
		return cbt.ChangeID{}, fmt.Errorf("no snapshot of change ID %q", id)
	}
	if err := vsphere.RemoveSnapshot(ctx, c.e.c, s); err != nil {
		return cbt.ChangeID{}, err
	}
	delete(c.snaps, id.Value())
	return c.snapshot(ctx, c.names[id.Value()])
}

// snapshot takes a snapshot; c.mu is held.
func (c *confTarget) snapshot(ctx context.Context, name string) (cbt.ChangeID, error) {
	s, err := vsphere.CreateSnapshot(ctx, c.e.c, c.vm, name, nil)
	if err != nil {
		return cbt.ChangeID{}, err
	}
	d, ok := s.Disk(c.key)
	if !ok || d.ChangeID.IsZero() {
		return cbt.ChangeID{}, fmt.Errorf("snapshot %s: disk %d carries no change ID", s.Ref, c.key)
	}
	id := d.ChangeID.CBT()
	c.snaps[id.Value()] = s.Ref
	c.names[id.Value()] = name
	return id, nil
}

func (c *confTarget) Open(ctx context.Context, at cbt.ChangeID) (*cbt.Disk, error) {
	c.mu.Lock()
	s, ok := c.snaps[at.Value()]
	c.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("no snapshot of change ID %q", at)
	}
	return vsphere.OpenDisk(ctx, c.e.c, s, c.key, nil)
}

func (c *confTarget) ResetTracking(ctx context.Context) error {
	task, err := c.e.vmObj(c.vm).RemoveAllSnapshot(ctx, nil)
	if err != nil {
		return err
	}
	if err := task.Wait(ctx); err != nil {
		return err
	}
	c.mu.Lock()
	clear(c.snaps)
	c.mu.Unlock()
	_, err = c.e.tr.Reset(c.vm, c.key)
	return err
}

func TestConformance(t *testing.T) {
	withVcsim(t, &vcsimcbt.Options{Window: 1 << 20, MaxExtents: 3, BlockSize: confBlock}, func(e *env) {
		cbttest.RunConformanceTests(t, confHarness{e: e})
	})
}
