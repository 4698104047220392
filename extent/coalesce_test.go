package extent

import (
	"fmt"
	"iter"
	"math"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCoalesceModel(t *testing.T) {
	for _, seed := range seeds() {
		for _, g := range gens(seed) {
			in := g.sorted(40)
			gap := []int64{0, -3, g.unit, 2 * g.unit, 3*g.unit - 1, math.MaxInt64}[g.r.IntN(6)]
			w := g.window().addAll(in)
			w.fillGaps(gap)
			want := w.extents()
			msg := fmt.Sprintf("seed %d base %d gap %d in %v", seed, g.base, gap, in)

			got := slices.Collect(Coalesce(slices.Values(in), gap))
			requireSame(t, want, got, msg)
			require.True(t, IsNormalized(got), msg)
			requireSame(t, want, CoalesceSlice(slices.Clone(in), gap), msg)
			requirePrefixes(t, func() iter.Seq[Extent] { return Coalesce(slices.Values(in), gap) }, want, msg)
		}
	}
}

func TestCoalesceSliceInPlace(t *testing.T) {
	es := []Extent{{0, 10}, {5, 10}, {20, 1}, {21, 4}, {40, 0}, {50, 5}}
	got := CoalesceSlice(es, 0)
	require.Equal(t, []Extent{{0, 15}, {20, 5}, {50, 5}}, got)
	require.Equal(t, &es[0], &got[0], "CoalesceSlice reuses the input's storage")
	require.Empty(t, CoalesceSlice(nil, 0))
	require.Empty(t, CoalesceSlice([]Extent{{5, 0}, {-10, 5}}, 0))
}

func TestCoalesceGap(t *testing.T) {
	in := []Extent{{0, 10}, {15, 5}, {26, 4}, {math.MaxInt64 - 10, 5}}
	require.Equal(t, []Extent{{0, 20}, {26, 4}, {math.MaxInt64 - 10, 5}}, CoalesceSlice(slices.Clone(in), 5))
	require.Equal(t, []Extent{{0, 30}, {math.MaxInt64 - 10, 5}}, CoalesceSlice(slices.Clone(in), 6))
	require.Equal(t, []Extent{{0, math.MaxInt64 - 5}}, CoalesceSlice(slices.Clone(in), math.MaxInt64))
}

// An input that breaks the ordering contract still gives ascending,
// non-overlapping output inside the hull of the input.
func TestCoalesceUnsorted(t *testing.T) {
	for _, seed := range seeds() {
		for _, g := range gens(seed) {
			in := g.shuffled(40)
			msg := fmt.Sprintf("seed %d base %d in %v", seed, g.base, in)
			got := slices.Collect(Coalesce(slices.Values(in), 0))
			requireInHull(t, in, got, msg)
			requireSame(t, got, CoalesceSlice(slices.Clone(in), 0), msg)
		}
	}
}

// requireInHull requires that out is sorted (IsSorted) and inside the smallest
// extent holding all of in.
func requireInHull(t testing.TB, in, out []Extent, msg any) {
	t.Helper()
	require.True(t, IsSorted(out), msg)
	lo, hi := int64(math.MaxInt64), int64(0)
	for _, e := range in {
		if es, ee, ok := refNorm(e); ok {
			lo, hi = min(lo, es), max(hi, ee)
		}
	}
	for _, e := range out {
		require.True(t, e.Offset >= lo && e.End() <= hi, "%v outside [%d, %d); %v", e, lo, hi, msg)
	}
}
