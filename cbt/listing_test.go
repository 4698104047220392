package cbt

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/changedblocks/sdk/cbt/driver"
	"github.com/changedblocks/sdk/extent"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// listerDisk is a pager whose runs hold a resource: it counts runs begun and
// ended, and can fail at the start, at a page, or at the end.
type listerDisk struct {
	*pager
	mu       sync.Mutex
	begun    int
	ended    int
	begins   []driver.Request
	complete []bool // what each End was told
	beginErr error
	endErr   error
}

type listerRun struct {
	d    *listerDisk
	once bool
}

func (l *listerDisk) BeginListing(ctx context.Context, req driver.Request) (driver.Listing, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.beginErr != nil {
		return nil, l.beginErr
	}
	l.begun++
	l.begins = append(l.begins, req)
	return &listerRun{d: l}, nil
}

func (l *listerDisk) ChangedExtents(context.Context, driver.Request, []extent.Extent) ([]extent.Extent, int64, error) {
	panic("cbt must ask the listing, not the disk, for pages")
}

func (r *listerRun) ChangedExtents(ctx context.Context, req driver.Request, buf []extent.Extent) ([]extent.Extent, int64, error) {
	return r.d.pager.ChangedExtents(ctx, req, buf)
}

func (r *listerRun) End(complete bool) error {
	r.d.mu.Lock()
	defer r.d.mu.Unlock()
	if r.once {
		panic("End called twice")
	}
	r.once = true
	r.d.ended++
	r.d.complete = append(r.d.complete, complete)
	return r.d.endErr
}

func newListerDisk(t *testing.T) (*Disk, *listerDisk) {
	truth := []extent.Extent{{Offset: 0, Length: 10}, {Offset: 100, Length: 50}, {Offset: 500, Length: 20}, {Offset: 900, Length: 100}}
	ld := &listerDisk{pager: newPager(3, 1000, truth)}
	ld.maxPage = 120
	d, err := NewDisk(ld)
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	return d, ld
}

func TestListerRunsOncePerListing(t *testing.T) {
	d, ld := newListerDisk(t)
	got, err := Collect(d.Changes(t.Context(), ChangeID{}, nil))
	require.NoError(t, err)
	assert.Equal(t, ld.truth, got)
	assert.Equal(t, 1, ld.begun)
	assert.Equal(t, 1, ld.ended)
	assert.Equal(t, []bool{true}, ld.complete, "a whole listing is complete")
	assert.Greater(t, ld.calls, 1, "several pages, one run")
	require.Len(t, ld.begins, 1)
	assert.Equal(t, driver.Request{Offset: 0, End: 1000}, ld.begins[0])

	// An empty range starts no run.
	_, err = Collect(d.Changes(t.Context(), ChangeID{}, &ChangesOptions{StartOffset: 1000}))
	require.NoError(t, err)
	assert.Equal(t, 1, ld.begun)
}

func TestListerEndsOnEveryPath(t *testing.T) {
	t.Run("early stop", func(t *testing.T) {
		d, ld := newListerDisk(t)
		ld.endErr = errors.New("job abort failed") // must not be yielded after the stop
		for range d.Changes(t.Context(), ChangeID{}, nil) {
			break
		}
		assert.Equal(t, 1, ld.ended)
		assert.Equal(t, []bool{false}, ld.complete)
	})
	t.Run("page error", func(t *testing.T) {
		d, ld := newListerDisk(t)
		ld.err = errors.New("connection reset")
		ld.endErr = errors.New("abort failed too")
		_, err := Collect(d.Changes(t.Context(), ChangeID{}, nil))
		require.ErrorContains(t, err, "connection reset", "the first error is the one reported")
		assert.Equal(t, 1, ld.ended)
		assert.Equal(t, []bool{false}, ld.complete)
	})
	t.Run("cancel", func(t *testing.T) {
		d, ld := newListerDisk(t)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var err error
		for _, e := range d.Changes(ctx, ChangeID{}, nil) {
			cancel()
			err = e
		}
		require.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, 1, ld.ended)
		assert.Equal(t, []bool{false}, ld.complete)
	})
	t.Run("panic in the loop body", func(t *testing.T) {
		d, ld := newListerDisk(t)
		assert.Panics(t, func() {
			for range d.Changes(t.Context(), ChangeID{}, nil) {
				panic("caller bug")
			}
		})
		assert.Equal(t, 1, ld.ended)
		assert.Equal(t, []bool{false}, ld.complete)
	})
	t.Run("end error reported", func(t *testing.T) {
		d, ld := newListerDisk(t)
		ld.endErr = errors.New("job abort failed")
		got, err := Collect(d.Changes(t.Context(), ChangeID{}, nil))
		require.ErrorContains(t, err, "job abort failed")
		assert.Equal(t, ld.truth, got, "the extents before the end error are all there")
		var cerr *Error
		require.ErrorAs(t, err, &cerr)
	})
	t.Run("begin error", func(t *testing.T) {
		d, ld := newListerDisk(t)
		ld.beginErr = errors.Join(ErrBusy, errors.New("another job runs"))
		_, err := Collect(d.Changes(t.Context(), ChangeID{}, nil))
		require.ErrorIs(t, err, ErrBusy)
		assert.Equal(t, 0, ld.ended)
		assert.Equal(t, 0, ld.calls)
	})
}
