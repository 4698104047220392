package vsphere

import (
	"context"
	"errors"
	"github.com/changedblocks/sdk/cbt/cbttest"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/extent"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmware/govmomi/vim25/types"
)

// fakeESXi answers QueryChangedDiskAreas for one disk like ESXi's documented
// behaviour: windows of at most window bytes from startOffset, at most max
// areas per answer (the answer then stops at the end of the last one), empty
// windows answered with an empty ChangedArea. Faults can be queued per call.
type fakeESXi struct {
	capacity int64
	window   int64
	max      int
	changed  []extent.Extent // normalised

	mu      sync.Mutex
	calls   []int64                                      // offsets asked
	since   []string                                     // changeIds asked
	faults  map[int]error                                // call number (1-based) → error
	answers map[int]func(off int64) types.DiskChangeInfo // call number → canned answer
}

func (f *fakeESXi) query(ctx context.Context, off int64, changeID string) (*types.DiskChangeInfo, error) {
	f.mu.Lock()
	f.calls = append(f.calls, off)
	f.since = append(f.since, changeID)
	n := len(f.calls)
	err, ans := f.faults[n], f.answers[n]
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if ans != nil {
		a := ans(off)
		return &a, nil
	}
	end := min(off+f.window, f.capacity)
	info := types.DiskChangeInfo{StartOffset: off, Length: end - off}
	for _, e := range f.changed {
		c, ok := extent.ClipTo(e, off, end)
		if !ok {
			continue
		}
		if len(info.ChangedArea) == f.max {
			info.Length = info.ChangedArea[f.max-1].Start + info.ChangedArea[f.max-1].Length - off
			break
		}
		info.ChangedArea = append(info.ChangedArea, types.DiskChangeExtent{Start: c.Offset, Length: c.Length})
	}
	return &info, nil
}

func (f *fakeESXi) offsets() []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int64(nil), f.calls...)
}

// fakeDisk opens a pager over f with the disk's own change ID realID1.
func fakeDisk(t *testing.T, f *fakeESXi, opts *Options) *cbt.Disk {
	t.Helper()
	own, err := ParseChangeID(realID1)
	require.NoError(t, err)
	own.capacity = f.capacity
	if opts == nil {
		opts = &Options{Backoff: time.Millisecond}
	}
	d, err := cbt.NewDisk(&pager{name: "vm-1/snapshot-2/disk-204", method: "QueryChangedDiskAreas",
		capacity: f.capacity, own: own, query: f.query, call: newCaller(opts)})
	require.NoError(t, err)
	t.Cleanup(func() { d.Close() })
	return d
}

// base is a change ID of the disk's tracking generation, at an earlier epoch.
func base(t *testing.T, capacity int64) cbt.ChangeID {
	id, err := NewChangeID(realID1[:len(realID1)-1]+"3", capacity)
	require.NoError(t, err)
	return id
}

func list(t *testing.T, d *cbt.Disk, since cbt.ChangeID) ([]extent.Extent, error) {
	return cbt.Collect(d.Changes(t.Context(), since, nil))
}

func TestPagingWindows(t *testing.T) {
	const gib = int64(1) << 30
	for _, c := range []struct {
		name      string
		capacity  int64
		window    int64
		max       int
		changed   []extent.Extent
		wantCalls int
	}{
		{"nothing changed: one call per window", 10 * gib, 2 * gib, 2000, nil, 5},
		{"empty middle windows", 10 * gib, 2 * gib, 2000,
			[]extent.Extent{{Offset: 4096, Length: 4096}, {Offset: 9*gib + 512, Length: 1024}}, 5},
		{"capacity not a multiple of the window", 5*gib + 4096, 2 * gib, 2000,
			[]extent.Extent{{Offset: 5 * gib, Length: 4096}}, 3},
		{"an extent straddling a window boundary", 4 * gib, 2 * gib, 2000,
			[]extent.Extent{{Offset: 2*gib - 100, Length: 200}}, 2},
		{"whole disk in one extent", 3 * gib, 2 * gib, 2000, []extent.Extent{{Offset: 0, Length: 3 * gib}}, 2},
		{"one window covers the disk", 1 << 20, 2 * gib, 2000, []extent.Extent{{Offset: 0, Length: 1}}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeESXi{capacity: c.capacity, window: c.window, max: c.max, changed: c.changed}
			d := fakeDisk(t, f, nil)
			got, err := list(t, d, base(t, c.capacity))
			require.NoError(t, err)
			assert.Equal(t, extent.Normalize(append([]extent.Extent(nil), c.changed...)), extent.Normalize(got))
			assert.Len(t, f.offsets(), c.wantCalls)
			assert.Equal(t, realID1[:len(realID1)-1]+"3", f.since[0], "the raw changeId goes to the server, without the guard")
		})
	}
}

// 2000-extent answers: a listing of 10,001 extents in one window must take
// every page, not stop after the first full one.
func TestPaging2000Extents(t *testing.T) {
	var changed []extent.Extent
	for i := range int64(10001) {
		changed = append(changed, extent.Extent{Offset: i * 8192, Length: 4096})
	}
	f := &fakeESXi{capacity: 1 << 30, window: 2 << 30, max: 2000, changed: changed}
	d := fakeDisk(t, f, nil)
	got, err := list(t, d, base(t, 1<<30))
	require.NoError(t, err)
	assert.Equal(t, changed, got)
	assert.Len(t, f.offsets(), 6) // 5 full answers of 2000, then the last extent and the rest of the disk
	assert.Equal(t, int64(2000*8192-4096), f.offsets()[1], "the next call starts at StartOffset+Length")
}

func TestPagingRandomized(t *testing.T) {
	for seed := range uint64(50) {
		rng := rand.New(rand.NewPCG(seed, 1))
		capacity := 1 + rng.Int64N(1<<24)
		var changed []extent.Extent
		for range rng.IntN(200) {
			off := rng.Int64N(capacity)
			changed = append(changed, extent.Extent{Offset: off, Length: 1 + rng.Int64N(min(capacity-off, 1<<16))})
		}
		changed = extent.Normalize(changed)
		f := &fakeESXi{capacity: capacity, window: 1 + rng.Int64N(capacity), max: 1 + rng.IntN(5), changed: changed}
		got, err := list(t, fakeDisk(t, f, nil), cbt.ChangeID{})
		require.NoError(t, err, "seed %d", seed)
		require.Equal(t, changed, got, "seed %d", seed)
		for _, s := range f.since {
			require.Equal(t, "*", s)
		}
	}
}

func TestPagingOffsetAtCapacity(t *testing.T) {
	f := &fakeESXi{capacity: 1 << 20, window: 1 << 30, max: 2000, changed: []extent.Extent{{Offset: 0, Length: 1 << 20}}}
	d := fakeDisk(t, f, nil)
	got, err := cbt.Collect(d.Changes(t.Context(), cbt.ChangeID{}, &cbt.ChangesOptions{StartOffset: 1 << 20}))
	require.NoError(t, err)
	assert.Empty(t, got)
	assert.Empty(t, f.offsets(), "nothing to ask at the capacity")

	// Resumed in the middle: the first call starts there.
	got, err = cbt.Collect(d.Changes(t.Context(), cbt.ChangeID{}, &cbt.ChangesOptions{StartOffset: 1000}))
	require.NoError(t, err)
	assert.Equal(t, []extent.Extent{{Offset: 1000, Length: 1<<20 - 1000}}, got)
	assert.Equal(t, []int64{1000}, f.offsets())
}

func TestPagingMalformedAnswers(t *testing.T) {
	const capacity = 1 << 20
	for _, c := range []struct {
		name string
		ans  func(off int64) types.DiskChangeInfo
		want error
	}{
		{"no advance: Length 0", func(off int64) types.DiskChangeInfo { return types.DiskChangeInfo{StartOffset: off} }, cbt.ErrCorrupt},
		{"no advance: window ends at the offset", func(off int64) types.DiskChangeInfo {
			return types.DiskChangeInfo{StartOffset: off - 10, Length: 10}
		}, cbt.ErrCorrupt},
		{"negative length", func(off int64) types.DiskChangeInfo { return types.DiskChangeInfo{StartOffset: off, Length: -1} }, cbt.ErrCorrupt},
		{"window starts after the offset (a hole)", func(off int64) types.DiskChangeInfo {
			return types.DiskChangeInfo{StartOffset: off + 4096, Length: 4096}
		}, cbt.ErrCorrupt},
		{"negative area", func(off int64) types.DiskChangeInfo {
			return types.DiskChangeInfo{StartOffset: off, Length: 4096, ChangedArea: []types.DiskChangeExtent{{Start: off, Length: -5}}}
		}, cbt.ErrCorrupt},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeESXi{capacity: capacity, window: 4096, max: 10, answers: map[int]func(int64) types.DiskChangeInfo{2: c.ans}}
			got, err := list(t, fakeDisk(t, f, nil), cbt.ChangeID{})
			assert.ErrorIs(t, err, c.want)
			assert.Empty(t, got)
			assert.Len(t, f.offsets(), 2, "no retry of a malformed answer")
		})
	}
}

func TestPagingTolerantAnswers(t *testing.T) {
	const capacity = 1 << 20
	// A window reaching beyond the capacity, areas beyond it, unsorted and
	// overlapping areas, areas before the offset asked, zero-length areas,
	// and a window starting before the offset asked.
	answers := map[int]func(int64) types.DiskChangeInfo{
		1: func(off int64) types.DiskChangeInfo {
			return types.DiskChangeInfo{StartOffset: off, Length: 1 << 19, ChangedArea: []types.DiskChangeExtent{
				{Start: 8192, Length: 4096}, {Start: 0, Length: 4096}, {Start: 2048, Length: 4096}, {Start: 100, Length: 0},
				{Start: 1<<19 - 10, Length: 20}, // straddles the window's end: kept whole
				{Start: 1 << 19, Length: 10},    // beyond the window: left to the next one
			}}
		},
		2: func(off int64) types.DiskChangeInfo {
			return types.DiskChangeInfo{StartOffset: off - 4096, Length: 4096 + 1<<30, ChangedArea: []types.DiskChangeExtent{
				{Start: 0, Length: 100}, {Start: off, Length: 10}, {Start: capacity - 1, Length: 1 << 20},
			}}
		},
	}
	f := &fakeESXi{capacity: capacity, window: 1 << 30, max: 2000, answers: answers}
	got, err := list(t, fakeDisk(t, f, nil), cbt.ChangeID{})
	require.NoError(t, err)
	assert.Equal(t, []extent.Extent{{Offset: 0, Length: 6144}, {Offset: 8192, Length: 4096}, {Offset: 1<<19 - 10, Length: 20}, {Offset: capacity - 1, Length: 1}}, got)
	assert.Equal(t, []int64{0, 1 << 19}, f.offsets())
}

func TestPagingBaseChecks(t *testing.T) {
	const capacity = 1 << 20
	f := &fakeESXi{capacity: capacity, window: 1 << 30, max: 2000}
	d := fakeDisk(t, f, nil)
	other, err := NewChangeID(realID2, capacity)
	require.NoError(t, err)
	resized := base(t, capacity/2)
	malformed, err := cbt.NewChangeID(Scheme, "52 05/1")
	require.NoError(t, err)
	for _, c := range []struct {
		since cbt.ChangeID
		want  error
	}{{other, cbt.ErrChangeIDInvalid}, {resized, cbt.ErrChangeIDInvalid}, {malformed, cbt.ErrInvalidArgument}} {
		_, err := list(t, d, c.since)
		assert.ErrorIs(t, err, c.want, "%s", c.since)
	}
	assert.Empty(t, f.offsets(), "refused before any query")

	// A plain changeId (no capacity guard) of the same generation is asked.
	plain, err := NewChangeID(realID1, 0)
	require.NoError(t, err)
	_, err = list(t, d, plain)
	require.NoError(t, err)
	assert.Equal(t, []string{realID1}, f.since)
	assert.Equal(t, realID1+"#1048576", cbttest.MustChangeID(t, d).Value())
}

func TestPagingFaults(t *testing.T) {
	const capacity = 4 << 20
	for _, c := range []struct {
		name  string
		fault types.BaseMethodFault
		want  error
		calls int
	}{
		{"noTrack", fileFault(KeyNoTrack), cbt.ErrNotEnabled, 2},
		{"noEpoch", fileFault(KeyNoEpoch), cbt.ErrChangeIDInvalid, 2},
		{"cannotGetChanges", fileFault(KeyCannotGetChanges), cbt.ErrChangeIDInvalid, 2},
		{"InvalidArgument changeId", &types.InvalidArgument{InvalidProperty: "changeId"}, cbt.ErrChangeIDInvalid, 2},
		{"InvalidArgument startOffset", &types.InvalidArgument{InvalidProperty: "startOffset"}, cbt.ErrInvalidArgument, 2},
		{"InvalidArgument deviceKey", &types.InvalidArgument{InvalidProperty: "deviceKey"}, cbt.ErrNotFound, 2},
		{"InvalidArgument snapshotId", &types.InvalidArgument{InvalidProperty: "snapshotId"}, cbt.ErrNotFound, 2},
		{"NotFound", &types.NotFound{}, cbt.ErrNotFound, 2},
		{"NotAuthenticated without a Relogin hook", &types.NotAuthenticated{}, cbt.ErrInvalidArgument, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeESXi{capacity: capacity, window: 1 << 20, max: 2000,
				changed: []extent.Extent{{Offset: 0, Length: 4096}, {Offset: 8192, Length: 4096}, {Offset: 2 << 20, Length: 1}},
				faults:  map[int]error{2: soapFault(c.fault, true)}}
			got, err := list(t, fakeDisk(t, f, nil), base(t, capacity))
			assert.ErrorIs(t, err, c.want)
			var fe *FaultError
			require.ErrorAs(t, err, &fe)
			assert.IsType(t, c.fault, fe.Fault)
			assert.Len(t, f.offsets(), c.calls)
			assert.Equal(t, []extent.Extent{{Offset: 0, Length: 4096}}, got, "what came before the fault stands")
		})
	}
}

func TestPagingRetries(t *testing.T) {
	const capacity = 4 << 20
	changed := []extent.Extent{{Offset: 100, Length: 10}, {Offset: 3 << 20, Length: 1 << 20}}
	transientErr := map[int]error{
		2: soapFault(&types.SystemError{Reason: "x"}, true),
		3: soapFault(fileFault("vim.fault.Other"), false),
		4: errors.New("Post \"https://vc/sdk\": connection reset by peer"),
	}
	f := &fakeESXi{capacity: capacity, window: 1 << 20, max: 2000, changed: changed, faults: transientErr}
	got, err := list(t, fakeDisk(t, f, nil), cbt.ChangeID{})
	require.NoError(t, err)
	assert.Equal(t, changed, got)
	assert.Equal(t, []int64{0, 1 << 20, 1 << 20, 1 << 20, 1 << 20, 2 << 20, 3 << 20}, f.offsets())

	// Retries are bounded; the last fault is reachable.
	f = &fakeESXi{capacity: capacity, window: 1 << 20, max: 2000, faults: map[int]error{}}
	for i := range 10 {
		f.faults[i+1] = soapFault(&types.SystemError{Reason: "down"}, true)
	}
	_, err = list(t, fakeDisk(t, f, &Options{Retries: 3, Backoff: time.Millisecond}), cbt.ChangeID{})
	assert.ErrorIs(t, err, cbt.ErrBusy)
	var fe *FaultError
	require.ErrorAs(t, err, &fe)
	assert.IsType(t, &types.SystemError{}, fe.Fault)
	assert.Len(t, f.offsets(), 4)

	// Retries: -1 means none.
	f.calls = nil
	_, err = list(t, fakeDisk(t, f, &Options{Retries: -1}), cbt.ChangeID{})
	assert.ErrorIs(t, err, cbt.ErrBusy)
	assert.Len(t, f.offsets(), 1)

	// The backoff ends with the context.
	f.calls = nil
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = cbt.Collect(fakeDisk(t, f, &Options{Backoff: time.Hour}).Changes(ctx, cbt.ChangeID{}, nil))
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 10*time.Second)
}

func TestPagingRelogin(t *testing.T) {
	const capacity = 8 << 20
	var changed []extent.Extent
	for i := range int64(64) {
		changed = append(changed, extent.Extent{Offset: i * 131072, Length: 512})
	}
	expired := soapFault(&types.NotAuthenticated{}, true)
	f := &fakeESXi{capacity: capacity, window: 1 << 20, max: 5, changed: changed,
		faults: map[int]error{4: expired, 9: expired}}
	logins := 0
	d := fakeDisk(t, f, &Options{Backoff: time.Millisecond, Relogin: func(context.Context) error { logins++; return nil }})
	got, err := list(t, d, base(t, capacity))
	require.NoError(t, err)
	assert.Equal(t, changed, got, "nothing missed or repeated")
	assert.Equal(t, 2, logins)
	offs := f.offsets()
	assert.Equal(t, offs[3], offs[4], "the call that failed is repeated at the same offset")
	assert.Equal(t, offs[8], offs[9])

	// A hook that fails ends the listing, with the fault and the hook's error.
	f = &fakeESXi{capacity: capacity, window: 1 << 20, max: 5, changed: changed, faults: map[int]error{2: expired}}
	d = fakeDisk(t, f, &Options{Relogin: func(context.Context) error { return errors.New("bad password") }})
	_, err = list(t, d, base(t, capacity))
	assert.ErrorIs(t, err, cbt.ErrInvalidArgument)
	assert.ErrorContains(t, err, "bad password")

	// A session that keeps expiring: logins are bounded.
	f = &fakeESXi{capacity: capacity, window: 1 << 20, max: 5, faults: map[int]error{1: expired, 2: expired, 3: expired, 4: expired}}
	logins = 0
	d = fakeDisk(t, f, &Options{Relogin: func(context.Context) error { logins++; return nil }})
	_, err = list(t, d, cbt.ChangeID{})
	assert.ErrorIs(t, err, cbt.ErrInvalidArgument)
	assert.Equal(t, maxRelogins, logins)
}

// Concurrent listings of one disk share the login: a listing that finds the
// session expired after another one logged in again only retries.
func TestPagingConcurrentRelogin(t *testing.T) {
	const capacity = 8 << 20
	var changed []extent.Extent
	for i := range int64(32) {
		changed = append(changed, extent.Extent{Offset: i * 262144, Length: 512})
	}
	var mu sync.Mutex
	gen, logins := 0, 0
	expired := soapFault(&types.NotAuthenticated{}, true)
	f := &fakeESXi{capacity: capacity, window: 1 << 20, max: 3, changed: changed}
	// The session expires once, at the 5th call; every call made with it
	// afterwards fails until someone logs in.
	inner := f.query
	sessionAt := 0 // the generation the session is valid for; -1: expired
	query := func(ctx context.Context, off int64, since string) (*types.DiskChangeInfo, error) {
		mu.Lock()
		n := len(f.offsets())
		if n == 4 && sessionAt == 0 {
			sessionAt = -1
		}
		bad := sessionAt != gen
		mu.Unlock()
		if bad {
			return nil, expired
		}
		return inner(ctx, off, since)
	}
	own, err := ParseChangeID(realID1)
	require.NoError(t, err)
	own.capacity = capacity
	d, err := cbt.NewDisk(&pager{name: "c", method: "QueryChangedDiskAreas", capacity: capacity, own: own, query: query,
		call: newCaller(&Options{Relogin: func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			logins++
			gen++
			sessionAt = gen
			return nil
		}})})
	require.NoError(t, err)
	defer d.Close()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			got, err := list(t, d, cbt.ChangeID{})
			assert.NoError(t, err)
			assert.Equal(t, changed, got)
		})
	}
	wg.Wait()
	assert.Equal(t, 1, logins, "one login serves every listing")
}
