package extent

import (
	"fmt"
	"iter"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// bitmap draws a bitmap whose bytes are mostly 0, 0xff, or random, in runs, so
// that whole 64-bit words of zeros and ones occur, as do runs across words.
func (g *gen) bitmap(maxBytes int) []byte {
	b := make([]byte, g.r.IntN(maxBytes+1))
	for i := 0; i < len(b); {
		n := 1 + g.r.IntN(20)
		var v func() byte
		switch g.r.IntN(4) {
		case 0:
			v = func() byte { return 0 }
		case 1:
			v = func() byte { return 0xff }
		default:
			v = func() byte { return byte(g.r.Uint32()) }
		}
		for ; n > 0 && i < len(b); n, i = n-1, i+1 {
			b[i] = v()
		}
	}
	return b
}

func TestFromBitmapModel(t *testing.T) {
	for _, seed := range seeds() {
		for _, g := range gens(seed) {
			bm := g.bitmap(40)
			gran := []int64{1, g.unit, 3, 5, 8}[g.r.IntN(5)]
			nbits := int64(len(bm)) * 8
			var first int64
			if g.base == 0 {
				first = []int64{0, 0, -3, -70, 5}[g.r.IntN(5)]
			} else {
				// Half the bitmap lies past math.MaxInt64.
				first = (g.base + int64(g.size) - nbits*gran/2) / gran
			}
			capacity := g.capacity()
			w := g.window()
			for i := range nbits {
				if bm[i/8]&(1<<(i%8)) != 0 {
					if first+i > math.MaxInt64/gran {
						continue // starts past math.MaxInt64
					}
					s, t := (first+i)*gran, int64(math.MaxInt64)
					if first+i < math.MaxInt64/gran { // first+i+1 could overflow
						t = (first + i + 1) * gran
					}
					if capacity > 0 {
						t = min(t, capacity)
					}
					w.mark(s, t)
				}
			}
			want := w.extents()
			msg := fmt.Sprintf("seed %d base %d first %d granularity %d capacity %d bitmap %x", seed, g.base, first, gran, capacity, bm)

			mk := func() iter.Seq[Extent] { return FromBitmapAt(bm, first, gran, capacity) }
			got := slices.Collect(mk())
			requireSame(t, want, got, msg)
			require.True(t, IsNormalized(got), msg)
			requirePrefixes(t, mk, want, msg)
			if first == 0 {
				requireSame(t, want, slices.Collect(FromBitmap(bm, gran, capacity)), msg)
				requireSame(t, want, FromBitmapSlice(bm, gran, capacity), msg)
			}
		}
	}
}

// Granularities and first bits anywhere in int64, against the big-integer
// reference.
func TestFromBitmapBig(t *testing.T) {
	for _, seed := range seeds() {
		g := gens(seed)[0]
		bm := g.bitmap(24)
		gran := []int64{1, 3, 4096, 1 << 40, 1<<40 + 7, 1 << 62, math.MaxInt64, 1 + g.r.Int64N(math.MaxInt64), 0, -1}[g.r.IntN(10)]
		first := []int64{0, -1, -100, 1 << 50, math.MaxInt64 - 100, math.MaxInt64, math.MinInt64, g.r.Int64()}[g.r.IntN(8)]
		capacity := []int64{0, -1, 4096, 1 << 45, math.MaxInt64, g.r.Int64()}[g.r.IntN(6)]
		msg := fmt.Sprintf("seed %d first %d granularity %d capacity %d bitmap %x", seed, first, gran, capacity, bm)
		want := refBitmap(bm, first, gran, capacity)
		got := slices.Collect(FromBitmapAt(bm, first, gran, capacity))
		requireSame(t, want, got, msg)
		require.True(t, IsNormalized(got), msg)
	}
}

func TestFromBitmapBits(t *testing.T) {
	// Bit 0 is the least-significant bit of byte 0.
	require.Equal(t, []Extent{{0, 1}}, FromBitmapSlice([]byte{0x01}, 1, 0))
	require.Equal(t, []Extent{{7, 1}}, FromBitmapSlice([]byte{0x80}, 1, 0))
	require.Equal(t, []Extent{{8 * 65536, 65536}}, FromBitmapSlice([]byte{0, 0x01}, 65536, 0))
	require.Equal(t, []Extent{{1, 3}, {6, 4}}, FromBitmapSlice([]byte{0b11001110, 0b11}, 1, 0))
	// A run across a 64-bit word boundary is one extent.
	bm := make([]byte, 24)
	bm[7], bm[8], bm[15], bm[16] = 0x80, 0xff, 0xff, 0x01
	require.Equal(t, []Extent{{63, 9}, {120, 9}}, FromBitmapSlice(bm, 1, 0))
	// Capacity clips, and need not be a multiple of the granularity.
	require.Equal(t, []Extent{{0, 1000}}, FromBitmapSlice([]byte{0xff}, 512, 1000))
	require.Empty(t, FromBitmapSlice([]byte{0xfe}, 512, 512))
	require.Empty(t, FromBitmapSlice([]byte{0xff}, 0, 0))
	require.Empty(t, FromBitmapSlice(nil, 1, 0))
	// Saturation: bit 1 of granularity 2^62 would end at 2^63.
	require.Equal(t, []Extent{{1 << 62, math.MaxInt64 - 1<<62}}, FromBitmapSlice([]byte{0b1110}, 1<<62, 0))
}

// Offsets past math.MaxInt64 end the sequence.
func TestFromBitmapSaturates(t *testing.T) {
	bm := make([]byte, 1<<20)
	for i := range bm {
		bm[i] = 0x55
	}
	n := 0
	for range FromBitmap(bm, math.MaxInt64/4, 0) {
		n++
	}
	require.Equal(t, 3, n) // bits 0, 2 and 4; bit 6 starts past math.MaxInt64
}

// TestFromBitmapRuns checks the fast path over long runs of zero and all-one
// words: bitmaps made of segments of 0x00, 0xff and random bytes, of lengths
// that straddle the 8- and 32-byte steps of the skip or span many of them,
// against the reference.
func TestFromBitmapRuns(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for range 800 {
		var bm []byte
		for range 1 + r.IntN(8) {
			n := r.IntN([]int{9, 90, 600}[r.IntN(3)])
			var fill func() byte
			switch r.IntN(4) {
			case 0, 1:
				fill = func() byte { return 0 }
			case 2:
				fill = func() byte { return 0xff }
			default:
				fill = func() byte { return byte(r.Uint32()) }
			}
			for range n {
				bm = append(bm, fill())
			}
		}
		first := []int64{0, 0, -5, -100, 3}[r.IntN(5)]
		gran := []int64{1, 3, 4096}[r.IntN(3)]
		capacity := []int64{0, 0, int64(len(bm)) * 4 * gran, 1000}[r.IntN(4)]
		msg := fmt.Sprintf("first %d granularity %d capacity %d bitmap %x", first, gran, capacity, bm)
		want := refBitmap(bm, first, gran, capacity)
		requireSame(t, want, slices.Collect(FromBitmapAt(bm, first, gran, capacity)), msg)
		if first == 0 {
			requireSame(t, want, FromBitmapSlice(bm, gran, capacity), msg)
		}
	}
}
