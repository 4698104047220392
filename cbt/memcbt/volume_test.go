package memcbt_test

import (
	"context"
	"testing"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/memcbt"
	"github.com/changedblocks/sdk/extent"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type ext = extent.Extent

func collect(t *testing.T, d *cbt.Disk, since cbt.ChangeID) []ext {
	t.Helper()
	got, err := cbt.Collect(d.Changes(context.Background(), since, nil))
	require.NoError(t, err)
	return got
}

func TestGranulesWidenWrites(t *testing.T) {
	v, err := memcbt.NewVolume(10000, &memcbt.Options{Granularity: 4096})
	require.NoError(t, err)
	require.NoError(t, v.Write(4095, 2))
	require.NoError(t, v.Write(9999, 1))
	p, _ := v.ChangePoint()
	d, err := v.Open(p)
	require.NoError(t, err)
	assert.Equal(t, []ext{{Offset: 0, Length: 10000}}, collect(t, d, cbt.ChangeID{}),
		"granules touch, and the last one ends at the capacity")
}

func TestDiscard(t *testing.T) {
	v, err := memcbt.NewVolume(1<<20, &memcbt.Options{Granularity: 4096})
	require.NoError(t, err)
	require.NoError(t, v.Write(0, 65536))
	p1, _ := v.ChangePoint()
	// Discards a whole granule at 8192 and parts of the ones around it.
	require.NoError(t, v.Discard(6000, 8192))
	p2, _ := v.ChangePoint()
	d, err := v.Open(p2)
	require.NoError(t, err)
	assert.Equal(t, []ext{{Offset: 4096, Length: 12288}}, collect(t, d, p1), "a discard is a change")
	assert.Equal(t, []ext{{Offset: 0, Length: 8192}, {Offset: 12288, Length: 65536 - 12288}}, collect(t, d, cbt.ChangeID{}),
		"only the granule discarded whole is no longer allocated")

	// The earlier point still sees its own allocation.
	d1, err := v.Open(p1)
	require.NoError(t, err)
	assert.Equal(t, []ext{{Offset: 0, Length: 65536}}, collect(t, d1, cbt.ChangeID{}))
}

func TestLiveDisk(t *testing.T) {
	v, err := memcbt.NewVolume(1<<20, nil)
	require.NoError(t, err)
	require.NoError(t, v.Write(10, 10))
	p1, _ := v.ChangePoint()
	live, err := v.Open(cbt.ChangeID{})
	require.NoError(t, err)
	_, noID := live.ChangeID()
	assert.ErrorIs(t, noID, cbt.ErrUnsupported)
	assert.Empty(t, collect(t, live, p1))
	require.NoError(t, v.Write(100, 10))
	assert.Equal(t, []ext{{Offset: 100, Length: 10}}, collect(t, live, p1), "the live disk sees writes as they happen")
	p2, _ := v.ChangePoint()
	require.NoError(t, v.Write(200, 10))
	assert.Equal(t, []ext{{Offset: 100, Length: 10}, {Offset: 200, Length: 10}}, collect(t, live, p1))
	assert.Equal(t, []ext{{Offset: 200, Length: 10}}, collect(t, live, p2))
}

func TestBaseLaterThanPoint(t *testing.T) {
	v, _ := memcbt.NewVolume(1<<20, nil)
	p1, _ := v.ChangePoint()
	p2, _ := v.ChangePoint()
	d, err := v.Open(p1)
	require.NoError(t, err)
	_, err = cbt.Collect(d.Changes(context.Background(), p2, nil))
	assert.ErrorIs(t, err, cbt.ErrInvalidArgument, "a backwards listing is the caller's mistake")
	assert.NotErrorIs(t, err, cbt.ErrChangeIDInvalid, "a backwards listing is no reason for a full backup")
}

func TestRecreatePoint(t *testing.T) {
	v, _ := memcbt.NewVolume(1<<20, nil)
	require.NoError(t, v.Write(0, 10))
	p1, _ := v.ChangePoint()
	require.NoError(t, v.Write(100, 10))
	again, err := v.RecreatePoint(p1)
	require.NoError(t, err)
	assert.NotEqual(t, p1, again, "a re-created point has a change ID of its own")
	require.NoError(t, v.Write(200, 10))
	q, _ := v.ChangePoint()
	d, err := v.Open(q)
	require.NoError(t, err)
	_, err = cbt.Collect(d.Changes(context.Background(), p1, nil))
	assert.ErrorIs(t, err, cbt.ErrChangeIDInvalid)
	assert.Equal(t, []ext{{Offset: 200, Length: 10}}, collect(t, d, again))
}

func TestOpenErrors(t *testing.T) {
	v, _ := memcbt.NewVolume(1<<20, nil)
	p1, _ := v.ChangePoint()
	other, _ := cbt.NewChangeID("qcow2", "snapshot:s1")
	_, err := v.Open(other)
	assert.ErrorIs(t, err, cbt.ErrInvalidArgument)
	bad, _ := cbt.NewChangeID(memcbt.Scheme, "garbage")
	_, err = v.Open(bad)
	assert.ErrorIs(t, err, cbt.ErrInvalidArgument)
	require.NoError(t, v.DeletePoint(p1))
	_, err = v.Open(p1)
	assert.ErrorIs(t, err, cbt.ErrNotFound)
	assert.NotErrorIs(t, err, cbt.ErrChangeIDInvalid, "opening a deleted point is not-found, not full-backup-needed")
	assert.ErrorIs(t, v.DeletePoint(p1), cbt.ErrChangeIDInvalid)
	p2, _ := v.ChangePoint()
	v.ResetTracking()
	_, err = v.Open(p2)
	assert.ErrorIs(t, err, cbt.ErrNotFound)
	assert.NotErrorIs(t, err, cbt.ErrChangeIDInvalid)
}

func TestOpenedPointGoneAfterReset(t *testing.T) {
	v, _ := memcbt.NewVolume(1<<20, nil)
	p1, _ := v.ChangePoint()
	d, err := v.Open(p1)
	require.NoError(t, err)
	v.ResetTracking()
	_, err = cbt.Collect(d.Changes(context.Background(), cbt.ChangeID{}, nil))
	assert.ErrorIs(t, err, cbt.ErrChangeIDInvalid)
}

func TestInvalidArguments(t *testing.T) {
	_, err := memcbt.NewVolume(-1, nil)
	assert.ErrorIs(t, err, cbt.ErrInvalidArgument)
	_, err = memcbt.NewVolume(1, &memcbt.Options{Granularity: -1})
	assert.ErrorIs(t, err, cbt.ErrInvalidArgument)
	v, _ := memcbt.NewVolume(100, nil)
	assert.ErrorIs(t, v.Write(-1, 2), cbt.ErrInvalidArgument)
	assert.ErrorIs(t, v.Write(99, 2), cbt.ErrInvalidArgument)
	assert.ErrorIs(t, v.Write(0, -2), cbt.ErrInvalidArgument)
	assert.ErrorIs(t, v.Discard(101, 0), cbt.ErrInvalidArgument)
	assert.NoError(t, v.Write(100, 0))
}

// Pages are cut by count and width, so listings take many driver calls.
func TestPaging(t *testing.T) {
	v, _ := memcbt.NewVolume(1<<30, &memcbt.Options{PageExtents: 2, PageBytes: 1 << 20})
	var want []ext
	for i := int64(0); i < 50; i++ {
		off := i * (1 << 22)
		require.NoError(t, v.Write(off, 512))
		want = append(want, ext{Offset: off, Length: 512})
	}
	p, _ := v.ChangePoint()
	d, _ := v.Open(p)
	var pages int
	got, err := cbt.Collect(d.Changes(context.Background(), cbt.ChangeID{}, &cbt.ChangesOptions{
		Progress: func(cbt.Progress) { pages++ },
	}))
	require.NoError(t, err)
	assert.Equal(t, want, got)
	assert.GreaterOrEqual(t, pages, 1024, "1 GiB in windows of 1 MiB")
}
