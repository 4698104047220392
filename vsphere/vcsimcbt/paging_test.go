package vcsimcbt

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/changedblocks/sdk/extent"
)

// tracked enables CBT and takes a first snapshot; it returns the snapshot
// and its change ID.
func (e *env) tracked() (types.ManagedObjectReference, string) {
	e.t.Helper()
	e.setCBT(true)
	s := e.snapshot("base")
	return s, changeIDOf(e.disk(&s))
}

// The default 10 GiB disk is answered in 2 GiB windows; windows without
// changes are empty even when more of the disk remains, and a correct loop
// makes exactly one call per window.
func TestWindowsAndEmptyMiddleWindows(t *testing.T) {
	withEnv(t, nil, func(e *env) {
		_, base := e.tracked()
		e.writeAll(
			extent.Extent{Offset: 100 * kib, Length: 1},              // window 0, rounded to a block
			extent.Extent{Offset: 2*gib - 4*kib, Length: 8 * kib},    // straddles windows 0 and 1
			extent.Extent{Offset: 8*gib + 3*mib, Length: 5 * kib},    // window 4
			extent.Extent{Offset: 10*gib - 64*kib, Length: 64 * kib}, // last block
		)
		s := e.snapshot("next")
		capacity := e.capacity(&s)
		require.Equal(t, 10*gib, capacity)

		e.tr.ResetCalls()
		all, pages := e.pageAll(&s, base, capacity)
		require.Len(t, pages, 5)
		assert.Equal(t, 5, e.tr.Calls())
		want, err := e.tr.MinimalCalls(e.ref(), diskKey, base, &s)
		require.NoError(t, err)
		assert.Equal(t, 5, want)
		for i, p := range pages {
			assert.Equal(t, int64(i)*2*gib, p.StartOffset)
			assert.Equal(t, 2*gib, p.Length)
		}
		assert.Empty(t, pages[2].ChangedArea, "window 2 is empty and not the last")
		assert.Empty(t, pages[3].ChangedArea, "window 3 is empty and not the last")
		assert.Equal(t, []extent.Extent{
			{Offset: 64 * kib, Length: 64 * kib},
			{Offset: 2*gib - 64*kib, Length: 64 * kib}, // clipped at the window end
			{Offset: 2 * gib, Length: 64 * kib},        // and continued in the next one
			{Offset: 8*gib + 3*mib, Length: 64 * kib},
			{Offset: 10*gib - 64*kib, Length: 64 * kib},
		}, all)
	})
}

// More than MaxExtents extents in a window: the answer carries 2000 and its
// Length ends at the last one; the next call continues there.
func TestMaxExtentsPerAnswer(t *testing.T) {
	withEnv(t, nil, func(e *env) {
		_, base := e.tracked()
		const n = 4500
		for i := range int64(n) {
			e.writeAll(extent.Extent{Offset: 2 * i * DefaultBlockSize, Length: 512}) // every other block
		}
		s := e.snapshot("next")
		capacity := e.capacity(&s)

		e.tr.ResetCalls()
		all, pages := e.pageAll(&s, base, capacity)
		require.Len(t, all, n)
		// 2000 + 2000 + 500 in window 0 (it ends at 2 GiB), then windows 1..4
		// starting from where the third answer ended.
		require.GreaterOrEqual(t, len(pages), 3)
		assert.Len(t, pages[0].ChangedArea, DefaultMaxExtents)
		last := pages[0].ChangedArea[DefaultMaxExtents-1]
		assert.Equal(t, last.Start+last.Length, pages[0].StartOffset+pages[0].Length)
		assert.Equal(t, pages[0].StartOffset+pages[0].Length, pages[1].StartOffset)
		assert.Len(t, pages[1].ChangedArea, DefaultMaxExtents)
		assert.Len(t, pages[2].ChangedArea, n-2*DefaultMaxExtents)
		assert.Equal(t, pages[2].StartOffset+DefaultWindow, pages[2].StartOffset+pages[2].Length,
			"a window that is not full spans Window bytes from its start")
		want, err := e.tr.MinimalCalls(e.ref(), diskKey, base, &s)
		require.NoError(t, err)
		assert.Equal(t, want, len(pages))
		assert.Equal(t, want, e.tr.Calls())
		assert.True(t, extent.IsNormalized(all))
	})
}

// Window and MaxExtents are configurable; an answer starting inside an
// extent clips it to startOffset.
func TestCustomWindowAndClippedStart(t *testing.T) {
	withEnv(t, &Options{Window: 1 * gib, MaxExtents: 3, BlockSize: 4 * kib}, func(e *env) {
		_, base := e.tracked()
		e.writeAll(
			extent.Extent{Offset: 0, Length: 16 * kib},
			extent.Extent{Offset: 32 * kib, Length: 4 * kib},
			extent.Extent{Offset: 64 * kib, Length: 4 * kib},
			extent.Extent{Offset: 96 * kib, Length: 4 * kib},
		)
		s := e.snapshot("next")

		info, err := e.query(&s, diskKey, 0, base)
		require.NoError(t, err)
		assert.Len(t, info.ChangedArea, 3)
		assert.Equal(t, 68*kib, info.Length, "stops after the third extent")

		info, err = e.query(&s, diskKey, 8*kib, base)
		require.NoError(t, err)
		assert.Equal(t, types.DiskChangeExtent{Start: 8 * kib, Length: 8 * kib}, info.ChangedArea[0])

		_, pages := e.pageAll(&s, base, e.capacity(&s))
		assert.Len(t, pages, 11, "68 KiB, then 1 GiB windows from there over 10 GiB")
		assert.Equal(t, 10*gib-(68*kib+9*gib), pages[10].Length, "the last window ends at the capacity")
	})
}

// A change ID equal to the queried point has no changes: every window is
// empty, and the loop still covers the whole disk.
func TestNoChanges(t *testing.T) {
	withEnv(t, nil, func(e *env) {
		s, base := e.tracked()
		all, pages := e.pageAll(&s, base, e.capacity(&s))
		assert.Empty(t, all)
		assert.Len(t, pages, 5)
	})
}

// The VM's current state can be queried (nil snapshot) when it is powered
// off, as the API documents.
func TestCurrentStateOfPoweredOffVM(t *testing.T) {
	withEnv(t, nil, func(e *env) {
		e.powerOff()
		e.setCBT(true)
		base := changeIDOf(e.disk(nil))
		e.writeAll(extent.Extent{Offset: 5 * gib, Length: 1})
		all, _ := e.pageAll(nil, base, e.capacity(nil))
		assert.Equal(t, []extent.Extent{{Offset: 5 * gib, Length: DefaultBlockSize}}, all)
	})
}
