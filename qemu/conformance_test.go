package qemu_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/cbttest"
	"github.com/changedblocks/sdk/internal/qemutools"
	"github.com/changedblocks/sdk/qemu"
)

// The conformance suite over real images: qemu-io writes, and change points
// that are internal snapshots (qemu-img snapshot -c) or backing-chain layers
// (a new overlay made with qemu-img create -b). Writes are buffered and
// flushed in one qemu-io run before a change point or an open, which keeps the
// suite's thousands of writes to a few hundred processes.

const (
	confCapacity = 4 << 20
	confCluster  = 64 << 10
)

type snapHarness struct{}

func (snapHarness) Config() cbttest.Config {
	return cbttest.Config{
		Capacity:   confCapacity,
		WriteAlign: 512,
		Precision:  confCluster,
		Workloads:  cbttest.MinWorkloads,
	}
}

func (snapHarness) NewTarget(t testing.TB) cbttest.Target {
	p := newQcow2(t, "conf.qcow2", fmt.Sprintf("cluster_size=%d", confCluster), fmt.Sprint(confCapacity))
	return &snapTarget{qioBuffer: qioBuffer{t: t, path: p}, names: map[string]string{}}
}

// qioBuffer holds qemu-io writes until flush.
type qioBuffer struct {
	t    testing.TB
	path string
	mu   sync.Mutex
	cmds []string
	n    int
}

func (b *qioBuffer) Write(_ context.Context, off, length int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n++
	b.cmds = append(b.cmds, fmt.Sprintf("write -P %d %d %d", 1+b.n%250, off, length))
	return nil
}

func (b *qioBuffer) flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.cmds) > 0 {
		qemutools.QemuIO(b.t, b.path, b.cmds...)
		b.cmds = nil
	}
}

type snapTarget struct {
	qioBuffer
	k     int
	names map[string]string // change ID value → snapshot name
}

func (s *snapTarget) ChangePoint(context.Context) (cbt.ChangeID, error) {
	s.flush()
	s.k++
	name := fmt.Sprintf("p%d", s.k)
	snapshot(s.t, s.path, name)
	id := snapID(s.t, s.path, name)
	s.names[id.Value()] = name
	return id, nil
}

func (s *snapTarget) Open(_ context.Context, at cbt.ChangeID) (*cbt.Disk, error) {
	s.flush()
	pt, err := qemu.PointOf(at)
	if err != nil {
		return nil, err
	}
	return qemu.Open(s.path, pt, nil)
}

func (s *snapTarget) DeletePoint(_ context.Context, id cbt.ChangeID) error {
	name, ok := s.names[id.Value()]
	if !ok {
		return fmt.Errorf("unknown point %s", id)
	}
	qemutools.QemuImg(s.t, "snapshot", "-d", name, s.path)
	delete(s.names, id.Value())
	return nil
}

// RecreatePoint deletes the snapshot id names and takes a new one under the
// same name, as a rotation that reuses a name ("backup-latest") does.
func (s *snapTarget) RecreatePoint(_ context.Context, id cbt.ChangeID) (cbt.ChangeID, error) {
	s.flush()
	name, ok := s.names[id.Value()]
	if !ok {
		return cbt.ChangeID{}, fmt.Errorf("unknown point %s", id)
	}
	qemutools.QemuImg(s.t, "snapshot", "-d", name, s.path)
	delete(s.names, id.Value())
	snapshot(s.t, s.path, name)
	again := snapID(s.t, s.path, name)
	s.names[again.Value()] = name
	return again, nil
}

// ResetTracking deletes every snapshot: no change ID handed out before names
// anything any more.
func (s *snapTarget) ResetTracking(context.Context) error {
	s.flush()
	for _, name := range s.names {
		qemutools.QemuImg(s.t, "snapshot", "-d", name, s.path)
	}
	clear(s.names)
	return nil
}

func TestConformanceSnapshots(t *testing.T) {
	qemutools.Need(t, "qemu-img", "qemu-io")
	cbttest.RunConformanceTests(t, snapHarness{})
}

type layerHarness struct{}

func (layerHarness) Config() cbttest.Config {
	c := snapHarness{}.Config()
	c.Seed = 5000
	return c
}

func (layerHarness) NewTarget(t testing.TB) cbttest.Target {
	p := newQcow2(t, "l0.qcow2", fmt.Sprintf("cluster_size=%d", confCluster), fmt.Sprint(confCapacity))
	return &layerTarget{qioBuffer: qioBuffer{t: t, path: p}, dir: filepath.Dir(p)}
}

// layerTarget writes to the top of a backing chain; a change point freezes the
// top and puts a new overlay on it.
type layerTarget struct {
	qioBuffer
	dir string
	k   int
}

func (l *layerTarget) ChangePoint(context.Context) (cbt.ChangeID, error) {
	l.flush()
	frozen := l.path
	l.k++
	next := filepath.Join(l.dir, fmt.Sprintf("l%d.qcow2", l.k))
	qemutools.Create(l.t, next, fmt.Sprintf("cluster_size=%d", confCluster), fmt.Sprint(confCapacity),
		"-b", filepath.Base(frozen), "-F", "qcow2")
	l.mu.Lock()
	l.path = next
	l.mu.Unlock()
	im, err := qemu.OpenImage(next, nil)
	if err != nil {
		return cbt.ChangeID{}, err
	}
	defer im.Close()
	return im.Chain()[1].Point.ChangeID()
}

func (l *layerTarget) Open(_ context.Context, at cbt.ChangeID) (*cbt.Disk, error) {
	l.flush()
	pt, err := qemu.PointOf(at)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(pt.Name, l.dir) {
		return nil, fmt.Errorf("point %s is not of this target", at)
	}
	return qemu.Open(l.path, pt, nil)
}

// layerTarget is no Deleter: taking a layer out of the chain rewrites the
// overlay above it, whose own change ID then no longer holds (a layer's change
// ID is guarded by its modification time), so the suite's "delete the first
// point, list the second since the first" cannot be set up. TestChainErrors and
// TestChainLayerModified cover bases that left the chain or were written to.
func TestConformanceLayers(t *testing.T) {
	qemutools.Need(t, "qemu-img", "qemu-io")
	cbttest.RunConformanceTests(t, layerHarness{})
}
