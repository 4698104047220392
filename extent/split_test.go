package extent

import (
	"fmt"
	"iter"
	"math"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSplitModel(t *testing.T) {
	for _, seed := range seeds() {
		for _, g := range gens(seed) {
			in := g.sorted(40)
			maxLen := []int64{-1, 0, 1, g.unit, 3 * g.unit, 100, math.MaxInt64}[g.r.IntN(7)]
			var want []Extent
			for _, run := range g.window().addAll(in).extents() {
				for run.Length > maxLen && maxLen > 0 {
					want = append(want, Extent{Offset: run.Offset, Length: maxLen})
					run.Offset += maxLen
					run.Length -= maxLen
				}
				want = append(want, run)
			}
			msg := fmt.Sprintf("seed %d base %d max %d in %v", seed, g.base, maxLen, in)

			mk := func() iter.Seq[Extent] { return Split(slices.Values(in), maxLen) }
			got := slices.Collect(mk())
			requireSame(t, want, got, msg)
			require.True(t, IsSorted(got), msg)
			requireSame(t, want, SplitSlice(in, maxLen), msg)
			requirePrefixes(t, mk, want, msg)
		}
	}
}

func TestSplitPieces(t *testing.T) {
	in := []Extent{{0, 10}, {5, 10}, {20, 3}, {math.MaxInt64 - 5, 10}}
	require.Equal(t, []Extent{{0, 4}, {4, 4}, {8, 4}, {12, 3}, {20, 3}, {math.MaxInt64 - 5, 4}, {math.MaxInt64 - 1, 1}},
		SplitSlice(in, 4))
	require.Equal(t, []Extent{{0, 15}, {20, 3}, {math.MaxInt64 - 5, 5}}, SplitSlice(in, 0))
	require.Equal(t, []Extent{{0, 10}, {5, 10}, {20, 3}, {math.MaxInt64 - 5, 10}}, in, "SplitSlice leaves its input alone")

	// One extent of 2^63-1 bytes cut into single bytes: the consumer stops early.
	n := 0
	for e := range Split(slices.Values([]Extent{{0, math.MaxInt64}}), 1) {
		require.Equal(t, Extent{Offset: int64(n), Length: 1}, e)
		if n++; n == 1000 {
			break
		}
	}
	require.Equal(t, 1000, n)
}
