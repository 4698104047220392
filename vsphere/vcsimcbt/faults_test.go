package vcsimcbt

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/changedblocks/sdk/extent"
)

// Faults that arise where ESXi raises them (notes §3.5).
func TestNaturalFaults(t *testing.T) {
	withEnv(t, nil, func(e *env) {
		s0 := e.snapshot("untracked")
		s1, base := e.tracked()
		uuid, n, _ := parseChangeID(base)

		cases := []struct {
			name  string
			snap  *types.ManagedObjectReference
			key   int32
			off   int64
			id    string
			check func(*testing.T, error)
		}{
			{"noTrack: no tracking at the snapshot", &s0, diskKey, 0, Star,
				func(t *testing.T, err error) { requireFileFault(t, err, KeyNoTrack) }},
			{"changeId malformed", &s1, diskKey, 0, "not-a-change-id",
				func(t *testing.T, err error) { requireInvalidArgument(t, err, PropChangeID) }},
			{"changeId upper-case UUID", &s1, diskKey, 0, formatChangeID(upper(uuid), n),
				func(t *testing.T, err error) { requireInvalidArgument(t, err, PropChangeID) }},
			{"changeId later than the snapshot", &s1, diskKey, 0, formatChangeID(uuid, n+1),
				func(t *testing.T, err error) { requireInvalidArgument(t, err, PropChangeID) }},
			{"cannotGetChanges: before tracking started", &s1, diskKey, 0, formatChangeID(uuid, 0),
				func(t *testing.T, err error) { requireFileFault(t, err, KeyCannotGetChanges) }},
			{"cannotGetChanges: another UUID", &s1, diskKey, 0, formatChangeID(newUUID(), n),
				func(t *testing.T, err error) { requireFileFault(t, err, KeyCannotGetChanges) }},
			{"startOffset negative", &s1, diskKey, -1, base,
				func(t *testing.T, err error) { requireInvalidArgument(t, err, PropStartOffset) }},
			{"startOffset at capacity", &s1, diskKey, 10 * gib, base,
				func(t *testing.T, err error) { requireInvalidArgument(t, err, PropStartOffset) }},
			{"deviceKey unknown", &s1, 999, 0, base,
				func(t *testing.T, err error) { requireInvalidArgument(t, err, PropDeviceKey) }},
			{"snapshotId of nothing", &types.ManagedObjectReference{Type: "VirtualMachineSnapshot", Value: "snapshot-0"}, diskKey, 0, base,
				func(t *testing.T, err error) { requireInvalidArgument(t, err, PropSnapshotID) }},
			{"snapshotId nil on a powered-on VM", nil, diskKey, 0, base,
				func(t *testing.T, err error) { requireInvalidArgument(t, err, PropSnapshotID) }},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				_, err := e.query(c.snap, c.key, c.off, c.id)
				c.check(t, err)
			})
		}

		// A removed snapshot is no longer a snapshot of the VM.
		e.removeSnapshot(s1)
		_, err := e.query(&s1, diskKey, 0, base)
		requireInvalidArgument(t, err, PropSnapshotID)
	})
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'f' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// vcsim's own checks come first: a destroyed VM gives ManagedObjectNotFound,
// a session that is gone NotAuthenticated, and a new login works again.
func TestSimulatorFaults(t *testing.T) {
	withEnv(t, nil, func(e *env) {
		s, base := e.tracked()
		m := session.NewManager(e.c)
		require.NoError(t, m.Logout(e.ctx))
		_, err := e.query(&s, diskKey, 0, base)
		assert.IsType(t, types.NotAuthenticated{}, vimFault(t, err))
		assert.True(t, fault.Is(err, &types.NotAuthenticated{}))
		require.NoError(t, m.Login(e.ctx, url.UserPassword("user", "pass")))
		_, err = e.query(&s, diskKey, 0, base)
		require.NoError(t, err)

		e.powerOff()
		e.wait(e.vm.Destroy(e.ctx))
		_, err = e.query(&s, diskKey, 0, base)
		assert.IsType(t, types.ManagedObjectNotFound{}, vimFault(t, err))
	})
}

// Every fault can be injected for the Nth call; an injected fault has the
// shape of one off the wire, and the call is counted.
func TestInjectedFaults(t *testing.T) {
	withEnv(t, nil, func(e *env) {
		s, base := e.tracked()
		faults := []types.BaseMethodFault{
			FileFault(KeyNoTrack, "[LocalDS_0] x.vmdk", "no track"),
			FileFault(KeyNoEpoch, "", ""),
			FileFault(KeyCannotGetChanges, "", "ctk corrupt"),
			InvalidArgument(PropChangeID),
			InvalidArgument(PropStartOffset),
			InvalidArgument(PropDeviceKey),
			InvalidArgument(PropSnapshotID),
			NotFound(),
			NotAuthenticated(e.ref()),
			SystemError("injected"),
		}
		e.tr.ResetCalls()
		for i, f := range faults {
			e.tr.FailCall(2*i+1, f, "injected")
		}
		for _, f := range faults {
			_, err := e.query(&s, diskKey, 0, base)
			require.Error(t, err)
			assert.True(t, fault.Is(err, f), "want %T, got %v", f, err)
			assert.IsType(t, deref(f), vimFault(t, err))
			if _, ok := f.(*types.NotAuthenticated); ok {
				require.NoError(t, session.NewManager(e.c).Login(e.ctx, simulator.DefaultLogin),
					"the injected expiry logged the session out")
			}
			_, err = e.query(&s, diskKey, 0, base)
			require.NoError(t, err, "only the chosen call fails")
		}
		assert.Equal(t, 2*len(faults), e.tr.Calls())

		e.tr.FailNext(SystemError("next"), "next")
		_, err := e.query(&s, diskKey, 0, base)
		assert.IsType(t, types.SystemError{}, vimFault(t, err))
	})
}

// Session expiry in the middle of paging: the third call fails with
// NotAuthenticated; a loop that logs in again and resumes at its last offset
// gets everything, nothing missed or repeated.
func TestNotAuthenticatedMidPaging(t *testing.T) {
	withEnv(t, &Options{MaxExtents: 10}, func(e *env) {
		_, base := e.tracked()
		for i := range int64(45) {
			e.writeAll(extent.Extent{Offset: i * 128 * kib, Length: 1})
		}
		s := e.snapshot("s")
		capacity := e.capacity(&s)
		e.tr.ResetCalls()
		m := session.NewManager(e.c)
		e.tr.FailCall(3, NotAuthenticated(e.ref()), "session expired")

		var all []extent.Extent
		failures := 0
		for off := int64(0); off < capacity; {
			info, err := e.query(&s, diskKey, off, base)
			if fault.Is(err, &types.NotAuthenticated{}) {
				failures++
				require.NoError(t, m.Login(e.ctx, simulator.DefaultLogin))
				continue
			}
			require.NoError(t, err)
			for _, a := range info.ChangedArea {
				all = append(all, extent.Extent{Offset: a.Start, Length: a.Length})
			}
			off = info.StartOffset + info.Length
		}
		assert.Equal(t, 1, failures)
		require.Len(t, all, 45)
		assert.True(t, extent.IsNormalized(all))
		want, err := e.tr.MinimalCalls(e.ref(), diskKey, base, &s)
		require.NoError(t, err)
		assert.Equal(t, want+1, e.tr.Calls())
	})
}

func deref(f types.BaseMethodFault) any {
	switch f := f.(type) {
	case *types.FileFault:
		return *f
	case *types.InvalidArgument:
		return *f
	case *types.NotFound:
		return *f
	case *types.NotAuthenticated:
		return *f
	case *types.SystemError:
		return *f
	}
	return f
}

// RewriteCall bends an answer the way no ESXi does, to test a client's
// guards: here a window that does not advance.
func TestRewriteCall(t *testing.T) {
	withEnv(t, nil, func(e *env) {
		s, base := e.tracked()
		e.tr.ResetCalls()
		e.tr.RewriteCall(2, func(info types.DiskChangeInfo) types.DiskChangeInfo {
			info.Length = 0
			return info
		})
		e.tr.FailCall(3, SystemError("first"), "first")
		e.tr.FailCall(3, NotFound(), "second")
		info, err := e.query(&s, diskKey, 0, base)
		require.NoError(t, err)
		assert.Equal(t, DefaultWindow, info.Length)
		info, err = e.query(&s, diskKey, 2*gib, base)
		require.NoError(t, err)
		assert.Equal(t, types.DiskChangeInfo{StartOffset: 2 * gib, Length: 0}, info)
		_, err = e.query(&s, diskKey, 2*gib, base)
		assert.IsType(t, types.SystemError{}, vimFault(t, err), "the first rule for a call wins")
		_, err = e.query(&s, diskKey, 2*gib, base)
		require.NoError(t, err)
	})
}
