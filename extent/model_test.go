package extent

import (
	"fmt"
	"iter"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// This file holds the references the tests compare against: window, a naive model
// with one bool per byte, and ref*, exact interval arithmetic over arbitrary int64
// bounds using math/big. Neither uses the code under test.

// refNorm returns the bounds of e after the normalisation rules of the package
// (skip Length <= 0, raise a negative Offset to 0, saturate the end at
// math.MaxInt64), computed with big integers.
func refNorm(e Extent) (s, t int64, ok bool) {
	if e.Length <= 0 {
		return 0, 0, false
	}
	end := new(big.Int).Add(big.NewInt(e.Offset), big.NewInt(e.Length))
	s = max(e.Offset, 0)
	t = bigClamp(end)
	return s, t, s < t
}

var (
	bigMax = big.NewInt(math.MaxInt64)
	bigMin = big.NewInt(math.MinInt64)
)

// bigClamp returns x limited to the range of int64.
func bigClamp(x *big.Int) int64 {
	if x.Cmp(bigMax) > 0 {
		return math.MaxInt64
	}
	if x.Cmp(bigMin) < 0 {
		return math.MinInt64
	}
	return x.Int64()
}

// window is the naive model: one bool per byte of [base, base+len(in)).
type window struct {
	base int64
	in   []bool
}

func newWindow(base int64, size int) *window {
	return &window{base: base, in: make([]bool, size)}
}

// mark sets the bytes of [s, t) that lie in the window.
func (w *window) mark(s, t int64) {
	end := w.base + int64(len(w.in)) // the window lies inside [0, math.MaxInt64]
	if t <= w.base || s >= end {
		return
	}
	for i := max(s, w.base) - w.base; i < min(t, end)-w.base; i++ {
		w.in[i] = true
	}
}

// add sets the bytes of e, normalised, that lie in the window.
func (w *window) add(e Extent) {
	if s, t, ok := refNorm(e); ok {
		w.mark(s, t)
	}
}

func (w *window) addAll(es []Extent) *window {
	for _, e := range es {
		w.add(e)
	}
	return w
}

// combine returns a window whose byte i is f(a.in[i], b.in[i]).
func (w *window) combine(o *window, f func(x, y bool) bool) *window {
	r := newWindow(w.base, len(w.in))
	for i := range r.in {
		r.in[i] = f(w.in[i], o.in[i])
	}
	return r
}

// fillGaps sets every run of unset bytes of length <= gap that lies between two
// set bytes.
func (w *window) fillGaps(gap int64) {
	last := -1 // index of the last set byte
	for i, v := range w.in {
		if !v {
			continue
		}
		if last >= 0 && i-last-1 > 0 && int64(i-last-1) <= gap {
			for j := last + 1; j < i; j++ {
				w.in[j] = true
			}
		}
		last = i
	}
}

func (w *window) count() int64 {
	var n int64
	for _, v := range w.in {
		if v {
			n++
		}
	}
	return n
}

// extents returns the maximal runs of set bytes.
func (w *window) extents() []Extent {
	var out []Extent
	for i := 0; i < len(w.in); {
		if !w.in[i] {
			i++
			continue
		}
		j := i
		for j < len(w.in) && w.in[j] {
			j++
		}
		out = append(out, Extent{Offset: w.base + int64(i), Length: int64(j - i)})
		i = j
	}
	return out
}

// ival is a half-open interval [s, t) of the reference.
type ival struct{ s, t int64 }

// refIvals returns the normalised intervals of es.
func refIvals(es []Extent) []ival {
	var out []ival
	for _, e := range es {
		if s, t, ok := refNorm(e); ok {
			out = append(out, ival{s, t})
		}
	}
	return out
}

// refCombine cuts the number line at every bound of every set and keeps the
// elementary pieces for which keep, told which sets hold the piece, is true; it
// returns the maximal runs of kept pieces. It is quadratic and obviously right.
func refCombine(keep func(in []bool) bool, sets ...[]ival) []Extent {
	var pts []int64
	for _, set := range sets {
		for _, v := range set {
			pts = append(pts, v.s, v.t)
		}
	}
	slices.Sort(pts)
	pts = slices.Compact(pts)
	in := make([]bool, len(sets))
	var out []Extent
	for j := 0; j+1 < len(pts); j++ {
		p := pts[j]
		for k, set := range sets {
			in[k] = slices.ContainsFunc(set, func(v ival) bool { return v.s <= p && p < v.t })
		}
		if !keep(in) {
			continue
		}
		if n := len(out); n > 0 && out[n-1].Offset+out[n-1].Length == p {
			out[n-1].Length += pts[j+1] - p
		} else {
			out = append(out, Extent{Offset: p, Length: pts[j+1] - p})
		}
	}
	return out
}

func anyIn(in []bool) bool { return slices.Contains(in, true) }

// refUnion returns the normalised union of the sets.
func refUnion(sets ...[]Extent) []Extent {
	var iv [][]ival
	for _, s := range sets {
		iv = append(iv, refIvals(s))
	}
	return refCombine(anyIn, iv...)
}

// refFillGaps merges the neighbours of a normalised list that are at most gap
// bytes apart.
func refFillGaps(es []Extent, gap int64) []Extent {
	var out []Extent
	for _, e := range es {
		if n := len(out); n > 0 {
			end := out[n-1].Offset + out[n-1].Length
			if e.Offset-end <= gap {
				out[n-1].Length = e.Offset + e.Length - out[n-1].Offset
				continue
			}
		}
		out = append(out, e)
	}
	return out
}

// refAlign returns the interval AlignOut(e, block, capacity) should give,
// computed with big integers.
func refAlign(e Extent, block, capacity int64) (ival, bool) {
	s, t, ok := refNorm(e)
	if !ok {
		return ival{}, false
	}
	if capacity <= 0 {
		capacity = math.MaxInt64
	}
	if block > 1 {
		b := big.NewInt(block)
		bs := new(big.Int).Div(big.NewInt(s), b) // s >= 0: Div floors
		bs.Mul(bs, b)
		bt := new(big.Int).Add(big.NewInt(t), new(big.Int).Sub(b, big.NewInt(1)))
		bt.Div(bt, b)
		bt.Mul(bt, b)
		s, t = bs.Int64(), bigClamp(bt)
	}
	t = min(t, capacity)
	return ival{s, t}, s < t
}

// refBitmap returns what FromBitmapAt should yield, one big-integer interval per
// set bit.
func refBitmap(bitmap []byte, firstBit, granularity, capacity int64) []Extent {
	if granularity <= 0 {
		return nil
	}
	limit := capacity
	if limit <= 0 {
		limit = math.MaxInt64
	}
	g := big.NewInt(granularity)
	var iv []ival
	for i := range len(bitmap) * 8 {
		if bitmap[i/8]&(1<<(i%8)) == 0 {
			continue
		}
		p := new(big.Int).Add(big.NewInt(firstBit), big.NewInt(int64(i)))
		s := bigClamp(new(big.Int).Mul(p, g))
		t := bigClamp(new(big.Int).Mul(p.Add(p, big.NewInt(1)), g))
		s, t = max(s, 0), min(t, limit)
		if s < t {
			iv = append(iv, ival{s, t})
		}
	}
	return refCombine(anyIn, iv)
}

// gen draws random extents on a grid of unit bytes inside a window of the number
// line starting at base.
type gen struct {
	r    *rand.Rand
	base int64 // the window is [base, base+size)
	size int
	lo   int64 // extents start at or after base+lo (may be negative at base 0)
	hi   int64 // and before base+hi
	unit int64
	huge bool // some lengths run past math.MaxInt64 (only when the window ends there)
}

// Windows of the property tests: one at 0 and one that ends at math.MaxInt64.
const (
	winSize = 4096 + 1024
	winHi   = 4096
	margin  = 1024 // room below lo and above hi for rounding by blocks <= margin
)

// gens returns the generators of one seed: a window at 0, with negative offsets,
// and one ending at math.MaxInt64, with lengths that overflow.
func gens(seed uint64) []*gen {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	unit := 1 + r.Int64N(7)
	return []*gen{
		{r: r, base: 0, size: winSize, lo: -64, hi: winHi, unit: unit},
		{r: r, base: math.MaxInt64 - winSize, size: winSize, lo: margin, hi: winSize, unit: unit, huge: true},
	}
}

// seeds returns the fixed seeds of a property test.
func seeds() []uint64 {
	n := 400
	if testing.Short() {
		n = 60
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = uint64(i)*7919 + 1
	}
	return out
}

func (g *gen) window() *window { return newWindow(g.base, g.size) }

// length draws an extent length: usually a few units, sometimes 0 or negative,
// sometimes long, and (huge) sometimes past the end of int64.
func (g *gen) length() int64 {
	switch k := g.r.IntN(32); {
	case k == 0:
		return 0
	case k == 1:
		return -g.unit * g.r.Int64N(3)
	case k == 2 && g.huge:
		return math.MaxInt64 - g.r.Int64N(4)
	case k < 5:
		return g.unit * (1 + g.r.Int64N(64))
	default:
		return g.unit * (1 + g.r.Int64N(8))
	}
}

// sorted returns up to n extents sorted by Offset; they may overlap, touch, be
// empty, start below 0 (at base 0) or end past math.MaxInt64 (huge).
func (g *gen) sorted(n int) []Extent {
	n = g.r.IntN(n + 1)
	out := make([]Extent, 0, n)
	off := g.lo
	if g.lo < 0 {
		off = -g.unit * g.r.Int64N(4)
	}
	for range n {
		off += g.unit * g.r.Int64N(7)
		if off >= g.hi-8*g.unit {
			break
		}
		l := g.length()
		if !g.huge && l > 0 {
			l = min(l, g.hi-off) // stay inside the window at base 0
		}
		out = append(out, Extent{Offset: g.base + off, Length: l})
	}
	return out
}

// shuffled returns sorted(n) in random order.
func (g *gen) shuffled(n int) []Extent {
	es := g.sorted(n)
	g.r.Shuffle(len(es), func(i, j int) { es[i], es[j] = es[j], es[i] })
	return es
}

// point draws an offset in or around the window, or a special value.
func (g *gen) point() int64 {
	switch g.r.IntN(12) {
	case 0:
		return math.MaxInt64
	case 1:
		return -1 - g.r.Int64N(100)
	case 2:
		return math.MinInt64
	default:
		return g.base + g.r.Int64N(int64(g.size))
	}
}

// seqOf returns an iter.Seq over es that counts the extents it hands out in
// *read and sets *done when its function returns.
func seqOf(es []Extent, read *int, done *bool) iter.Seq[Extent] {
	return func(yield func(Extent) bool) {
		defer func() { *done = true }()
		for _, e := range es {
			*read++
			if !yield(e) {
				return
			}
		}
	}
}

// requireSame requires that two extent lists are equal, treating nil and empty
// alike.
func requireSame(t testing.TB, want, got []Extent, msg any) {
	t.Helper()
	if len(want) == 0 && len(got) == 0 {
		return
	}
	require.Equal(t, want, got, msg)
}

// requirePrefixes requires that a consumer of mk() that stops after k extents, for
// every small k, sees full[:k] (and that stopping does not panic).
func requirePrefixes(t testing.TB, mk func() iter.Seq[Extent], full []Extent, msg any) {
	t.Helper()
	for k := 0; k <= len(full) && k < 8; k++ {
		var got []Extent
		for e := range mk() {
			if len(got) == k {
				break
			}
			got = append(got, e)
		}
		requireSame(t, full[:k], got, msg)
	}
}

// lazy is a test message formatted only when a test fails.
type lazy func() string

func (l lazy) String() string { return l() }

// msgf returns a message formatted only when a test fails.
func msgf(format string, args ...any) lazy {
	return func() string { return fmt.Sprintf(format, args...) }
}
