package extent

import (
	"fmt"
	"iter"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSubtractModel(t *testing.T) {
	for _, seed := range seeds() {
		for _, g := range gens(seed) {
			a, b := g.sorted(40), g.sorted(40)
			want := g.window().addAll(a).combine(g.window().addAll(b), func(x, y bool) bool { return x && !y }).extents()
			msg := fmt.Sprintf("seed %d base %d a %v b %v", seed, g.base, a, b)

			mk := func() iter.Seq[Extent] { return Subtract(slices.Values(a), slices.Values(b)) }
			got := slices.Collect(mk())
			requireSame(t, want, got, msg)
			require.True(t, IsNormalized(got), msg)
			requireSame(t, want, SubtractSlices(a, b), msg)
			requirePrefixes(t, mk, want, msg)
		}
	}
}

// Subtract stops reading b when a ends.
func TestSubtractStopsEarly(t *testing.T) {
	b := make([]Extent, 100000)
	for i := range b {
		b[i] = Extent{Offset: int64(i) * 10, Length: 5}
	}
	var read int
	var done bool
	got := slices.Collect(Subtract(slices.Values([]Extent{{0, 20}}), seqOf(b, &read, &done)))
	require.Equal(t, []Extent{{5, 5}, {15, 5}}, got)
	require.Less(t, read, 2*maxBatch)
	require.True(t, done)
	require.Equal(t, []Extent{{0, 3}}, SubtractSlices([]Extent{{0, 3}}, nil))
	require.Empty(t, SubtractSlices(nil, b))
}
