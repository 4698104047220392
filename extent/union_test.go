package extent

import (
	"fmt"
	"iter"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUnionModel(t *testing.T) {
	for _, seed := range seeds() {
		for _, g := range gens(seed) {
			k := g.r.IntN(6)
			ins := make([][]Extent, k)
			w := g.window()
			for i := range ins {
				ins[i] = g.sorted(30)
				w.addAll(ins[i])
			}
			want := w.extents()
			msg := fmt.Sprintf("seed %d base %d ins %v", seed, g.base, ins)

			mk := func() iter.Seq[Extent] {
				seqs := make([]iter.Seq[Extent], k)
				for i, in := range ins {
					seqs[i] = slices.Values(in)
				}
				return Union(seqs...)
			}
			got := slices.Collect(mk())
			requireSame(t, want, got, msg)
			require.True(t, IsNormalized(got), msg)
			requireSame(t, want, UnionSlices(ins...), msg)
			requirePrefixes(t, mk, want, msg)
		}
	}
}

// Streams that break the ordering contract still give ascending, non-overlapping
// output inside the hull of the inputs.
func TestUnionUnsorted(t *testing.T) {
	for _, seed := range seeds() {
		for _, g := range gens(seed) {
			a, b, c := g.shuffled(30), g.sorted(30), g.shuffled(30)
			msg := fmt.Sprintf("seed %d base %d ins %v %v %v", seed, g.base, a, b, c)
			got := slices.Collect(Union(slices.Values(a), slices.Values(b), slices.Values(c)))
			requireInHull(t, slices.Concat(a, b, c), got, msg)
			requireSame(t, got, UnionSlices(a, b, c), msg)
		}
	}
}

func TestUnionInputsUnchanged(t *testing.T) {
	a := []Extent{{0, 10}, {5, 10}}
	b := []Extent{{12, 10}, {40, 0}}
	require.Equal(t, []Extent{{0, 22}}, UnionSlices(a, b))
	require.Equal(t, []Extent{{0, 10}, {5, 10}}, a)
	require.Equal(t, []Extent{{12, 10}, {40, 0}}, b)
	require.Empty(t, UnionSlices())
	require.Empty(t, slices.Collect(Union()))
	require.Equal(t, []Extent{{0, 15}}, slices.Collect(Union(slices.Values(a))))
}
