package oci

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/driver"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/scsi/scsimodel"
)

// A Connector (or device) that panics mid-lifecycle leaves no volume, no
// attachment and no login behind: the teardown runs on the panic's way up.
// Before, it ran only when the lifecycle returned an error.
func TestPanicLeavesNothingBehind(t *testing.T) {
	s := newScenario(t, false)
	s.conn.hook = func() { panic("connector bug") }
	d := s.open(t, nil)
	recovered := func() (r any) {
		defer func() { r = recover() }()
		_, _ = cbt.Collect(d.Changes(t.Context(), since(t, s.first), nil))
		return nil
	}()
	assert.Equal(t, "connector bug", recovered)
	s.assertClean(t)
	assert.Equal(t, 1, s.f.Count("DELETE /volumes"))
}

// A listing that holds a device for its run (a delta scanned page by page)
// releases it exactly once, when the run ends, on every path: done, early
// stop, a failing page, a panic in the caller's loop, a cancelled context.
// Before, a run the caller stopped held the device until the next listing
// or Close.
func TestListingReleasesOnEveryPath(t *testing.T) {
	const capacity = 4 << 20
	changed := []extent.Extent{{Offset: 0, Length: 4096}, {Offset: 1 << 20, Length: 4096}, {Offset: 3 << 20, Length: 4096}}
	var opened, released atomic.Int64
	var failNext atomic.Bool
	open := func(ctx context.Context, since string) (*delta, error) {
		lun, err := scsimodel.New(capacity, 512, changed)
		require.NoError(t, err)
		lun.MaxDescriptors = 1          // one command per extent: a failure can come mid-run
		lun.No32 = failNext.Swap(false) // the first GET LBA STATUS fails

		opened.Add(1)
		s, err := newDeviceDelta(ctx, since, "model", lun, capacity)
		require.NoError(t, err)
		var once atomic.Bool
		s.release = func() error {
			assert.False(t, once.Swap(true), "released twice")
			released.Add(1)
			return lun.Close()
		}
		return s, nil
	}
	first, second := "ocid1.volumebackup.oc1.phx.a", "ocid1.volumebackup.oc1.phx.b"
	o := (&Options{MaxPageExtents: 1}).withDefaults()
	d, err := newDeltaDisk(driver.Info{Name: second, Scheme: Scheme, Capacity: capacity, Granularity: granularity, ChangeID: second}, open, o, nil)
	require.NoError(t, err)
	defer d.Close()
	base := since(t, first)
	check := func(what string, n int64) {
		t.Helper()
		assert.Equal(t, n, opened.Load(), what)
		assert.Equal(t, n, released.Load(), "%s: released at the end of the run, before the next one or Close", what)
	}

	got, err := cbt.Collect(d.Changes(t.Context(), base, nil))
	require.NoError(t, err)
	assert.Equal(t, changed, got)
	check("done", 1)

	for range d.Changes(t.Context(), base, nil) {
		break
	}
	check("early stop", 2)

	failNext.Store(true)
	_, err = cbt.Collect(d.Changes(t.Context(), base, nil))
	require.ErrorIs(t, err, cbt.ErrUnsupported)
	check("failing page", 3)

	func() {
		defer func() { assert.Equal(t, "caller bug", recover()) }()
		for range d.Changes(t.Context(), base, nil) {
			panic("caller bug")
		}
	}()
	check("panic", 4)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	for _, err := range d.Changes(ctx, base, nil) {
		if err != nil {
			require.ErrorIs(t, err, context.Canceled)
			break
		}
		cancel()
	}
	check("cancelled", 5)
}

// Two listings since the same base at once make one delta volume: the
// second waits while the first makes it, then shares what it scanned.
func TestConcurrentListingsShareOneVolume(t *testing.T) {
	s := newScenario(t, false)
	d := s.open(t, nil)
	secondDone := make(chan error, 1)
	var started atomic.Bool
	s.conn.hook = func() {
		// In the first listing's Connect, with its volume attached: the
		// second listing begins now.
		if started.Swap(true) {
			return
		}
		go func() {
			got, err := cbt.Collect(d.Changes(context.Background(), since(t, s.first), nil))
			if err == nil && !covers(got, s.written) {
				err = assert.AnError
			}
			secondDone <- err
		}()
	}
	n := 0
	for _, err := range d.Changes(t.Context(), since(t, s.first), nil) {
		require.NoError(t, err)
		if n++; n == 1 {
			require.NoError(t, <-secondDone) // while the first holds its first extent
		}
	}
	assert.Equal(t, 1, s.f.Count("POST /volumes"))
	s.assertClean(t)
}
