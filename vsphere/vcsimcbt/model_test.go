package vcsimcbt

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/changedblocks/sdk/extent"
)

// The model against its own recorded writes: random writes over several
// snapshots, then for every pair of snapshots (and "*") a full paging loop
// with a small window and extent cap. Every written byte lies in some
// answered extent, and every answered byte lies in a write of the interval
// rounded out to the block size: the answered set equals exactly the rounded
// writes.
func TestModelAgainstRecordedWrites(t *testing.T) {
	const block = 4 * kib
	opts := &Options{Window: 512 * mib, MaxExtents: 7, BlockSize: block}
	withEnv(t, opts, func(e *env) {
		rng := rand.New(rand.NewPCG(4, 2026))
		capacity := e.capacity(nil)

		var pre []extent.Extent // written before tracking: only "*" sees them
		for range 20 {
			pre = append(pre, randomWrite(rng, capacity))
		}
		e.writeAll(pre...)
		e.setCBT(true)

		const epochs = 4
		snaps := make([]types.ManagedObjectReference, 0, epochs+1)
		writes := make([][]extent.Extent, epochs) // writes[i]: between snaps[i] and snaps[i+1]
		snaps = append(snaps, e.snapshot("s0"))
		for i := range epochs {
			for range 150 {
				writes[i] = append(writes[i], randomWrite(rng, capacity))
			}
			e.writeAll(writes[i]...)
			snaps = append(snaps, e.snapshot(fmt.Sprintf("s%d", i+1)))
		}

		check := func(name string, target types.ManagedObjectReference, changeID string, exact []extent.Extent) {
			t.Run(name, func(t *testing.T) {
				e.tr.ResetCalls()
				answered, pages := e.pageAll(&target, changeID, capacity)
				assert.Equal(t, len(pages), e.tr.Calls())
				minimal, err := e.tr.MinimalCalls(e.ref(), diskKey, changeID, &target)
				require.NoError(t, err)
				assert.Equal(t, minimal, len(pages))
				for _, p := range pages {
					assert.LessOrEqual(t, len(p.ChangedArea), opts.MaxExtents)
					assert.LessOrEqual(t, p.Length, opts.Window)
					for _, a := range p.ChangedArea {
						assert.GreaterOrEqual(t, a.Start, p.StartOffset)
						assert.LessOrEqual(t, a.Start+a.Length, p.StartOffset+p.Length)
					}
				}
				require.True(t, extent.IsSorted(answered), "answers ascend without overlap")
				union := extent.Normalize(append([]extent.Extent(nil), answered...))

				truth := extent.Normalize(append([]extent.Extent(nil), exact...))
				assert.Empty(t, extent.SubtractSlices(truth, union), "written bytes missing from the answers")
				rounded := extent.AlignSlice(extent.Normalize(append([]extent.Extent(nil), exact...)), block, capacity)
				assert.Empty(t, extent.SubtractSlices(union, rounded), "answered bytes outside the rounded writes")

				recorded, err := e.tr.Written(e.ref(), diskKey, changeID, &target)
				require.NoError(t, err)
				assert.Equal(t, truth, recorded, "Written is the exact ground truth")
			})
		}

		for j := 1; j <= epochs; j++ {
			for i := range j {
				var exact []extent.Extent
				for k := i; k < j; k++ {
					exact = append(exact, writes[k]...)
				}
				check(fmt.Sprintf("s%d..s%d", i, j), snaps[j], changeIDOf(e.disk(&snaps[i])), exact)
			}
			exact := append([]extent.Extent(nil), pre...)
			for k := range j {
				exact = append(exact, writes[k]...)
			}
			check(fmt.Sprintf("*..s%d", j), snaps[j], Star, exact)
		}
	})
}

// randomWrite returns a write inside the disk: mostly small and unaligned,
// sometimes large enough to cross window boundaries.
func randomWrite(rng *rand.Rand, capacity int64) extent.Extent {
	length := 1 + rng.Int64N(64*kib)
	if rng.IntN(10) == 0 {
		length = 1 + rng.Int64N(700*mib)
	}
	off := rng.Int64N(capacity - length + 1)
	return extent.Extent{Offset: off, Length: length}
}
