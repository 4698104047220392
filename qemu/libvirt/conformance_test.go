//go:build cgo

package libvirt_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/cbttest"
	"github.com/changedblocks/sdk/qemu/libvirt"
)

// The conformance suite on the libvirt driver: every change point is a
// checkpoint of a running domain. The suite opens the disk at earlier points
// after later writes, which a live guest cannot give, so each change point
// also keeps a copy of the image as it was then (the domain is powered off
// for the copy, which saves its bitmaps, and started again when written to);
// opening at a point puts that copy back under the domain, restores the
// checkpoint metadata of that time and opens the disk with DiskOptions.At,
// which each listing checks (no write since the point). Every other target
// starts the domain first, so that its listings are pull-mode backup jobs
// read over NBD; the others list the shut-off domain from its qcow2 bitmaps.

type confHarness struct{}

const confSize = 4 << 20

func (confHarness) Config() cbttest.Config {
	return cbttest.Config{
		Capacity:   confSize,
		WriteAlign: 512,
		Precision:  granule,
		Workloads:  cbttest.MinWorkloads,
		MaxRounds:  3,
		MaxWrites:  6,
		// A change ID carries its domain's UUID.
		ForeignIDsInvalid: true,
	}
}

type confTarget struct {
	t       testing.TB
	live    bool // Open starts the domain: listings are backup jobs
	running bool
	c       *libvirt.Conn
	v       *vm
	k       int
	points  []confPoint // in creation order; deleted ones removed
	n       int
}

type confPoint struct {
	id    cbt.ChangeID
	name  string
	image string   // the image as it was at the point
	xmls  []string // checkpoint XMLs of the point and its ancestors, parents first
}

var confTargets int

func (confHarness) NewTarget(t testing.TB) cbttest.Target {
	c := connect(t)
	confTargets++
	return &confTarget{t: t, c: c, v: newVMPaused(t, confSize, true), live: confTargets%2 == 1, running: true}
}

func (tg *confTarget) ensure(running bool) {
	switch {
	case running && !tg.running:
		tg.v.start()
	case !running && tg.running:
		tg.v.stop()
	}
	tg.running = running
}

func (tg *confTarget) Write(_ context.Context, off, length int64) error {
	tg.ensure(true)
	tg.n++
	tg.v.write(byte(1+tg.n%250), off, length)
	return nil
}

func (tg *confTarget) ChangePoint(context.Context) (cbt.ChangeID, error) {
	tg.k++
	return tg.makePoint(fmt.Sprintf("p%d", tg.k))
}

// makePoint makes checkpoint name and keeps a copy of the image at it.
//
// Open rewinds the domain to a point, where later checkpoints do not exist:
// the order of a base that does not exist is told by the guards its change
// ID carries (the nonce's time, to the nanosecond, for checkpoints this
// package makes). A real domain at a point keeps its later checkpoints,
// whose chain tells the order too.
func (tg *confTarget) makePoint(name string) (cbt.ChangeID, error) {
	tg.ensure(true)
	cp, err := tg.c.CreateCheckpoint(tg.v.name, name, nil)
	if err != nil {
		return cbt.ChangeID{}, err
	}
	cps, err := tg.c.Checkpoints(tg.v.name)
	if err != nil {
		return cbt.ChangeID{}, err
	}
	var xmls []string
	for _, x := range cps {
		full, err := tg.c.Checkpoint(tg.v.name, x.Name, false)
		if err != nil {
			return cbt.ChangeID{}, err
		}
		xmls = append(xmls, full.XML)
	}
	tg.ensure(false)
	image := fmt.Sprintf("%s.%d", tg.v.image, len(tg.points))
	copyFile(tg.t, tg.v.image, image)
	tg.points = append(tg.points, confPoint{id: cp.ChangeID(), name: name, image: image, xmls: xmls})
	return cp.ChangeID(), nil
}

// RecreatePoint deletes the checkpoint and makes it again under its name.
func (tg *confTarget) RecreatePoint(ctx context.Context, id cbt.ChangeID) (cbt.ChangeID, error) {
	ref, err := libvirt.ParseCheckpointRef(id.Value())
	if err != nil {
		return cbt.ChangeID{}, err
	}
	if err := tg.DeletePoint(ctx, id); err != nil {
		return cbt.ChangeID{}, err
	}
	return tg.makePoint(ref.Name)
}

func (tg *confTarget) Open(_ context.Context, at cbt.ChangeID) (*cbt.Disk, error) {
	var p *confPoint
	for i := range tg.points {
		if tg.points[i].id == at {
			p = &tg.points[i]
		}
	}
	if p == nil {
		return nil, fmt.Errorf("no point %v", at)
	}
	tg.ensure(false)
	copyFile(tg.t, p.image, tg.v.image)
	// The checkpoint metadata of that time: drop every record, then
	// redefine the point's own chain.
	cps, err := tg.c.Checkpoints(tg.v.name)
	if err != nil {
		return nil, err
	}
	for i := len(cps) - 1; i >= 0; i-- {
		if err := tg.c.DeleteCheckpoint(tg.v.name, cps[i].Name, &libvirt.DeleteOptions{MetadataOnly: true}); err != nil {
			return nil, err
		}
	}
	tg.ensure(tg.live)
	for _, x := range p.xmls {
		if _, err := tg.c.RedefineCheckpoint(tg.v.name, x); err != nil {
			return nil, err
		}
	}
	return tg.c.OpenDisk(tg.v.name, "vda", &libvirt.DiskOptions{At: at, SocketDir: tg.t.TempDir()})
}

// DeletePoint deletes the checkpoint (libvirt merges its bitmap into its
// parent's and makes its parent the parent of its children) and does the
// same to the saved chains.
func (tg *confTarget) DeletePoint(_ context.Context, id cbt.ChangeID) error {
	tg.ensure(true) // libvirt deletes checkpoints of running domains only
	ref, err := libvirt.ParseCheckpointRef(id.Value())
	if err != nil {
		return err
	}
	cp, err := tg.c.Checkpoint(tg.v.name, ref.Name, false)
	if err != nil {
		return err
	}
	if err := tg.c.DeleteCheckpoint(tg.v.name, ref.Name, nil); err != nil {
		return err
	}
	child := regexp.MustCompile(`<parent>\s*<name>` + regexp.QuoteMeta(ref.Name) + `</name>\s*</parent>`)
	newParent := ""
	if cp.Parent != "" {
		newParent = "<parent><name>" + cp.Parent + "</name></parent>"
	}
	for i := range tg.points {
		var keep []string
		for _, x := range tg.points[i].xmls {
			if c, err := libvirt.ParseCheckpointXML(x); err == nil && c.Name == ref.Name {
				continue
			}
			keep = append(keep, child.ReplaceAllLiteralString(x, newParent))
		}
		tg.points[i].xmls = keep
	}
	return nil
}

// ResetTracking deletes every checkpoint with its bitmaps.
func (tg *confTarget) ResetTracking(context.Context) error {
	tg.ensure(true)
	cps, err := tg.c.Checkpoints(tg.v.name)
	if err != nil {
		return err
	}
	for i := len(cps) - 1; i >= 0; i-- {
		if err := tg.c.DeleteCheckpoint(tg.v.name, cps[i].Name, nil); err != nil {
			return err
		}
	}
	for i := range tg.points {
		tg.points[i].xmls = nil
	}
	return nil
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	require.NoError(t, err)
	defer in.Close()
	out, err := os.Create(to)
	require.NoError(t, err)
	_, err = io.Copy(out, in)
	require.NoError(t, err)
	require.NoError(t, out.Close())
}

func TestConformance(t *testing.T) {
	cbttest.RunConformanceTests(t, confHarness{})
}
