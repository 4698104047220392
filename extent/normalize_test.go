package extent

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNormalizeModel(t *testing.T) {
	for _, seed := range seeds() {
		for _, g := range gens(seed) {
			in := g.shuffled(40)
			w := g.window().addAll(in)
			want := w.extents()
			msg := fmt.Sprintf("seed %d base %d in %v", seed, g.base, in)

			got := Normalize(slices.Clone(in))
			requireSame(t, want, got, msg)
			require.True(t, IsNormalized(got), msg)
			require.True(t, IsSorted(got), msg)
			requireSame(t, got, Normalize(slices.Clone(got)), "Normalize is idempotent: "+msg)

			sorted := slices.Clone(in)
			slices.SortStableFunc(sorted, byOffset)
			require.Equal(t, w.count(), TotalSlice(sorted), msg)
			require.Equal(t, w.count(), Total(slices.Values(sorted)), msg)
		}
	}
}

func TestIsNormalized(t *testing.T) {
	for _, c := range []struct {
		es         []Extent
		normalized bool
		sorted     bool
	}{
		{nil, true, true},
		{[]Extent{}, true, true},
		{[]Extent{{0, 1}}, true, true},
		{[]Extent{{0, 1}, {2, 1}}, true, true},
		{[]Extent{{0, 1}, {1, 1}}, false, true},  // adjacent
		{[]Extent{{0, 2}, {1, 1}}, false, false}, // overlapping
		{[]Extent{{2, 1}, {0, 1}}, false, false}, // descending
		{[]Extent{{0, 0}}, false, false},         // empty
		{[]Extent{{0, -1}}, false, false},        // negative length
		{[]Extent{{-1, 2}}, false, false},        // negative offset
		{[]Extent{{math.MaxInt64 - 1, 1}}, true, true},
		{[]Extent{{math.MaxInt64 - 1, 2}}, false, false}, // end overflows
		{[]Extent{{0, math.MaxInt64}}, true, true},
		{[]Extent{{0, 1}, {math.MaxInt64 - 1, 1}}, true, true},
	} {
		require.Equal(t, c.normalized, IsNormalized(c.es), "%v", c.es)
		require.Equal(t, c.sorted, IsSorted(c.es), "%v", c.es)
	}
}

func TestTotal(t *testing.T) {
	require.Zero(t, TotalSlice(nil))
	require.Equal(t, int64(15), TotalSlice([]Extent{{0, 10}, {5, 10}, {-5, 0}}))
	require.Equal(t, int64(math.MaxInt64), TotalSlice([]Extent{{-5, 10}, {0, math.MaxInt64}}))
	require.Equal(t, int64(math.MaxInt64), Total(slices.Values([]Extent{{0, 100}, {100, math.MaxInt64}})))
	// Out of order: counted bytes never overflow.
	require.Equal(t, int64(math.MaxInt64), TotalSlice([]Extent{{10, math.MaxInt64}, {0, math.MaxInt64}, {5, 5}}))
}
