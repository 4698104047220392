package extent

import (
	"fmt"
	"iter"
	"math"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// blocks returns the block sizes a property test draws from: none, units of the
// grid, powers of two and others, all at most margin.
func (g *gen) block() int64 {
	return []int64{-4096, 0, 1, g.unit, 2 * g.unit, 3, 7, 64, 100, 512, 1000, margin}[g.r.IntN(12)]
}

// capacity draws a capacity: none (<= 0), math.MaxInt64, or inside the window.
func (g *gen) capacity() int64 {
	switch g.r.IntN(5) {
	case 0:
		return 0
	case 1:
		return -1
	case 2:
		return math.MaxInt64
	default:
		return g.base + g.r.Int64N(int64(g.size))
	}
}

func TestAlignModel(t *testing.T) {
	for _, seed := range seeds() {
		for _, g := range gens(seed) {
			in := g.sorted(40)
			block, capacity := g.block(), g.capacity()
			w := g.window()
			for _, e := range in {
				if v, ok := refAlign(e, block, capacity); ok {
					w.mark(v.s, v.t)
				}
			}
			want := w.extents()
			msg := fmt.Sprintf("seed %d base %d block %d capacity %d in %v", seed, g.base, block, capacity, in)

			got := slices.Collect(Align(slices.Values(in), block, capacity))
			requireSame(t, want, got, msg)
			require.True(t, IsNormalized(got), msg)
			requireSame(t, want, AlignSlice(slices.Clone(in), block, capacity), msg)
			requirePrefixes(t, func() iter.Seq[Extent] { return Align(slices.Values(in), block, capacity) }, want, msg)
		}
	}
}

// The aligner that Align uses agrees with AlignOut, and both with the big-integer
// reference, for blocks and offsets anywhere in int64.
func TestAlignerMatchesAlignOut(t *testing.T) {
	for _, seed := range seeds() {
		g := gens(seed)[1]
		for range 50 {
			e := Extent{Offset: g.point(), Length: g.length()}
			if g.r.IntN(2) == 0 {
				e.Offset = math.MaxInt64 - g.r.Int64N(1<<40)
			}
			block := []int64{
				g.block(), 1 << 40, 1<<40 + 1, 1 << 62, 3 << 60, math.MaxInt64, math.MaxInt64 - 1,
				1 + g.r.Int64N(math.MaxInt64),
			}[g.r.IntN(8)]
			capacity := []int64{0, -1, math.MaxInt64, g.point(), 1 << 62}[g.r.IntN(5)]
			msg := fmt.Sprintf("seed %d e %+v block %d capacity %d", seed, e, block, capacity)

			want, wantOK := refAlign(e, block, capacity)
			got, ok := AlignOut(e, block, capacity)
			require.Equal(t, wantOK, ok, msg)
			a := newAligner(block, capacity)
			got2, ok2 := a.align(e)
			require.Equal(t, wantOK, ok2, msg)
			if wantOK {
				require.Equal(t, Extent{Offset: want.s, Length: want.t - want.s}, got, msg)
				require.Equal(t, got, got2, msg)
			}
		}
	}
}

// Align with blocks far larger than the window, near math.MaxInt64, against the
// big-integer reference.
func TestAlignBigBlocks(t *testing.T) {
	for _, seed := range seeds() {
		g := gens(seed)[1]
		in := g.sorted(20)
		block := []int64{1 << 40, 1<<40 + 1, 1 << 62, 3 << 60, math.MaxInt64 - 1, 1 + g.r.Int64N(math.MaxInt64)}[g.r.IntN(6)]
		capacity := []int64{0, -1, math.MaxInt64, g.capacity()}[g.r.IntN(4)]
		var iv []ival
		for _, e := range in {
			if v, ok := refAlign(e, block, capacity); ok {
				iv = append(iv, v)
			}
		}
		want := refCombine(anyIn, iv)
		msg := fmt.Sprintf("seed %d block %d capacity %d in %v", seed, block, capacity, in)
		requireSame(t, want, slices.Collect(Align(slices.Values(in), block, capacity)), msg)
		requireSame(t, want, AlignSlice(slices.Clone(in), block, capacity), msg)
	}
}

func TestAlignStopsAtCapacity(t *testing.T) {
	in := []Extent{{0, 1}, {4096, 1}, {10000, 5}, {20000, 1}, {30000, 1}}
	var read int
	var done bool
	got := slices.Collect(Align(seqOf(in, &read, &done), 4096, 12000))
	require.Equal(t, []Extent{{0, 12000}}, got)
	require.Equal(t, 4, read, "Align reads up to the first extent at or past the capacity")
	require.True(t, done)
}

func TestAlignExamples(t *testing.T) {
	in := []Extent{{1, 1}, {4095, 2}, {10000, 0}, {10000, 1}, {math.MaxInt64 - 10, 5}}
	require.Equal(t, []Extent{{0, 12288}, {(math.MaxInt64 / 4096) * 4096, math.MaxInt64 % 4096}},
		AlignSlice(slices.Clone(in), 4096, 0))
	require.Equal(t, []Extent{{0, 12288}}, AlignSlice(slices.Clone(in), 4096, 1<<40))
	require.Equal(t, []Extent{{0, 10}}, AlignSlice(slices.Clone(in), 4096, 10))
	require.Equal(t, []Extent{{0, math.MaxInt64}}, AlignSlice(slices.Clone(in), 1<<62, -1))
}
