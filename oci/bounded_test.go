package oci

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/extent"
)

func TestBoundedListKeepsEveryByte(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		var in []extent.Extent
		off := int64(0)
		for range 1 + rng.IntN(300) {
			off += 512 * rng.Int64N(64)
			n := 512 * (1 + rng.Int64N(16))
			in = append(in, extent.Extent{Offset: off, Length: n})
			off += n + 512
		}
		b := boundedList{max: 2 + rng.IntN(40)}
		for _, e := range in {
			b.add(e)
		}
		got := b.list()
		require.LessOrEqual(t, len(got), b.max, "round %d", round)
		assert.Empty(t, extent.SubtractSlices(in, got), "round %d: nothing dropped", round)
		for i := 1; i < len(got); i++ {
			require.Greater(t, got[i].Offset, got[i-1].End(), "round %d: ascending, apart", round)
		}
		if len(in) <= b.max {
			assert.Equal(t, extent.Normalize(append([]extent.Extent(nil), in...)), got, "round %d: no coarsening needed", round)
		}
	}
}
