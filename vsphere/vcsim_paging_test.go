package vsphere_test

import (
	"context"
	"errors"
	"io"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/vsphere"
	"github.com/changedblocks/sdk/vsphere/vcsimcbt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// minimal is how many calls a correct paging loop makes for the listing.
func (e *env) minimal(s *vsphere.Snapshot, key int32, base cbt.ChangeID) int {
	e.t.Helper()
	raw := "*"
	if !base.IsZero() {
		id, err := vsphere.ParseChangeID(base.Value())
		require.NoError(e.t, err)
		raw = id.Raw()
	}
	n, err := e.tr.MinimalCalls(s.VM, key, raw, &s.Ref)
	require.NoError(e.t, err)
	return n
}

// listCounted lists and returns the extents and the calls the Tracker got.
func (e *env) listCounted(d *cbt.Disk, base cbt.ChangeID, o *cbt.ChangesOptions) ([]extent.Extent, int, error) {
	before := e.tr.Calls()
	got, err := cbt.Collect(d.Changes(e.ctx, base, o))
	return got, e.tr.Calls() - before, err
}

func TestVcsimPagingEdges(t *testing.T) {
	const mib = int64(1) << 20
	for _, c := range []struct {
		name     string
		opts     vcsimcbt.Options
		capacity int64
		writes   func(i int64) (off, n int64, ok bool)
	}{
		{"empty middle windows", vcsimcbt.Options{Window: mib, BlockSize: 4096}, 8 * mib, func(i int64) (int64, int64, bool) {
			return [...]int64{0, 7 * mib}[min(i, 1)], 10, i < 2
		}},
		{"2000-extent answers", vcsimcbt.Options{BlockSize: 4096}, 64 * mib, func(i int64) (int64, int64, bool) {
			return i * 8192, 512, i < 7001 // every other block: 7001 extents in one window
		}},
		{"many windows", vcsimcbt.Options{Window: 64 << 10, BlockSize: 4096}, 16*mib + 4096, func(i int64) (int64, int64, bool) {
			return i * 300000, 4096, i*300000+4096 <= 16*mib+4096
		}},
		{"whole disk written", vcsimcbt.Options{Window: mib, MaxExtents: 1, BlockSize: 4096}, 3 * mib, func(i int64) (int64, int64, bool) {
			return 0, 3 * mib, i == 0
		}},
		{"nothing written", vcsimcbt.Options{Window: mib, BlockSize: 4096}, 5 * mib, func(int64) (int64, int64, bool) { return 0, 0, false }},
	} {
		t.Run(c.name, func(t *testing.T) {
			withVcsim(t, &c.opts, func(e *env) {
				vm, keys := e.newVM(vmSpec{capacity: c.capacity})
				key := keys[0]
				e.enable(vm)
				s0 := e.snapshot(vm)
				for i := int64(0); ; i++ {
					off, n, ok := c.writes(i)
					if !ok {
						break
					}
					e.write(vm, key, off, n)
				}
				s1 := e.snapshot(vm)
				d := e.open(s1, key, nil)
				var sizes []int
				var mu sync.Mutex
				e.c.RoundTripper = &mangler{next: e.c.RoundTripper, f: func(_ int, info *types.DiskChangeInfo) {
					mu.Lock()
					sizes = append(sizes, len(info.ChangedArea))
					mu.Unlock()
				}}
				for _, base := range []cbt.ChangeID{{}, changeID(t, s0, key)} {
					got, calls, err := e.listCounted(d, base, nil)
					require.NoError(t, err)
					requireCovers(t, got, e.truth(s1, key, base))
					assert.Equal(t, e.minimal(s1, key, base), calls, "exactly the minimal number of calls")
				}

				if c.name == "2000-extent answers" {
					assert.Equal(t, []int{2000, 2000, 2000, 1001, 2000, 2000, 2000, 1001}, sizes, "full answers are followed, not taken for the end")
				}

				// Offset equal to the capacity: nothing to ask.
				got, calls, err := e.listCounted(d, cbt.ChangeID{}, &cbt.ChangesOptions{StartOffset: c.capacity})
				require.NoError(t, err)
				assert.Empty(t, got)
				assert.Zero(t, calls)
			})
		})
	}
}

// mangler rewrites the answers of QueryChangedDiskAreas after the Tracker,
// or fails calls before they reach it (fail, when set).
type mangler struct {
	next soap.RoundTripper
	mu   sync.Mutex
	n    int
	f    func(n int, info *types.DiskChangeInfo)
	fail func(n int) error
}

func (m *mangler) RoundTrip(ctx context.Context, req, res soap.HasFault) error {
	b, ok := res.(*methods.QueryChangedDiskAreasBody)
	if !ok {
		return m.next.RoundTrip(ctx, req, res)
	}
	m.mu.Lock()
	m.n++
	n := m.n
	m.mu.Unlock()
	if m.fail != nil {
		if err := m.fail(n); err != nil {
			return err
		}
	}
	if err := m.next.RoundTrip(ctx, req, res); err != nil {
		return err
	}
	if m.f != nil && b.Res != nil {
		m.f(n, &b.Res.Returnval)
	}
	return nil
}

// Transport errors (a connection reset, a body cut short) are retried at the
// same offset.
func TestVcsimTransportErrors(t *testing.T) {
	withVcsim(t, &vcsimcbt.Options{Window: 1 << 20, BlockSize: 4096}, func(e *env) {
		vm, keys := e.newVM(vmSpec{capacity: 4 << 20})
		e.enable(vm)
		for i := range int64(4) {
			e.write(vm, keys[0], i<<20+7, 10)
		}
		s := e.snapshot(vm)
		d := e.open(s, keys[0], &vsphere.Options{Backoff: time.Millisecond, Retries: 2})
		want, calls, err := e.listCounted(d, cbt.ChangeID{}, nil)
		require.NoError(t, err)
		require.Len(t, want, 4)
		e.c.RoundTripper = &mangler{next: e.c.RoundTripper, fail: func(n int) error {
			switch n {
			case 2, 3:
				return io.ErrUnexpectedEOF
			case 4 + 2:
				return errors.New(`Post "https://vc/sdk": read: connection reset by peer`)
			}
			return nil
		}}
		got, calls2, err := e.listCounted(d, cbt.ChangeID{}, nil)
		require.NoError(t, err)
		assert.Equal(t, want, got)
		assert.Equal(t, calls, calls2, "failed calls never reached the server")

		e.c.RoundTripper = &mangler{next: e.c.RoundTripper, fail: func(int) error { return io.ErrUnexpectedEOF }}
		_, _, err = e.listCounted(d, cbt.ChangeID{}, nil)
		assert.ErrorIs(t, err, cbt.ErrBusy)
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
		assert.ErrorContains(t, err, "after 2 retries")
	})
}

func TestVcsimWindowNotAdvancing(t *testing.T) {
	withVcsim(t, &vcsimcbt.Options{Window: 1 << 20, BlockSize: 4096}, func(e *env) {
		vm, keys := e.newVM(vmSpec{capacity: 4 << 20})
		e.enable(vm)
		e.write(vm, keys[0], 0, 4096)
		e.write(vm, keys[0], 3<<20, 4096)
		s := e.snapshot(vm)
		e.c.RoundTripper = &mangler{next: e.c.RoundTripper, f: func(n int, info *types.DiskChangeInfo) {
			if n == 2 {
				info.Length = 0
			}
		}}
		got, calls, err := e.listCounted(e.open(s, keys[0], nil), cbt.ChangeID{}, nil)
		assert.ErrorIs(t, err, cbt.ErrCorrupt)
		assert.ErrorContains(t, err, "does not advance")
		assert.Equal(t, 2, calls)
		assert.Empty(t, got, "the first extent is held until its end is known")
	})
}

func TestVcsimFaults(t *testing.T) {
	const mib = int64(1) << 20
	vmRef := types.ManagedObjectReference{Type: "VirtualMachine", Value: "vm-1"}
	cases := []struct {
		name  string
		fault types.BaseMethodFault
		want  error
		calls int // of the listing, the failing one included
	}{
		{"noTrack", vcsimcbt.FileFault(vcsimcbt.KeyNoTrack, "[ds] d.vmdk", "off"), cbt.ErrNotEnabled, 2},
		{"noEpoch", vcsimcbt.FileFault(vcsimcbt.KeyNoEpoch, "[ds] d.vmdk", "no epoch"), cbt.ErrChangeIDInvalid, 2},
		{"cannotGetChanges", vcsimcbt.FileFault(vcsimcbt.KeyCannotGetChanges, "[ds] d.vmdk", "mismatch"), cbt.ErrChangeIDInvalid, 2},
		{"InvalidArgument changeId", vcsimcbt.InvalidArgument(vcsimcbt.PropChangeID), cbt.ErrChangeIDInvalid, 2},
		{"InvalidArgument startOffset", vcsimcbt.InvalidArgument(vcsimcbt.PropStartOffset), cbt.ErrInvalidArgument, 2},
		{"InvalidArgument deviceKey", vcsimcbt.InvalidArgument(vcsimcbt.PropDeviceKey), cbt.ErrNotFound, 2},
		{"InvalidArgument snapshotId", vcsimcbt.InvalidArgument(vcsimcbt.PropSnapshotID), cbt.ErrNotFound, 2},
		{"NotFound", vcsimcbt.NotFound(), cbt.ErrNotFound, 2},
		{"NotAuthenticated without a hook", vcsimcbt.NotAuthenticated(vmRef), cbt.ErrInvalidArgument, 2},
		{"SystemError: retried", vcsimcbt.SystemError("hostd restarting"), nil, 5},
		{"other FileFault: retried", vcsimcbt.FileFault("vim.fault.FileLocked", "[ds] d.vmdk", "locked"), nil, 5},
	}
	withVcsim(t, &vcsimcbt.Options{Window: mib, BlockSize: 4096}, func(shared *env) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				e := *shared
				e.t = t
				vm, keys := e.newVM(vmSpec{capacity: 4 * mib})
				key := keys[0]
				e.enable(vm)
				s0 := e.snapshot(vm)
				e.write(vm, key, 0, 10)
				e.write(vm, key, 100000, 10)
				e.write(vm, key, 3*mib, 10)
				s1 := e.snapshot(vm)
				d := e.open(s1, key, &vsphere.Options{Backoff: time.Millisecond})
				base := changeID(t, s0, key)
				e.tr.FailCall(e.tr.Calls()+2, c.fault, "injected")
				got, calls, err := e.listCounted(d, base, nil)
				if _, ok := c.fault.(*types.NotAuthenticated); ok {
					// The Tracker logs the session out with the fault: log in again.
					require.NoError(t, session.NewManager(e.c).Login(e.ctx, url.UserPassword("user", "pass")))
				}
				assert.Equal(t, c.calls, calls)
				if c.want == nil {
					require.NoError(t, err)
					requireCovers(t, got, e.truth(s1, key, base))
					return
				}
				assert.ErrorIs(t, err, c.want)
				var fe *vsphere.FaultError
				require.ErrorAs(t, err, &fe)
				assert.IsType(t, c.fault, fe.Fault)
				assert.Equal(t, "QueryChangedDiskAreas", fe.Method)
				assert.Equal(t, []extent.Extent{{Offset: 0, Length: 4096}}, got, "extents before the fault stand")
			})
		}
	})
}

// Faults the model raises by itself, not injected.
func TestVcsimNaturalFaults(t *testing.T) {
	withVcsim(t, &vcsimcbt.Options{Window: 1 << 20, BlockSize: 4096}, func(e *env) {
		// Tracking enabled while the VM had a snapshot: "*" has no epoch.
		vm, keys := e.newVM(vmSpec{capacity: 2 << 20})
		key := keys[0]
		e.snapshot(vm)
		e.enable(vm)
		e.write(vm, key, 0, 1)
		s1 := e.snapshot(vm)
		e.write(vm, key, 1<<20, 1)
		s2 := e.snapshot(vm)
		d1, d2 := e.open(s1, key, nil), e.open(s2, key, nil)
		_, err := cbt.Collect(d2.Changes(e.ctx, cbt.ChangeID{}, nil))
		assert.ErrorIs(t, err, cbt.ErrChangeIDInvalid, "noEpoch: take a full backup")
		// Incrementals work.
		got, err := cbt.Collect(d2.Changes(e.ctx, changeID(t, s1, key), nil))
		require.NoError(t, err)
		requireCovers(t, got, []extent.Extent{{Offset: 1 << 20, Length: 1}})
		// A base later than the disk's point (the server would answer
		// InvalidArgument changeId): a listing backwards, refused before any
		// query as the caller's mistake, not as a reason for a full backup.
		calls := e.tr.Calls()
		_, err = cbt.Collect(d1.Changes(e.ctx, changeID(t, s2, key), nil))
		assert.ErrorIs(t, err, cbt.ErrInvalidArgument)
		assert.NotErrorIs(t, err, cbt.ErrChangeIDInvalid)
		assert.Equal(t, calls, e.tr.Calls(), "refused before any query")

		// Tracking switched off: the next snapshot carries no change ID.
		off := false
		task, err := e.vmObj(vm).Reconfigure(e.ctx, types.VirtualMachineConfigSpec{ChangeTrackingEnabled: &off})
		require.NoError(t, err)
		require.NoError(t, task.Wait(e.ctx))
		s3 := e.snapshot(vm)
		_, err = vsphere.OpenDisk(e.ctx, e.c, s3.Ref, key, nil)
		assert.ErrorIs(t, err, cbt.ErrNotEnabled)
	})
}

// A reset (new tracking generation) and a resize are refused before any
// query.
func TestVcsimResetAndResize(t *testing.T) {
	withVcsim(t, &vcsimcbt.Options{Window: 1 << 20, BlockSize: 4096}, func(e *env) {
		vm, keys := e.newVM(vmSpec{capacity: 2 << 20})
		key := keys[0]
		e.enable(vm)
		s1 := e.snapshot(vm)
		_, err := e.tr.Reset(vm, key)
		require.NoError(t, err)
		e.write(vm, key, 0, 1)
		s2 := e.snapshot(vm)
		_, calls, err := e.listCounted(e.open(s2, key, nil), changeID(t, s1, key), nil)
		assert.ErrorIs(t, err, cbt.ErrChangeIDInvalid)
		assert.Zero(t, calls)

		// Without this package's check, the server answers a base of another
		// generation with FileFault cannotGetChanges, which maps the same.
		_, err = methods.QueryChangedDiskAreas(e.ctx, e.c, &types.QueryChangedDiskAreas{
			This: vm, Snapshot: &s2.Ref, DeviceKey: key, ChangeId: mustDisk(t, s1, key).ChangeID.Raw()})
		require.True(t, soap.IsSoapFault(err), "%v", err)
		ff, ok := soap.ToSoapFault(err).VimFault().(types.FileFault)
		require.True(t, ok, "%T", soap.ToSoapFault(err).VimFault())
		assert.Equal(t, vsphere.KeyCannotGetChanges, ff.FaultMessage[0].Key)

		// Resize: the guarded change ID of before is refused.
		e.resize(vm, key, 4<<20)
		e.write(vm, key, 3<<20, 1)
		s3 := e.snapshot(vm)
		d3 := e.open(s3, key, nil)
		assert.Equal(t, int64(4<<20), d3.Capacity())
		_, calls, err = e.listCounted(d3, changeID(t, s2, key), nil)
		assert.ErrorIs(t, err, cbt.ErrChangeIDInvalid)
		assert.ErrorContains(t, err, "resized")
		assert.Zero(t, calls)
		// A plain changeId (no guard) is asked; the model reports the grown area.
		plain, err := vsphere.NewChangeID(mustDisk(t, s2, key).ChangeID.Raw(), 0)
		require.NoError(t, err)
		got, _, err := e.listCounted(d3, plain, nil)
		require.NoError(t, err)
		requireCovers(t, got, []extent.Extent{{Offset: 2 << 20, Length: 2 << 20}})
	})
}

// The session expires in the middle of paging (a real logout in vcsim): the
// Relogin hook logs in again and the listing completes, nothing missed or
// repeated.
func TestVcsimSessionExpiry(t *testing.T) {
	withVcsim(t, &vcsimcbt.Options{Window: 1 << 20, MaxExtents: 2, BlockSize: 4096}, func(e *env) {
		vm, keys := e.newVM(vmSpec{capacity: 8 << 20})
		key := keys[0]
		e.enable(vm)
		for i := range int64(40) {
			e.write(vm, key, i*200000, 1000)
		}
		s := e.snapshot(vm)
		logins := 0
		d := e.open(s, key, &vsphere.Options{Relogin: func(ctx context.Context) error {
			logins++
			m := session.NewManager(e.c)
			_ = m.Logout(ctx) // an injected fault leaves the session valid
			return m.Login(ctx, url.UserPassword("user", "pass"))
		}})
		want, calls, err := e.listCounted(d, cbt.ChangeID{}, nil)
		require.NoError(t, err)
		requireCovers(t, want, e.truth(s, key, cbt.ChangeID{}))

		pages := 0
		o := &cbt.ChangesOptions{Progress: func(cbt.Progress) {
			pages++
			if pages == 3 || pages == 11 {
				require.NoError(t, session.NewManager(e.c).Logout(e.ctx))
			}
		}}
		got, calls2, err := e.listCounted(d, cbt.ChangeID{}, o)
		require.NoError(t, err)
		assert.Equal(t, want, got, "nothing missed or repeated")
		assert.Equal(t, 2, logins)
		assert.Equal(t, calls+2, calls2, "only the two calls that found the session gone are repeated")

		// Injected NotAuthenticated as well.
		e.tr.FailCall(e.tr.Calls()+4, vcsimcbt.NotAuthenticated(vm), "expired")
		got, _, err = e.listCounted(d, cbt.ChangeID{}, nil)
		require.NoError(t, err)
		assert.Equal(t, want, got)
		assert.Equal(t, 3, logins)
	})
}

func mustDisk(t testing.TB, s *vsphere.Snapshot, key int32) vsphere.DiskInfo {
	d, ok := s.Disk(key)
	require.True(t, ok)
	return d
}
