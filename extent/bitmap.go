package extent

import (
	"encoding/binary"
	"iter"
	"math"
	"math/bits"
)

// FromBitmap decodes a dirty bitmap as qcow2 persistent bitmaps and NBD store
// them: bit i, counting from the least-significant bit of byte 0 (bit i is bit
// i%8 of byte i/8), set means that [i*granularity, (i+1)*granularity) is in. The
// output is normalised (runs of set bits become one extent) and clipped to
// [0, capacity); capacity <= 0 means no limit. A granularity <= 0 yields nothing.
// Offsets that would exceed math.MaxInt64 saturate there and end the sequence.
// Zero and all-one 64-bit words are skipped in constant time.
func FromBitmap(bitmap []byte, granularity, capacity int64) iter.Seq[Extent] {
	return FromBitmapAt(bitmap, 0, granularity, capacity)
}

// FromBitmapAt is FromBitmap for a piece of a larger bitmap whose first bit has
// index firstBit: bit i of bitmap stands for [(firstBit+i)*granularity,
// (firstBit+i+1)*granularity), for example one cluster of a qcow2 bitmap table.
// A negative firstBit is allowed; the bytes below 0 are dropped. Extents of
// consecutive pieces may touch: join them with Coalesce.
func FromBitmapAt(bitmap []byte, firstBit, granularity, capacity int64) iter.Seq[Extent] {
	return func(yield func(Extent) bool) {
		scanBitmap(bitmap, firstBit, granularity, capacity, yield)
	}
}

// FromBitmapSlice is FromBitmap returning a new slice.
func FromBitmapSlice(bitmap []byte, granularity, capacity int64) []Extent {
	var out []Extent
	scanBitmap(bitmap, 0, granularity, capacity, func(e Extent) bool {
		out = append(out, e)
		return true
	})
	return out
}

// scanBitmap yields the runs of set bits of bitmap as extents; see FromBitmapAt.
func scanBitmap(bitmap []byte, firstBit, granularity, capacity int64, yield func(Extent) bool) {
	if granularity <= 0 {
		return
	}
	limit := capacity
	if limit <= 0 {
		limit = math.MaxInt64
	}
	maxPos := math.MaxInt64 / granularity // bits past this one start past math.MaxInt64
	// emit yields the run of bits [i, j) and reports whether to go on.
	emit := func(i, j int64) bool {
		s := bitOffset(firstBit, i, granularity, maxPos)
		if s >= limit {
			return false
		}
		t := min(bitOffset(firstBit, j, granularity, maxPos), limit)
		if s < t && !yield(Extent{Offset: s, Length: t - s}) {
			return false
		}
		return t < limit
	}
	var runStart int64
	var carry uint64 // the last bit of the previous word: 1 inside a run
	for off := 0; off < len(bitmap); off += 8 {
		var w uint64
		if off+8 <= len(bitmap) {
			w = binary.LittleEndian.Uint64(bitmap[off:])
		} else {
			for k, b := range bitmap[off:] {
				w |= uint64(b) << (8 * k)
			}
		}
		// Fast path: a word that continues the current state, all zeros
		// outside a run or all ones inside one, holds no run boundary and
		// leaves carry as it is: skip it and those that follow. (A partial
		// last word only matches when it is zero outside a run.)
		if w == carry*math.MaxUint64 {
			off = skipWords(bitmap, off+8, w) - 8 // the loop adds 8 back
			continue
		}
		// Bit p of x is set where bit p of w differs from the bit before it: a
		// run starts or ends there, alternately. A word of zeros outside a run
		// or of ones inside one has none.
		x := w ^ (w<<1 | carry)
		carry = w >> 63
		base := int64(off) * 8
		for x != 0 {
			k := bits.TrailingZeros64(x)
			x &= x - 1
			if w&(1<<k) != 0 {
				runStart = base + int64(k)
			} else if !emit(runStart, base+int64(k)) {
				return
			}
		}
	}
	if carry != 0 { // a run reaches the end of the bitmap
		emit(runStart, int64(len(bitmap))*8)
	}
}

// skipWords returns the offset of the first 64-bit word at or after off that is
// not skip (all zeros or all ones), or of the last, partial word, or
// len(bitmap): four words at a time, then one at a time.
func skipWords(bitmap []byte, off int, skip uint64) int {
	for off+32 <= len(bitmap) {
		b := bitmap[off : off+32]
		if (binary.LittleEndian.Uint64(b)^skip)|(binary.LittleEndian.Uint64(b[8:])^skip)|
			(binary.LittleEndian.Uint64(b[16:])^skip)|(binary.LittleEndian.Uint64(b[24:])^skip) != 0 {
			break
		}
		off += 32
	}
	for off+8 <= len(bitmap) && binary.LittleEndian.Uint64(bitmap[off:]) == skip {
		off += 8
	}
	return off
}

// bitOffset returns (first+i)*g for i >= 0 and g > 0, 0 when that is negative and
// math.MaxInt64 when it is larger; maxPos is math.MaxInt64/g.
func bitOffset(first, i, g, maxPos int64) int64 {
	if first > math.MaxInt64-i {
		return math.MaxInt64
	}
	p := first + i
	if p <= 0 {
		return 0
	}
	if p > maxPos {
		return math.MaxInt64
	}
	return p * g
}
