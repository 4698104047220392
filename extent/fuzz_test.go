package extent

import (
	"encoding/binary"
	"iter"
	"math"
	"math/big"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// The fuzz targets decode their parameters and inputs from the fuzz bytes with
// fuzzIn, which maps each byte to a value that is likely to matter (small
// numbers, multiples of blocks, negative numbers, values near math.MaxInt64 and
// math.MinInt64, powers of two) and bounds the number of extents, and compare
// every form of an operation with the big-integer reference of model_test.go.
//
//	go test -run '^$' -fuzz '^FuzzUnion$' -fuzztime 10s ./extent

// Limits of the decoded inputs: they bound the work and memory of one run.
const (
	fuzzMaxExtents = 48 // per input stream
	fuzzMaxStreams = 5
	fuzzMaxBitmap  = 32 // bytes
	fuzzMaxPieces  = 4096
)

type fuzzIn struct {
	b []byte
}

func (f *fuzzIn) byte() byte {
	if len(f.b) == 0 {
		return 0
	}
	c := f.b[0]
	f.b = f.b[1:]
	return c
}

// num decodes a number: the top three bits of a byte choose its kind.
func (f *fuzzIn) num() int64 {
	c := f.byte()
	v := int64(c & 31)
	switch c >> 5 {
	case 0:
		return v // small
	case 1:
		return v * 512 // block multiples
	case 2:
		return -v // small negative
	case 3:
		return math.MaxInt64 - v
	case 4:
		return 1 << (31 + v%32) // 2^31 .. 2^62
	case 5:
		return math.MinInt64 + v
	case 6:
		return int64(binary.LittleEndian.Uint16([]byte{f.byte(), f.byte()}))
	default:
		var b [8]byte
		for i := range b {
			b[i] = f.byte()
		}
		return int64(binary.LittleEndian.Uint64(b[:]))
	}
}

// extents decodes up to fuzzMaxExtents extents. Sorted: offsets start at a
// decoded base and grow by small decoded steps (saturating at math.MaxInt64);
// otherwise a step may go back.
func (f *fuzzIn) extents(sorted bool) []Extent {
	n := int(f.byte()) % (fuzzMaxExtents + 1)
	out := make([]Extent, 0, n)
	off := f.num()
	for range n {
		step := f.num()
		if sorted && step < 0 {
			step = -step
		}
		if sorted && step < 0 { // math.MinInt64
			step = 0
		}
		switch {
		case step > 0 && off > math.MaxInt64-step:
			off = math.MaxInt64
		case step < 0 && off < math.MinInt64-step:
			off = math.MinInt64
		default:
			off += step
		}
		out = append(out, Extent{Offset: off, Length: f.num()})
	}
	return out
}

// requireOp runs the streaming form mk and compares it to want (nil: to the slice
// form got only) and to the slice form got; it checks that the output is
// IsNormalized (or only IsSorted when touching is allowed: for Split, and for
// inputs that break the ordering contract), that stopping early works, and
// returns the streaming output.
func requireOp(t *testing.T, mk func() iter.Seq[Extent], want, got []Extent, touching bool, msg any) []Extent {
	t.Helper()
	stream := slices.Collect(mk())
	if want != nil {
		requireSame(t, want, stream, msg)
	}
	requireSame(t, stream, got, msg)
	if touching {
		require.True(t, IsSorted(stream), msg)
	} else {
		require.True(t, IsNormalized(stream), msg)
	}
	requirePrefixes(t, mk, stream, msg)
	return stream
}

func FuzzCoalesce(f *testing.F) {
	f.Add([]byte{3, 0, 0, 5, 1, 10, 2, 1})
	f.Add([]byte{0, 8, 0x60, 0x01, 0x61, 0x62, 0x03, 0x63, 0x40})
	f.Add([]byte{1, 12, 0x7f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Fuzz(func(t *testing.T, data []byte) {
		in := fuzzIn{data}
		sorted := in.byte()&1 == 0
		gap := in.num()
		es := in.extents(sorted)
		msg := msgf("gap %d sorted %v in %v", gap, sorted, es)
		var want []Extent
		if sorted {
			want = refFillGaps(refUnion(es), gap)
		}
		mk := func() iter.Seq[Extent] { return Coalesce(slices.Values(es), gap) }
		got := requireOp(t, mk, want, CoalesceSlice(slices.Clone(es), gap), !sorted, msg)
		if !sorted {
			requireInHull(t, es, got, msg)
			return
		}
		// The Coalescer itself agrees on sorted input.
		c := Coalescer{Gap: gap}
		var viaC []Extent
		for _, e := range es {
			if out, ok := c.Push(e); ok {
				viaC = append(viaC, out)
			}
		}
		if out, ok := c.Flush(); ok {
			viaC = append(viaC, out)
		}
		requireSame(t, want, viaC, msg)
		var total int64
		for _, e := range refUnion(es) {
			total += e.Length // disjoint inside [0, math.MaxInt64]: no overflow
		}
		require.Equal(t, total, Total(slices.Values(es)), msg)
	})
}

func FuzzAlign(f *testing.F) {
	f.Add([]byte{0, 0x22, 0, 3, 0x21, 0x01, 0x02, 0x05, 0x21, 0x03})
	f.Add([]byte{0, 0x9f, 0x65, 4, 0x63, 0x01, 0x07, 0x02, 0x63, 0x00, 0x0f})
	f.Add([]byte{0, 0xc0, 0x10, 0x00, 0x00, 2, 0x01, 0x05, 0x09, 0x03, 0x7f})
	f.Fuzz(func(t *testing.T, data []byte) {
		in := fuzzIn{data}
		sorted := in.byte()&1 == 0
		block, capacity := in.num(), in.num()
		es := in.extents(sorted)
		msg := msgf("block %d capacity %d sorted %v in %v", block, capacity, sorted, es)
		a := newAligner(block, capacity)
		var want []Extent
		var iv []ival
		for _, e := range es {
			v, ok := refAlign(e, block, capacity)
			got, gotOK := AlignOut(e, block, capacity)
			got2, gotOK2 := a.align(e)
			require.Equal(t, ok, gotOK, "AlignOut(%v): %v", e, msg)
			require.Equal(t, ok, gotOK2, "aligner(%v): %v", e, msg)
			if ok {
				require.Equal(t, Extent{Offset: v.s, Length: v.t - v.s}, got, "AlignOut(%v): %v", e, msg)
				require.Equal(t, got, got2, "aligner(%v): %v", e, msg)
				iv = append(iv, v)
			} else if s, _, nonEmpty := refNorm(e); nonEmpty && sorted {
				require.GreaterOrEqual(t, s, max(capacity, 0)) // hence Align may stop here
				break
			}
		}
		if sorted {
			want = refCombine(anyIn, iv)
		}
		mk := func() iter.Seq[Extent] { return Align(slices.Values(es), block, capacity) }
		got := requireOp(t, mk, want, AlignSlice(slices.Clone(es), block, capacity), !sorted, msg)
		if capacity > 0 && len(got) > 0 {
			require.LessOrEqual(t, got[len(got)-1].End(), capacity, msg)
		}
	})
}

func FuzzClip(f *testing.F) {
	f.Add([]byte{0, 0x01, 0x3f, 3, 0, 0x02, 0x05, 0x01, 0x07, 0x02, 0x63})
	f.Add([]byte{0, 0x45, 0x60, 4, 0x41, 0x01, 0x07, 0x02, 0x63, 0x00, 0x0f, 0x01, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		in := fuzzIn{data}
		sorted := in.byte()&1 == 0
		start, end := in.num(), in.num()
		es := in.extents(sorted)
		msg := msgf("window [%d, %d) sorted %v in %v", start, end, sorted, es)
		var want []Extent
		if sorted {
			var win []ival
			if s := max(start, 0); s < end {
				win = []ival{{s, end}}
			}
			want = refCombine(func(in []bool) bool { return in[0] && in[1] }, refIvals(es), win)
		}
		mk := func() iter.Seq[Extent] { return Clip(slices.Values(es), start, end) }
		got := requireOp(t, mk, want, ClipSlice(slices.Clone(es), start, end), !sorted, msg)
		for _, e := range got {
			require.True(t, e.Offset >= start && e.End() <= end, "%v outside the window: %v", e, msg)
		}
	})
}

func FuzzUnion(f *testing.F) {
	f.Add([]byte{0, 3, 2, 0, 1, 5, 3, 2, 1, 7, 2, 0, 2, 4, 9, 1, 3, 1, 6})
	f.Add([]byte{0, 2, 3, 0x63, 0x01, 0x03, 0x02, 0x7f, 0x01, 0x01, 2, 0x62, 0x02, 0x02, 0x03, 0x05})
	f.Fuzz(func(t *testing.T, data []byte) {
		in := fuzzIn{data}
		sorted := in.byte()&1 == 0
		k := int(in.byte()) % (fuzzMaxStreams + 1)
		ins := make([][]Extent, k)
		for i := range ins {
			ins[i] = in.extents(sorted)
		}
		msg := msgf("sorted %v ins %v", sorted, ins)
		var want []Extent
		if sorted {
			want = refUnion(ins...)
		}
		mk := func() iter.Seq[Extent] {
			seqs := make([]iter.Seq[Extent], k)
			for i, es := range ins {
				seqs[i] = slices.Values(es)
			}
			return Union(seqs...)
		}
		got := requireOp(t, mk, want, UnionSlices(ins...), !sorted, msg)
		if !sorted {
			requireInHull(t, slices.Concat(ins...), got, msg)
		}
	})
}

// fuzzTwo decodes the two inputs of Intersect and Subtract.
func fuzzTwo(data []byte) (a, b []Extent, sorted bool) {
	in := fuzzIn{data}
	sorted = in.byte()&1 == 0
	return in.extents(sorted), in.extents(sorted), sorted
}

func FuzzIntersect(f *testing.F) {
	f.Add([]byte{0, 3, 0, 5, 1, 10, 2, 1, 3, 2, 3, 4, 1, 1, 9, 3})
	f.Add([]byte{0, 2, 0x63, 0x01, 0x7f, 0x01, 0x01, 2, 0x62, 0x02, 0x02, 0x03, 0x05})
	f.Fuzz(func(t *testing.T, data []byte) {
		a, b, sorted := fuzzTwo(data)
		msg := msgf("sorted %v a %v b %v", sorted, a, b)
		var want []Extent
		if sorted {
			want = refCombine(func(in []bool) bool { return in[0] && in[1] }, refIvals(a), refIvals(b))
		}
		mk := func() iter.Seq[Extent] { return Intersect(slices.Values(a), slices.Values(b)) }
		got := requireOp(t, mk, want, IntersectSlices(a, b), !sorted, msg)
		requireSame(t, got, IntersectSlices(b, a), msg)
	})
}

func FuzzSubtract(f *testing.F) {
	f.Add([]byte{0, 3, 0, 5, 1, 10, 2, 1, 3, 2, 3, 4, 1, 1, 9, 3})
	f.Add([]byte{0, 2, 0x63, 0x01, 0x7f, 0x01, 0x01, 2, 0x62, 0x02, 0x02, 0x03, 0x05})
	f.Fuzz(func(t *testing.T, data []byte) {
		a, b, sorted := fuzzTwo(data)
		msg := msgf("sorted %v a %v b %v", sorted, a, b)
		var want []Extent
		if sorted {
			want = refCombine(func(in []bool) bool { return in[0] && !in[1] }, refIvals(a), refIvals(b))
		}
		mk := func() iter.Seq[Extent] { return Subtract(slices.Values(a), slices.Values(b)) }
		requireOp(t, mk, want, SubtractSlices(a, b), !sorted, msg)
	})
}

func FuzzSplit(f *testing.F) {
	f.Add([]byte{0, 0x03, 3, 0, 0x25, 0x01, 0x07, 0x02, 0x63})
	f.Add([]byte{0, 0x9f, 2, 0x63, 0x01, 0x7f, 0x01, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		in := fuzzIn{data}
		sorted := in.byte()&1 == 0
		maxLen := in.num()
		es := in.extents(sorted)
		msg := msgf("max %d sorted %v in %v", maxLen, sorted, es)
		runs := slices.Collect(Coalesce(slices.Values(es), 0))
		if sorted {
			requireSame(t, refUnion(es), runs, msg)
		}
		var want []Extent
		pieces := big.NewInt(0)
		for _, r := range runs {
			n := int64(1)
			if maxLen > 0 {
				n = (r.Length-1)/maxLen + 1
			}
			pieces.Add(pieces, big.NewInt(n))
			for ; n > 0 && len(want) <= fuzzMaxPieces; n-- {
				p := Extent{Offset: r.Offset, Length: r.Length}
				if maxLen > 0 && n > 1 {
					p.Length = maxLen
				}
				want = append(want, p)
				r.Offset += p.Length
				r.Length -= p.Length
			}
		}
		if pieces.Cmp(big.NewInt(fuzzMaxPieces)) > 0 {
			// Too many pieces to hold: compare the first ones.
			var got []Extent
			for e := range Split(slices.Values(es), maxLen) {
				if len(got) == fuzzMaxPieces {
					break
				}
				got = append(got, e)
			}
			requireSame(t, want[:fuzzMaxPieces], got, msg)
			return
		}
		mk := func() iter.Seq[Extent] { return Split(slices.Values(es), maxLen) }
		got := requireOp(t, mk, want, SplitSlice(es, maxLen), true, msg)
		for _, e := range got {
			require.True(t, maxLen <= 0 || e.Length <= maxLen, "%v longer than %d: %v", e, maxLen, msg)
		}
	})
}

func FuzzFromBitmap(f *testing.F) {
	f.Add([]byte{0x01, 0x00, 0x00, 4, 0xff, 0x0f, 0x00, 0x81})
	f.Add([]byte{0x7f, 0x7e, 0x3f, 12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00, 0x80, 0xaa})
	f.Add([]byte{0x9f, 0x40, 0x00, 9, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55})
	f.Fuzz(func(t *testing.T, data []byte) {
		in := fuzzIn{data}
		gran, first, capacity := in.num(), in.num(), in.num()
		n := int(in.byte()) % (fuzzMaxBitmap + 1)
		bm := make([]byte, n)
		for i := range bm {
			bm[i] = in.byte()
		}
		msg := msgf("granularity %d first %d capacity %d bitmap %x", gran, first, capacity, bm)
		want := refBitmap(bm, first, gran, capacity)
		mk := func() iter.Seq[Extent] { return FromBitmapAt(bm, first, gran, capacity) }
		var viaSlice []Extent
		if first == 0 {
			viaSlice = FromBitmapSlice(bm, gran, capacity)
			requireSame(t, want, slices.Collect(FromBitmap(bm, gran, capacity)), msg)
		} else {
			viaSlice = slices.Collect(mk())
		}
		requireOp(t, mk, want, viaSlice, false, msg)
	})
}

func FuzzNormalize(f *testing.F) {
	f.Add([]byte{1, 5, 0x63, 0x01, 0x45, 0x02, 0x41, 0x01, 0x07, 0x02, 0x63, 0x00, 0x0f})
	f.Add([]byte{1, 9, 0x01, 0x05, 0x49, 0x03, 0x4f, 0x02, 0x02, 0x7f, 0x00, 0x43, 0x01, 0x08, 0xa0, 0x02})
	f.Fuzz(func(t *testing.T, data []byte) {
		in := fuzzIn{data}
		in.byte()
		es := in.extents(false)
		msg := msgf("in %v", es)
		want := refUnion(es)
		got := Normalize(slices.Clone(es))
		requireSame(t, want, got, msg)
		require.True(t, IsNormalized(got), msg)
		requireSame(t, got, Normalize(slices.Clone(got)), msg)
		// TotalSlice counts each byte once, in any order, when it is sorted first.
		var n int64
		for _, e := range want {
			n += e.Length
		}
		sorted := slices.Clone(es)
		slices.SortStableFunc(sorted, byOffset)
		require.Equal(t, n, TotalSlice(sorted), msg)
	})
}
