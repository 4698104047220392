package main

import (
	"bytes"
	"context"
	"net/url"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/vsphere"
	"github.com/changedblocks/sdk/vsphere/vcsimcbt"
)

// simEnv starts the simulator the program uses, for the test's lifetime.
func simEnv(t *testing.T) *env {
	t.Helper()
	e, err := startSimulator(t.Context())
	require.NoError(t, err)
	t.Cleanup(e.close)
	return e
}

type result struct {
	code           int
	stdout, stderr string
}

func runOn(t *testing.T, ctx context.Context, e *env, args ...string) result {
	t.Helper()
	cfg, code, ok := parseArgs(args, &bytes.Buffer{}, &bytes.Buffer{})
	require.True(t, ok, "exit %d", code)
	var out, errOut bytes.Buffer
	code = runWith(ctx, e, cfg, &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

// theVM is the VM the program picks by default.
func theVM(t *testing.T, e *env) types.ManagedObjectReference {
	t.Helper()
	vm, _, err := pickVM(t.Context(), e.c, "")
	require.NoError(t, err)
	return vm
}

func requireNoSnapshots(t *testing.T, e *env) {
	t.Helper()
	info, err := vsphere.ListDisks(t.Context(), e.c, theVM(t, e))
	require.NoError(t, err)
	require.False(t, info.HasSnapshots, "the program left a snapshot behind")
}

var storedRE = regexp.MustCompile(`change ID stored: (vsphere:[^\n]+)\n`)

// requireState checks that the state file holds, for the VM's disk 204,
// the last change ID the run printed, which is the disk's current one.
func requireState(t *testing.T, e *env, path, stdout string) {
	t.Helper()
	st, err := loadState(path)
	require.NoError(t, err)
	m := storedRE.FindAllStringSubmatch(stdout, -1)
	require.Len(t, m, 2, stdout)
	stored := st.changeID("DC0_C0_RP0_VM0", 204)
	require.Equal(t, m[1][1], stored)
	id, err := cbt.ParseChangeID(stored)
	require.NoError(t, err)
	raw, err := vsphere.ParseChangeID(id.Value())
	require.NoError(t, err)
	cur, err := e.tr.ChangeID(theVM(t, e), 204)
	require.NoError(t, err)
	require.Equal(t, cur, raw.Raw(), "the stored change ID is not the one of the last snapshot")
}

// TestRun runs the program as main does: a fresh simulator, a full backup
// then an incremental, both checked against the ground truth.
func TestRun(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.json")
	var out, errOut bytes.Buffer
	code := run(t.Context(), []string{"-state", state, "-seed", "7"}, &out, &errOut)
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
	s := out.String()
	assert.Contains(t, s, "takes effect at its next stun/unstun cycle")
	assert.Contains(t, s, "full, everything allocated")
	assert.Contains(t, s, "incremental since the stored change ID")
	assert.Equal(t, 2, bytes.Count(out.Bytes(), []byte("check: OK")), s)
	assert.Equal(t, 2, bytes.Count(out.Bytes(), []byte("removed\n")), s)
	assert.Empty(t, errOut.String())
	st, err := loadState(state)
	require.NoError(t, err)
	require.NotEmpty(t, st.changeID("DC0_C0_RP0_VM0", 204))

	// A second run starts another simulator: the stored change ID is of
	// another tracking generation, so the first backup is a full one.
	out.Reset()
	code = run(t.Context(), []string{"-state", state}, &out, &errOut)
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
	assert.Contains(t, out.String(), "full backup required: the stored change ID is no longer valid")
	assert.Equal(t, 2, bytes.Count(out.Bytes(), []byte("check: OK")), out.String())
}

// TestSecondRunIsIncremental runs the program twice on one simulator with
// one state file: the second run's first backup is an incremental since the
// change ID the first run stored.
func TestSecondRunIsIncremental(t *testing.T) {
	e := simEnv(t)
	state := filepath.Join(t.TempDir(), "state.json")
	r := runOn(t, t.Context(), e, "-state", state)
	require.Equal(t, exitOK, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	requireNoSnapshots(t, e)
	requireState(t, e, state, r.stdout)

	r = runOn(t, t.Context(), e, "-state", state, "-seed", "2")
	require.Equal(t, exitOK, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "change tracking: was on already")
	assert.NotContains(t, r.stdout, "full")
	assert.Equal(t, 2, bytes.Count([]byte(r.stdout), []byte("incremental since the stored change ID")), r.stdout)
	assert.Equal(t, 2, bytes.Count([]byte(r.stdout), []byte("check: OK")), r.stdout)
	requireNoSnapshots(t, e)
	requireState(t, e, state, r.stdout)
}

// TestErrorRemovesSnapshot: a listing that fails ends the run with status 1,
// keeps the state file as it was, and leaves no snapshot.
func TestErrorRemovesSnapshot(t *testing.T) {
	e := simEnv(t)
	state := filepath.Join(t.TempDir(), "state.json")
	e.tr.ResetCalls()
	e.tr.FailCall(1, vcsimcbt.InvalidArgument(vcsimcbt.PropStartOffset), "injected")
	r := runOn(t, t.Context(), e, "-state", state)
	require.Equal(t, exitError, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "removed\n")
	assert.Contains(t, r.stderr, "backup 1")
	requireNoSnapshots(t, e)
	assert.NoFileExists(t, state)
}

// TestInterruptRemovesSnapshot: Ctrl-C (the context cancelled) in the
// middle of a listing still removes the snapshot.
func TestInterruptRemovesSnapshot(t *testing.T) {
	e := simEnv(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	e.tr.ResetCalls()
	e.tr.RewriteCall(1, func(a types.DiskChangeInfo) types.DiskChangeInfo {
		cancel()
		return a
	})
	r := runOn(t, ctx, e, "-state", filepath.Join(t.TempDir(), "state.json"))
	require.Equal(t, exitError, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stderr, "interrupted")
	assert.Contains(t, r.stdout, "removed\n")
	requireNoSnapshots(t, e)
}

// TestURL runs the real-server path against the simulator over loopback,
// without vcsimcbt on the program's client: the certificate is checked
// unless -insecure, the credentials come from the environment and are never
// printed, and the run fails (vcsim has no change tracking of its own)
// without leaving a snapshot.
func TestURL(t *testing.T) {
	e := simEnv(t)
	const password = "s3cret-Pa55"
	bare := *e.url
	bare.User = nil
	withUser := bare
	withUser.User = url.UserPassword("admin", password)

	var out, errOut bytes.Buffer
	code := run(t.Context(), []string{"-url", withUser.String()}, &out, &errOut)
	require.Equal(t, exitError, code)
	assert.Contains(t, errOut.String(), "certificate")
	assert.NotContains(t, out.String()+errOut.String(), password)

	t.Setenv("GOVC_USERNAME", "admin")
	t.Setenv("GOVC_PASSWORD", password)
	out.Reset()
	errOut.Reset()
	code = run(t.Context(), []string{"-url", bare.String(), "-insecure", "-state", filepath.Join(t.TempDir(), "s.json")}, &out, &errOut)
	require.Equal(t, exitError, code, "stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
	assert.Contains(t, out.String(), "backup 1: snapshot")
	assert.Contains(t, out.String(), "removed\n")
	assert.NotContains(t, out.String()+errOut.String(), password)
	requireNoSnapshots(t, e)
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{"-bogus"}, {"extra"}, {"-insecure"}, {"-writes", "-1"}} {
		var out, errOut bytes.Buffer
		assert.Equal(t, exitUsage, run(t.Context(), args, &out, &errOut), "%q", args)
	}
	var out bytes.Buffer
	assert.Equal(t, exitOK, run(t.Context(), []string{"-h"}, &out, &out))
	assert.Contains(t, out.String(), "-url")
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

// TestInterruptDuringSnapshot: Ctrl-C while the snapshot task runs; the
// snapshot that was made all the same is removed.
func TestInterruptDuringSnapshot(t *testing.T) {
	e := simEnv(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	h := &cancelOnSnapshot{cancel: cancel}
	e.reg.AddHandler(h)
	defer e.reg.RemoveHandler(h)
	r := runOn(t, ctx, e, "-state", filepath.Join(t.TempDir(), "state.json"))
	require.Equal(t, exitError, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stderr, "backup 1: snapshot")
	requireNoSnapshots(t, e)
}
