package extent

import (
	"fmt"
	"iter"
	"math"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestClipModel(t *testing.T) {
	for _, seed := range seeds() {
		for _, g := range gens(seed) {
			in := g.sorted(40)
			start, end := g.point(), g.point()
			if g.r.IntN(4) > 0 && end < start {
				start, end = end, start
			}
			w := g.window().addAll(in)
			for i := range w.in {
				if b := w.base + int64(i); b < start || b >= end {
					w.in[i] = false
				}
			}
			want := w.extents()
			msg := fmt.Sprintf("seed %d base %d window [%d, %d) in %v", seed, g.base, start, end, in)

			got := slices.Collect(Clip(slices.Values(in), start, end))
			requireSame(t, want, got, msg)
			require.True(t, IsNormalized(got), msg)
			requireSame(t, want, ClipSlice(slices.Clone(in), start, end), msg)
			requirePrefixes(t, func() iter.Seq[Extent] { return Clip(slices.Values(in), start, end) }, want, msg)
		}
	}
}

func TestClipStopsReading(t *testing.T) {
	in := []Extent{{-10, 20}, {5, 100}, {50, 10}, {200, 5}, {300, 1}, {400, 1}}
	var read int
	var done bool
	got := slices.Collect(Clip(seqOf(in, &read, &done), 0, 200))
	require.Equal(t, []Extent{{0, 105}}, got)
	require.Equal(t, 4, read, "Clip reads up to the first extent at or past the end")
	require.True(t, done)

	read, done = 0, false
	require.Empty(t, slices.Collect(Clip(seqOf(in, &read, &done), 100, 100)))
	require.Zero(t, read, "an empty window reads nothing")

	require.Equal(t, []Extent{{math.MaxInt64 - 5, 5}},
		ClipSlice([]Extent{{math.MaxInt64 - 10, math.MaxInt64}}, math.MaxInt64-5, math.MaxInt64))
	require.Equal(t, []Extent{{0, 5}}, ClipSlice([]Extent{{-10, 15}}, math.MinInt64, 100))
}
