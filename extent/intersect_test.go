package extent

import (
	"fmt"
	"iter"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestIntersectModel(t *testing.T) {
	for _, seed := range seeds() {
		for _, g := range gens(seed) {
			a, b := g.sorted(40), g.sorted(40)
			want := g.window().addAll(a).combine(g.window().addAll(b), func(x, y bool) bool { return x && y }).extents()
			msg := fmt.Sprintf("seed %d base %d a %v b %v", seed, g.base, a, b)

			mk := func() iter.Seq[Extent] { return Intersect(slices.Values(a), slices.Values(b)) }
			got := slices.Collect(mk())
			requireSame(t, want, got, msg)
			require.True(t, IsNormalized(got), msg)
			requireSame(t, want, IntersectSlices(a, b), msg)
			requirePrefixes(t, mk, want, msg)
		}
	}
}

// Intersect stops reading a when b ends.
func TestIntersectStopsEarly(t *testing.T) {
	a := make([]Extent, 100000)
	for i := range a {
		a[i] = Extent{Offset: int64(i) * 10, Length: 5}
	}
	var read int
	var done bool
	got := slices.Collect(Intersect(seqOf(a, &read, &done), slices.Values([]Extent{{0, 1}, {12, 1}})))
	require.Equal(t, []Extent{{0, 1}, {12, 1}}, got)
	require.Less(t, read, 2*maxBatch)
	require.True(t, done)
}
