package extent

import (
	"iter"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// streamOp is a streaming operation applied to two inputs (a single-input one
// ignores the second).
type streamOp struct {
	name string
	op   func(a, b iter.Seq[Extent]) iter.Seq[Extent]
	push bool // reads its input in the consumer's goroutine, no read-ahead
}

var streamOps = []streamOp{
	{"Coalesce", func(a, _ iter.Seq[Extent]) iter.Seq[Extent] { return Coalesce(a, 3) }, true},
	{"Align", func(a, _ iter.Seq[Extent]) iter.Seq[Extent] { return Align(a, 8, 0) }, true},
	{"Clip", func(a, _ iter.Seq[Extent]) iter.Seq[Extent] { return Clip(a, 0, 1<<40) }, true},
	{"Split", func(a, _ iter.Seq[Extent]) iter.Seq[Extent] { return Split(a, 2) }, true},
	{"Union1", func(a, _ iter.Seq[Extent]) iter.Seq[Extent] { return Union(a) }, true},
	{"Union2", func(a, b iter.Seq[Extent]) iter.Seq[Extent] { return Union(a, b) }, false},
	{"Union3", func(a, b iter.Seq[Extent]) iter.Seq[Extent] { return Union(a, b, a) }, false},
	{"Intersect", func(a, b iter.Seq[Extent]) iter.Seq[Extent] { return Intersect(a, b) }, false},
	{"Subtract", func(a, b iter.Seq[Extent]) iter.Seq[Extent] { return Subtract(a, b) }, false},
	{"Nested", func(a, b iter.Seq[Extent]) iter.Seq[Extent] {
		return Split(Intersect(Align(Union(a, b), 4, 0), Coalesce(a, 0)), 3)
	}, false},
}

// counted is an endless input: 16-byte extents every 32 bytes (a) or starting 8
// bytes later (b). It counts what it hands out and notes when its function
// returns.
type counted struct {
	read, running int
}

func (c *counted) seq(phase int64) iter.Seq[Extent] {
	return func(yield func(Extent) bool) {
		c.running++
		defer func() { c.running-- }()
		for i := int64(0); ; i++ {
			c.read++
			if !yield(Extent{Offset: i*32 + phase, Length: 16}) {
				return
			}
		}
	}
}

// Every streaming operation stops when its consumer breaks: it does not panic,
// stops reading its inputs after a bounded read-ahead, makes every input's
// function return, and leaves no goroutine behind.
func TestBreak(t *testing.T) {
	for _, o := range streamOps {
		t.Run(o.name, func(t *testing.T) {
			for _, k := range []int{0, 1, 5, 1000} {
				before := runtime.NumGoroutine()
				var c counted
				n := 0
				for range o.op(c.seq(0), c.seq(8)) {
					if n == k {
						break
					}
					n++
				}
				require.Equal(t, k, n)
				require.Zero(t, c.running, "an input's function is still running after the consumer stopped")
				limit := 4 * (k + 2) // what the output needs, allowing for the lookahead
				if !o.push {
					limit += 3 * 2 * maxBatch // batches read ahead, per input
				}
				require.LessOrEqual(t, c.read, limit, "read too far ahead")
				requireGoroutines(t, before)
			}
		})
	}
}

// A panic in the consumer's loop body propagates, and the inputs are still
// released.
func TestBreakByPanic(t *testing.T) {
	for _, o := range streamOps {
		t.Run(o.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			var c counted
			require.PanicsWithValue(t, "boom", func() {
				for range o.op(c.seq(0), c.seq(8)) {
					panic("boom")
				}
			})
			require.Zero(t, c.running)
			requireGoroutines(t, before)
		})
	}
}

// requireGoroutines requires that the number of goroutines comes back to n: the
// coroutines of iter.Pull end when released.
func requireGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > n && time.Now().Before(deadline) {
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
	require.LessOrEqual(t, runtime.NumGoroutine(), n, "goroutines left behind")
}

// A sequence an operation returns may be ranged over again, and by several
// goroutines at once (go test -race checks the latter).
func TestRangeTwiceConcurrently(t *testing.T) {
	a := []Extent{{0, 10}, {5, 10}, {40, 8}, {100, 1}}
	b := []Extent{{3, 4}, {12, 30}, {101, 50}}
	bitmap := streamOp{"FromBitmap", func(iter.Seq[Extent], iter.Seq[Extent]) iter.Seq[Extent] {
		return FromBitmapAt([]byte{0xf0, 0x0f, 0x55}, -3, 7, 100)
	}, true}
	for _, o := range append(slices.Clip(streamOps), bitmap) {
		seq := o.op(slices.Values(a), slices.Values(b))
		want := slices.Collect(seq)
		require.NotEmpty(t, want, o.name)
		var wg sync.WaitGroup
		got := make([][]Extent, 4)
		for i := range got {
			wg.Go(func() { got[i] = slices.Collect(seq) })
		}
		wg.Wait()
		for _, g := range got {
			require.Equal(t, want, g, o.name)
		}
	}
}
