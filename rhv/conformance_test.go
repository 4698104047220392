package rhv_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/cbttest"
	"github.com/changedblocks/sdk/internal/qemutools"
	"github.com/changedblocks/sdk/rhv"
)

// The conformance suite over real volume chains in a file-domain layout: the
// suite's writes go to the leaf (buffered, and flushed in one qemu-io run
// before a change point or an open); a change point is an RHV snapshot: a
// new leaf volume on top, the old leaf becoming the point; deleting a point
// takes its volume out of the chain as a merge does, its data streamed into
// its child (qemu-img rebase).

const (
	confCapacity = 4 << 20
	confCluster  = 64 << 10
)

type volumeHarness struct{}

func (volumeHarness) Config() cbttest.Config {
	return cbttest.Config{
		Capacity:          confCapacity,
		WriteAlign:        512,
		Precision:         confCluster,
		Workloads:         cbttest.MinWorkloads,
		ForeignIDsInvalid: true, // volume UUIDs are unique
	}
}

// confImages numbers the targets' images.
var confImages atomic.Uint64

func (volumeHarness) NewTarget(t testing.TB) cbttest.Target {
	c := diskNewChain(t, diskFileDomain, diskUUID(0x1c, confImages.Add(1)))
	c.add(diskVolSpec{size: confCapacity})
	return &volumeTarget{c: c}
}

type volumeTarget struct {
	mu   sync.Mutex
	c    *diskChain
	cmds []string
	n    int
}

func (v *volumeTarget) Write(_ context.Context, off, length int64) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.n++
	v.cmds = append(v.cmds, fmt.Sprintf("write -P %d %d %d", 1+v.n%250, off, length))
	return nil
}

// flush runs the buffered writes on the leaf. Callers hold mu.
func (v *volumeTarget) flush() {
	if len(v.cmds) > 0 {
		ids := v.c.ids()
		v.c.io(ids[len(ids)-1], v.cmds...)
		v.cmds = nil
	}
}

func (v *volumeTarget) ChangePoint(context.Context) (cbt.ChangeID, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.flush()
	ids := v.c.ids()
	frozen := ids[len(ids)-1]
	v.c.add(diskVolSpec{size: confCapacity})
	// The point's change ID is the one the disk at it hands out: it carries
	// the guard of the volumes up to it.
	chain := v.c.chain
	chain.Volumes = append([]rhv.Volume(nil), chain.Volumes...)
	d, err := rhv.OpenVolume(&chain, frozen, v.c.options())
	if err != nil {
		return cbt.ChangeID{}, err
	}
	defer d.Close()
	return d.ChangeID()
}

func (v *volumeTarget) Open(_ context.Context, at cbt.ChangeID) (*cbt.Disk, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.flush()
	p, err := rhv.VolumePointOf(at)
	if err != nil {
		return nil, err
	}
	chain := v.c.chain
	chain.Volumes = append([]rhv.Volume(nil), chain.Volumes...)
	return rhv.OpenVolume(&chain, p.Volume, v.c.options())
}

// DeletePoint takes the point's volume out of the chain: its child is
// rebased onto its parent, copying the volume's data into the child (the
// guest view at the child is unchanged), and its files are removed.
func (v *volumeTarget) DeletePoint(_ context.Context, id cbt.ChangeID) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.flush()
	p, err := rhv.VolumePointOf(id)
	if err != nil {
		return err
	}
	c := v.c
	i := c.chain.Index(p.Volume)
	if i < 0 || i+1 >= len(c.chain.Volumes) {
		return fmt.Errorf("volume %s is not an internal volume of the chain", p.Volume)
	}
	child := &c.chain.Volumes[i+1]
	args := []string{"rebase", "-f", "qcow2", "-b", "", c.imagePath(child.ID)}
	child.Parent = rhv.BlankUUID
	if i > 0 {
		parent := c.chain.Volumes[i-1].ID
		args = []string{"rebase", "-f", "qcow2", "-b", c.backingName(parent), "-F", "qcow2", c.imagePath(child.ID)}
		child.Parent = parent
	}
	qemutools.QemuImg(c.t, args...)
	c.writeMeta(*child)
	c.remove(p.Volume)
	c.chain.Volumes = append(c.chain.Volumes[:i:i], c.chain.Volumes[i+1:]...)
	return nil
}

func TestConformanceVolumes(t *testing.T) {
	qemutools.Need(t, "qemu-img", "qemu-io")
	cbttest.RunConformanceTests(t, volumeHarness{})
}
