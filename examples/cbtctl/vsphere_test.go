package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/vsphere"
	"github.com/changedblocks/sdk/vsphere/vcsimcbt"
)

// vsphereSim is a vCenter simulator (VPX model) served over loopback, with
// vcsimcbt's change tracking. vcsimcbt answers QueryChangedDiskAreas in a
// wrapper of the client's RoundTripper, so the test hook vsphereClientHook
// installs it on the client cbtctl builds from --url.
type vsphereSim struct {
	t    *testing.T
	ctx  context.Context
	url  *url.URL // with the simulator's credentials
	c    *vim25.Client
	tr   *vcsimcbt.Tracker
	reg  *simulator.Registry
	vm   types.ManagedObjectReference
	name string
	key  int32
}

func newVsphereSim(t *testing.T) *vsphereSim {
	t.Helper()
	m := simulator.VPX()
	require.NoError(t, m.Create())
	m.Service.TLS = new(tls.Config)
	m.Service.RegisterEndpoints = true
	s := m.Service.NewServer()
	logOut := log.Writer()
	log.SetOutput(io.Discard) // vcsim logs every QueryChangedDiskAreas as not implemented
	tr, err := vcsimcbt.New(m.Map(), nil)
	require.NoError(t, err)
	vsphereClientHook = tr.Install
	t.Cleanup(func() {
		vsphereClientHook = nil
		tr.Close()
		s.Close()
		m.Remove()
		log.SetOutput(logOut)
	})
	ctx := t.Context()
	sc := soap.NewClient(s.URL, true)
	c, err := vim25.NewClient(ctx, sc)
	require.NoError(t, err)
	tr.Install(c)
	require.NoError(t, sessionLogin(ctx, c, s.URL.User))
	vm := m.Map().Any("VirtualMachine").(*simulator.VirtualMachine)
	e := &vsphereSim{t: t, ctx: ctx, url: s.URL, c: c, tr: tr, reg: m.Map(), vm: vm.Reference(), name: vm.Name}
	info, err := vsphere.ListDisks(ctx, c, e.vm)
	require.NoError(t, err)
	require.Len(t, info.Disks, 1)
	e.key = info.Disks[0].Key
	r, err := vsphere.EnableCBT(ctx, c, e.vm, &vsphere.EnableOptions{StunWithSnapshot: true})
	require.NoError(t, err)
	require.True(t, r.Enabled)
	return e
}

func sessionLogin(ctx context.Context, c *vim25.Client, u *url.Userinfo) error {
	return session.NewManager(c).Login(ctx, u)
}

func (e *vsphereSim) write(off, n int64) {
	e.t.Helper()
	require.NoError(e.t, e.tr.Write(e.vm, e.key, off, n))
}

func (e *vsphereSim) snapshot(name string) *vsphere.Snapshot {
	e.t.Helper()
	s, err := vsphere.CreateSnapshot(e.ctx, e.c, e.vm, name, nil)
	require.NoError(e.t, err)
	return s
}

func (e *vsphereSim) snapshotCount() int {
	e.t.Helper()
	var m mo.VirtualMachine
	require.NoError(e.t, object.NewVirtualMachine(e.c, e.vm).Properties(e.ctx, e.vm, []string{"snapshot"}, &m))
	if m.Snapshot == nil {
		return 0
	}
	n := 0
	var walk func([]types.VirtualMachineSnapshotTree)
	walk = func(ts []types.VirtualMachineSnapshotTree) {
		for _, s := range ts {
			n++
			walk(s.ChildSnapshotList)
		}
	}
	walk(m.Snapshot.RootSnapshotList)
	return n
}

// truth is what vcsimcbt recorded as written since base (zero: "*") up to
// the snapshot.
func (e *vsphereSim) truth(s *vsphere.Snapshot, base string) []extent.Extent {
	e.t.Helper()
	raw := "*"
	if base != "" {
		id, err := cbt.ParseChangeID(base)
		require.NoError(e.t, err)
		v, err := vsphere.ParseChangeID(id.Value())
		require.NoError(e.t, err)
		raw = v.Raw()
	}
	w, err := e.tr.Written(e.vm, e.key, raw, &s.Ref)
	require.NoError(e.t, err)
	return w
}

func (e *vsphereSim) args(extra ...string) []string {
	return append([]string{"vsphere", "changes", "--url", e.url.String(), "--insecure", "--vm", e.name}, extra...)
}

type jsonListing struct {
	Capacity int64           `json:"capacity"`
	ChangeID string          `json:"changeId"`
	Extents  []extent.Extent `json:"extents"`
	Error    string          `json:"error"`
}

func decodeListing(t *testing.T, s string) jsonListing {
	t.Helper()
	var l jsonListing
	require.NoError(t, json.Unmarshal([]byte(s), &l), s)
	return l
}

// TestVsphereChanges: a full listing and an incremental at named
// snapshots, each covering every byte vcsimcbt recorded; then the stale
// base after a tracking reset exits 3.
func TestVsphereChanges(t *testing.T) {
	e := newVsphereSim(t)
	e.write(0, 1<<20)
	e.write(3<<30+7, 100)
	s1 := e.snapshot("full")

	r := cbtctl(t, e.args("--full", "--snapshot", "full", "--format", "json")...)
	require.Equal(t, exitOK, r.code, r.stderr)
	full := decodeListing(t, r.stdout)
	assert.Equal(t, int64(10<<30), full.Capacity)
	assert.Empty(t, extent.SubtractSlices(e.truth(s1, ""), full.Extents), "UNDER-REPORT")
	d1, ok := s1.Disk(e.key)
	require.True(t, ok)
	assert.Equal(t, d1.ChangeID.CBT().String(), full.ChangeID)

	e.write(5<<30, 4096)
	e.write(9<<30+100, 1)
	s2 := e.snapshot("incr")
	r = cbtctl(t, e.args("--snapshot", "incr", "--disk", "disk-202-0", "--since", full.ChangeID, "--format", "json")...)
	require.Equal(t, exitOK, r.code, r.stderr)
	incr := decodeListing(t, r.stdout)
	want := e.truth(s2, full.ChangeID)
	require.NotEmpty(t, want)
	assert.Empty(t, extent.SubtractSlices(want, incr.Extents), "UNDER-REPORT")
	assert.Len(t, incr.Extents, 2, "only the two blocks written since")

	// Text output, a plain changeId as --since, the disk by key.
	raw, err := vsphere.ParseChangeID(mustValue(t, full.ChangeID))
	require.NoError(t, err)
	r = cbtctl(t, e.args("--snapshot", "incr", "--disk", "204", "--since", raw.Raw())...)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "changed")
	assert.Contains(t, r.stdout, "change ID to store: "+incr.ChangeID)

	_, err = e.tr.Reset(e.vm, e.key)
	require.NoError(t, err)
	e.snapshot("after-reset")
	r = cbtctl(t, e.args("--snapshot", "after-reset", "--since", incr.ChangeID)...)
	assert.Equal(t, exitFullBackup, r.code, r.stderr)
	assert.Contains(t, r.stderr, "full backup required")
	assert.Contains(t, r.stdout, "# incomplete")
	assert.Equal(t, 3, e.snapshotCount(), "cbtctl removed or added a snapshot")
}

func mustValue(t *testing.T, s string) string {
	t.Helper()
	id, err := cbt.ParseChangeID(s)
	require.NoError(t, err)
	return id.Value()
}

// TestVsphereTemporarySnapshot: without --snapshot, cbtctl lists at a
// snapshot of its own and removes it, after success and after an error.
func TestVsphereTemporarySnapshot(t *testing.T) {
	e := newVsphereSim(t)
	e.write(1<<20, 64<<10)
	r := cbtctl(t, e.args("--full", "--format", "json")...)
	require.Equal(t, exitOK, r.code, r.stderr)
	l := decodeListing(t, r.stdout)
	assert.Equal(t, []extent.Extent{{Offset: 1 << 20, Length: 64 << 10}}, l.Extents)
	assert.Equal(t, 0, e.snapshotCount(), "the temporary snapshot is left")
	cur, err := e.tr.ChangeID(e.vm, e.key)
	require.NoError(t, err)
	assert.Equal(t, cur, mustRaw(t, l.ChangeID), "the change ID printed is not the temporary snapshot's")

	e.tr.ResetCalls()
	e.tr.FailCall(1, vcsimcbt.InvalidArgument(vcsimcbt.PropStartOffset), "injected")
	r = cbtctl(t, e.args("--since", l.ChangeID)...)
	assert.Equal(t, exitError, r.code, r.stderr)
	assert.Equal(t, 0, e.snapshotCount(), "the temporary snapshot is left after an error")

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	e.tr.ResetCalls()
	e.tr.RewriteCall(1, func(a types.DiskChangeInfo) types.DiskChangeInfo { cancel(); return a })
	var out bytes.Buffer
	r = cbtctlContext(t, ctx, &out, e.args("--since", l.ChangeID)...)
	assert.Equal(t, exitError, r.code, r.stderr)
	assert.Contains(t, r.stderr, "interrupted")
	assert.Equal(t, 0, e.snapshotCount(), "the temporary snapshot is left after Ctrl-C")
}

func mustRaw(t *testing.T, s string) string {
	t.Helper()
	v, err := vsphere.ParseChangeID(mustValue(t, s))
	require.NoError(t, err)
	return v.Raw()
}

// TestVsphereConnect: the certificate is checked without --insecure, the
// credentials may come from the environment, and the password is never
// printed.
func TestVsphereConnect(t *testing.T) {
	e := newVsphereSim(t)
	const password = "s3cret-Pa55"
	u := *e.url
	u.User = url.UserPassword("admin", password)
	r := cbtctl(t, "vsphere", "changes", "--url", u.String(), "--vm", e.name, "--full")
	assert.Equal(t, exitError, r.code)
	assert.Contains(t, r.stderr, "certificate")
	assert.Contains(t, r.stderr, "--insecure")
	assert.NotContains(t, r.stdout+r.stderr, password)

	u.User = nil
	t.Setenv("GOVC_URL", u.String())
	t.Setenv("GOVC_USERNAME", "admin")
	t.Setenv("GOVC_PASSWORD", password)
	r = cbtctl(t, "vsphere", "changes", "--insecure", "--vm", e.name, "--snapshot", "nope", "--full")
	assert.Equal(t, exitError, r.code)
	assert.Contains(t, r.stderr, `snapshot "nope"`)
	assert.NotContains(t, r.stdout+r.stderr, password)
}

func TestVsphereUsage(t *testing.T) {
	e := newVsphereSim(t)
	t.Setenv("GOVC_URL", "")
	for _, args := range [][]string{
		{"vsphere", "changes", "--vm", e.name},
		{"vsphere", "changes", "--url", e.url.String()},
		e.args("--since", "qcow2:snapshot:x"),
		e.args("--since", "garbage"),
		e.args("--full", "--disk", "9999"),
		e.args("--full", "extra"),
		e.args(),
		e.args("--since", ""),
		e.args("--full", "--since", "vsphere:x"),
		e.args("--full", "--gap", "1.5M"),
	} {
		r := cbtctl(t, args...)
		requireUsageError(t, r, "cbtctl vsphere changes: ", "cbtctl help vsphere changes")
	}
	assert.Equal(t, 0, e.snapshotCount())
	r := cbtctl(t, "help", "vsphere", "changes")
	assert.Equal(t, exitOK, r.code)
	assert.Contains(t, r.stdout, "--snapshot")
}

// cancelOnSnapshot cancels a context when the simulator creates a snapshot:
// Ctrl-C while the snapshot task runs.
type cancelOnSnapshot struct{ cancel context.CancelFunc }

func (h *cancelOnSnapshot) Reference() types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: "TestHandler", Value: "cancel-on-snapshot"}
}

func (h *cancelOnSnapshot) PutObject(_ *simulator.Context, obj mo.Reference) {
	if _, ok := obj.(*simulator.VirtualMachineSnapshot); ok {
		h.cancel()
	}
}

func (h *cancelOnSnapshot) UpdateObject(*simulator.Context, mo.Reference, []types.PropertyChange) {}
func (h *cancelOnSnapshot) RemoveObject(*simulator.Context, types.ManagedObjectReference)         {}

// TestVsphereInterruptDuringSnapshot: Ctrl-C while the temporary snapshot
// is taken; the snapshot made all the same is removed.
func TestVsphereInterruptDuringSnapshot(t *testing.T) {
	e := newVsphereSim(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	h := &cancelOnSnapshot{cancel: cancel}
	e.reg.AddHandler(h)
	defer e.reg.RemoveHandler(h)
	var out bytes.Buffer
	r := cbtctlContext(t, ctx, &out, e.args("--full")...)
	assert.Equal(t, exitError, r.code, r.stderr)
	assert.Contains(t, r.stderr, "interrupted")
	assert.Empty(t, r.stdout)
	assert.Equal(t, 0, e.snapshotCount(), "the temporary snapshot is left")
}
