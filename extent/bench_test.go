package extent

import (
	"fmt"
	"iter"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// Benchmarks count one op per input extent: ns/op is the time per input extent,
// allocs/op the allocations per input extent (the fixed per-call allocations
// divided by b.N), and Mext/s millions of input extents per second. The inputs
// of the streaming benchmarks are generated arithmetically on the fly, so memory
// does not depend on b.N; the slice benchmarks reuse 2^16-extent slices.
//
//	go test -run '^$' -bench . -cpu 1 ./extent

// sink keeps the compiler from discarding the work of a benchmark.
var sink int64

// genSeq yields n extents: extent i starts at i*6144+phase and is 512, 1536, 2560
// or 3584 bytes long, so that the streams of phases 0, 1536, 3072 and 4608
// overlap one another, and alignment to 4096 makes neighbours touch.
//
// genSeq and drain are not inlined, so that the operation sits between two
// opaque iter.Seq values, as in a real pipeline.
//
//go:noinline
func genSeq(n int, phase int64) iter.Seq[Extent] {
	return func(yield func(Extent) bool) {
		for i := range n {
			if !yield(Extent{Offset: int64(i)*6144 + phase, Length: 512 + int64(i&3)*1024}) {
				return
			}
		}
	}
}

func genSlice(n int, phase int64) []Extent { return slices.Collect(genSeq(n, phase)) }

// drain consumes seq and returns a value that depends on all of it.
//
//go:noinline
func drain(seq iter.Seq[Extent]) int64 {
	var s int64
	for e := range seq {
		s += e.Offset ^ e.Length
	}
	return s
}

func report(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mext/s")
}

// perStream returns n input extents divided among k streams.
func perStream(n, k int) int { return max(n/k, 1) }

func BenchmarkGenerate(b *testing.B) {
	b.ReportAllocs()
	sink += drain(genSeq(b.N, 0))
	report(b)
}

func BenchmarkCoalesce(b *testing.B) {
	b.ReportAllocs()
	sink += drain(Coalesce(genSeq(b.N, 0), 4096))
	report(b)
}

func BenchmarkAlign(b *testing.B) {
	b.ReportAllocs()
	sink += drain(Align(genSeq(b.N, 0), 4096, 0))
	report(b)
}

// BenchmarkAlignOdd aligns to a block that is not a power of two (divisions).
func BenchmarkAlignOdd(b *testing.B) {
	b.ReportAllocs()
	sink += drain(Align(genSeq(b.N, 0), 3000, 0))
	report(b)
}

func BenchmarkClip(b *testing.B) {
	b.ReportAllocs()
	sink += drain(Clip(genSeq(b.N, 0), 1000, 1<<62))
	report(b)
}

func BenchmarkSplit(b *testing.B) {
	b.ReportAllocs()
	sink += drain(Split(genSeq(b.N, 0), 1024))
	report(b)
}

func BenchmarkUnion2(b *testing.B) { benchUnion(b, 2) }
func BenchmarkUnion4(b *testing.B) { benchUnion(b, 4) }

func BenchmarkUnion16(b *testing.B) { benchUnion(b, 16) }

func benchUnion(b *testing.B, k int) {
	b.ReportAllocs()
	seqs := make([]iter.Seq[Extent], k)
	for i := range seqs {
		seqs[i] = genSeq(perStream(b.N, k), int64(i)*6144/int64(k))
	}
	sink += drain(Union(seqs...))
	report(b)
}

func BenchmarkIntersect(b *testing.B) {
	b.ReportAllocs()
	sink += drain(Intersect(genSeq(perStream(b.N, 2), 0), genSeq(perStream(b.N, 2), 1536)))
	report(b)
}

func BenchmarkSubtract(b *testing.B) {
	b.ReportAllocs()
	sink += drain(Subtract(genSeq(perStream(b.N, 2), 0), genSeq(perStream(b.N, 2), 1536)))
	report(b)
}

// The slice forms, on 2^16-extent inputs; ns/op is again per input extent. The
// in-place ones include copying the input into a work buffer.
const sliceN = 1 << 16

func benchSlices(b *testing.B, f func(work []Extent) int64) {
	b.ReportAllocs()
	src := genSlice(sliceN, 0)
	work := make([]Extent, sliceN)
	for done := 0; done < b.N; done += sliceN {
		copy(work, src)
		sink += f(work)
	}
	report(b)
}

func BenchmarkCoalesceSlice(b *testing.B) {
	benchSlices(b, func(w []Extent) int64 { return int64(len(CoalesceSlice(w, 4096))) })
}

func BenchmarkAlignSlice(b *testing.B) {
	benchSlices(b, func(w []Extent) int64 { return int64(len(AlignSlice(w, 4096, 0))) })
}

func BenchmarkUnionSlices4(b *testing.B) {
	ins := make([][]Extent, 4)
	for i := range ins {
		ins[i] = genSlice(sliceN/4, int64(i)*1536)
	}
	benchSlices(b, func([]Extent) int64 { return int64(len(UnionSlices(ins...))) })
}

func BenchmarkIntersectSlices(b *testing.B) {
	x, y := genSlice(sliceN/2, 0), genSlice(sliceN/2, 1536)
	benchSlices(b, func([]Extent) int64 { return int64(len(IntersectSlices(x, y))) })
}

func BenchmarkSubtractSlices(b *testing.B) {
	x, y := genSlice(sliceN/2, 0), genSlice(sliceN/2, 1536)
	benchSlices(b, func([]Extent) int64 { return int64(len(SubtractSlices(x, y))) })
}

// BenchmarkNormalize sorts and merges shuffled extents.
func BenchmarkNormalize(b *testing.B) {
	b.ReportAllocs()
	src := genSlice(sliceN, 0)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(src), func(i, j int) { src[i], src[j] = src[j], src[i] })
	work := make([]Extent, sliceN)
	for done := 0; done < b.N; done += sliceN {
		copy(work, src)
		sink += int64(len(Normalize(work)))
	}
	report(b)
}

// BenchmarkFromBitmap decodes a 1 MiB bitmap (8 Mi bits); MB/s is bitmap bytes
// and Mext/s extents yielded per second.
func BenchmarkFromBitmap(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct {
		name string
		byte func(i int) byte
	}{
		{"sparse", func(int) byte { // 1% of bytes hold one set bit
			if r.IntN(100) == 0 {
				return 1 << r.IntN(8)
			}
			return 0
		}},
		{"runs", func(i int) byte { // runs of 0x00 and 0xff bytes, 4 KiB bits each
			if i/512%2 == 0 {
				return 0
			}
			return 0xff
		}},
		{"random", func(int) byte { return byte(r.Uint32()) }},
		{"alternating", func(int) byte { return 0x55 }}, // worst case: 4 extents per byte
	} {
		bm := make([]byte, 1<<20)
		for i := range bm {
			bm[i] = c.byte(i)
		}
		n := len(FromBitmapSlice(bm, 65536, 0))
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bm)))
			for b.Loop() {
				sink += drain(FromBitmap(bm, 65536, 0))
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mext/s")
		})
	}
}

// memOps are the streaming operations of the memory benchmark and test, each fed
// n generated input extents in all.
var memOps = []struct {
	name string
	seq  func(n int) iter.Seq[Extent]
}{
	{"Coalesce", func(n int) iter.Seq[Extent] { return Coalesce(genSeq(n, 0), 4096) }},
	{"Align", func(n int) iter.Seq[Extent] { return Align(genSeq(n, 0), 4096, 0) }},
	{"Clip", func(n int) iter.Seq[Extent] { return Clip(genSeq(n, 0), 1000, 1<<62) }},
	{"Split", func(n int) iter.Seq[Extent] { return Split(genSeq(n, 0), 1024) }},
	{"Union4", func(n int) iter.Seq[Extent] {
		return Union(genSeq(n/4, 0), genSeq(n/4, 1536), genSeq(n/4, 3072), genSeq(n/4, 4608))
	}},
	{"Intersect", func(n int) iter.Seq[Extent] { return Intersect(genSeq(n/2, 0), genSeq(n/2, 1536)) }},
	{"Subtract", func(n int) iter.Seq[Extent] { return Subtract(genSeq(n/2, 0), genSeq(n/2, 1536)) }},
}

// BenchmarkMemory runs each streaming operation over 10^5, 10^6 and 10^7
// generated extents per call (op). B/op and allocs/op are per call and must not
// grow with n. peak-heap-B is the largest growth of the heap (runtime.MemStats
// HeapAlloc) from the start of a call to a sample taken during it (every 2^16
// extents consumed, and at its end), over all calls: it must not grow with n
// either. Mext/s counts input extents.
func BenchmarkMemory(b *testing.B) {
	for _, o := range memOps {
		for _, n := range []int{1e5, 1e6, 1e7} {
			b.Run(fmt.Sprintf("%s/n=%.0e", o.name, float64(n)), func(b *testing.B) {
				b.ReportAllocs()
				var ms runtime.MemStats
				var peak uint64
				growth := func(base uint64) uint64 {
					runtime.ReadMemStats(&ms)
					return ms.HeapAlloc - min(ms.HeapAlloc, base)
				}
				for b.Loop() {
					runtime.ReadMemStats(&ms)
					base := ms.HeapAlloc
					i := 0
					for e := range o.seq(n) {
						sink += e.Length
						if i++; i&(1<<16-1) == 0 {
							peak = max(peak, growth(base))
						}
					}
					peak = max(peak, growth(base))
				}
				b.ReportMetric(float64(peak), "peak-heap-B")
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mext/s")
			})
		}
	}
}

// The streaming operations allocate the same per call whatever the length of
// their input: nothing per extent.
func TestStreamingAllocsFlat(t *testing.T) {
	for _, o := range memOps {
		allocs := func(n int) float64 {
			return testing.AllocsPerRun(5, func() { sink += drain(o.seq(n)) })
		}
		small, large := allocs(1000), allocs(100000)
		require.Equal(t, small, large, "%s: %v allocations for 10^3 extents, %v for 10^5", o.name, small, large)
		t.Logf("%s: %v allocations per call", o.name, small)
	}
}
