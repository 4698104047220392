package extent

import (
	"iter"
	"math"
)

// Batch sizes of batches: the first batch holds minBatch extents and each
// next one twice as many, up to maxBatch. Small first batches keep read-ahead
// short for consumers that stop early; large later ones share the cost of a
// coroutine switch (tens of nanoseconds) among many extents.
const (
	minBatch = 4
	maxBatch = 256
)

// cursor reads one input, a slice or batches pulled from an iter.Seq. After
// advance, [s, t) is the current extent when ok; the extents advance presents are
// normalised: ascending, non-overlapping and, unless the input breaks the
// ordering contract, non-adjacent. After step, [s, t) is the next input extent,
// normalised on its own but not merged with its neighbours. A cursor uses one of
// the two methods only.
type cursor struct {
	s, t int64
	ok   bool

	buf    []Extent                // raw input not read yet is buf[i:]
	i      int                     //
	refill func() ([]Extent, bool) // next batch; nil when buf is all there is
	ns, nt int64                   // an extent read ahead by advance
	hasNxt bool                    //
	floor  int64                   // end of the last extent presented
}

// sliceCursor returns a cursor over es; it must be advanced (or stepped) to its
// first extent.
func sliceCursor(es []Extent) *cursor {
	return &cursor{buf: es}
}

// seqCursor returns a cursor over seq, to be advanced (or stepped) to its first
// extent, and the function that releases seq, which the caller must call.
func seqCursor(seq iter.Seq[Extent]) (*cursor, func()) {
	next, stop := iter.Pull(batches(seq))
	return &cursor{refill: next}, stop
}

// batches groups the extents of seq into batches: see minBatch. The slice it
// yields is reused for the next batch.
func batches(seq iter.Seq[Extent]) iter.Seq[[]Extent] {
	return func(yield func([]Extent) bool) {
		b := &batch{size: minBatch}
		for e := range seq {
			if e.Length <= 0 {
				continue
			}
			b.buf[b.n] = e
			if b.n++; b.n == b.size {
				if !yield(b.buf[:b.n]) {
					return
				}
				b.n, b.size = 0, min(2*b.size, maxBatch)
			}
		}
		if b.n > 0 {
			yield(b.buf[:b.n])
		}
	}
}

// batch is the state of batches.
type batch struct {
	buf     [maxBatch]Extent
	n, size int // size <= maxBatch
}

// advance moves to the next extent: the union of the next input extents that
// overlap or touch, cut at the end of the previous one.
func (c *cursor) advance() {
	for {
		var s, t int64
		if c.hasNxt {
			s, t, c.hasNxt = c.ns, c.nt, false
		} else {
			if c.step(); !c.ok {
				return
			}
			s, t = c.s, c.t
		}
		for {
			if c.step(); !c.ok {
				break
			}
			if c.s > t {
				c.ns, c.nt, c.hasNxt = c.s, c.t, true
				break
			}
			s, t = min(s, c.s), max(t, c.t)
		}
		if s = max(s, c.floor); s < t {
			c.s, c.t, c.ok = s, t, true
			c.floor = t
			return
		}
	}
}

// step moves to the next input extent, normalised but not merged.
func (c *cursor) step() {
	for {
		for c.i < len(c.buf) {
			e := c.buf[c.i]
			c.i++
			if e.Length <= 0 {
				continue
			}
			s, t := e.Offset, e.Offset+e.Length
			if e.Offset > 0 && e.Length > math.MaxInt64-e.Offset {
				t = math.MaxInt64
			}
			if s < 0 {
				if t <= 0 {
					continue
				}
				s = 0
			}
			c.s, c.t, c.ok = s, t, true
			return
		}
		if !c.fill() {
			c.ok = false
			return
		}
	}
}

// fill reads the next batch into c.buf; it reports false at the end of the input.
func (c *cursor) fill() bool {
	if c.refill == nil {
		return false
	}
	b, ok := c.refill()
	if !ok {
		c.refill = nil
		c.buf, c.i = nil, 0
		return false
	}
	c.buf, c.i = b, 0
	return true
}

// advanced advances c to its first extent and returns it.
func advanced(c *cursor) *cursor {
	c.advance()
	return c
}

// pairSeq runs op over cursors on a and b, for operations whose output is
// empty when a is (Intersect, Subtract): b is not read at all then.
func pairSeq(a, b iter.Seq[Extent], op func(a, b *cursor, yield func(Extent) bool)) iter.Seq[Extent] {
	return func(yield func(Extent) bool) {
		ca, stopA := seqCursor(a)
		defer stopA()
		if ca.advance(); !ca.ok {
			return
		}
		cb, stopB := seqCursor(b)
		defer stopB()
		cb.advance()
		op(ca, cb, yield)
	}
}
