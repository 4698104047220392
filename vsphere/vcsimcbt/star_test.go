package vcsimcbt

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/extent"
)

// "*" answers the areas in use up to the snapshot: writes from before tracking
// was enabled included (the ctk file is pre-filled with the allocated
// blocks), writes after the snapshot excluded.
func TestStarAnswersAreasInUse(t *testing.T) {
	withEnv(t, nil, func(e *env) {
		e.writeAll(extent.Extent{Offset: 1 * gib, Length: 1 * mib}) // before CBT
		e.setCBT(true)
		e.writeAll(extent.Extent{Offset: 3 * gib, Length: 4 * kib}) // pending: not yet tracked
		s1 := e.snapshot("s1")
		e.writeAll(extent.Extent{Offset: 7 * gib, Length: 4 * kib}) // after s1
		s2 := e.snapshot("s2")

		all, _ := e.pageAll(&s1, Star, e.capacity(&s1))
		assert.Equal(t, []extent.Extent{
			{Offset: 1 * gib, Length: 1 * mib},
			{Offset: 3 * gib, Length: DefaultBlockSize},
		}, all)
		all, _ = e.pageAll(&s2, Star, e.capacity(&s2))
		assert.Len(t, all, 3)

		// Changes since s1 exclude what was written before it.
		all, _ = e.pageAll(&s2, changeIDOf(e.disk(&s1)), e.capacity(&s2))
		assert.Equal(t, []extent.Extent{{Offset: 7 * gib, Length: DefaultBlockSize}}, all)
	})
}

// "*" needs a VM that had no snapshot when tracking was enabled (KB 320557);
// otherwise there is no epoch for it.
func TestStarNeedsNoSnapshotsAtEnable(t *testing.T) {
	withEnv(t, nil, func(e *env) {
		e.snapshot("pre-existing")
		e.setCBT(true)
		s := e.snapshot("s1")
		_, err := e.query(&s, diskKey, 0, Star)
		requireFileFault(t, err, KeyNoEpoch)

		// Change IDs still work.
		e.writeAll(extent.Extent{Offset: 0, Length: 1})
		s2 := e.snapshot("s2")
		all, _ := e.pageAll(&s2, changeIDOf(e.disk(&s)), e.capacity(&s2))
		assert.Len(t, all, 1)
	})
}

// A whole-disk write is answered as one extent per window, covering it.
func TestWholeDiskWrite(t *testing.T) {
	withEnv(t, nil, func(e *env) {
		_, base := e.tracked()
		e.writeAll(extent.Extent{Offset: 0, Length: 10 * gib})
		s := e.snapshot("s")
		_, pages := e.pageAll(&s, base, e.capacity(&s))
		require.Len(t, pages, 5)
		for _, p := range pages {
			require.Len(t, p.ChangedArea, 1)
			assert.Equal(t, p.StartOffset, p.ChangedArea[0].Start)
			assert.Equal(t, p.Length, p.ChangedArea[0].Length)
		}
	})
}
