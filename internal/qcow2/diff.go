package qcow2

import (
	"fmt"
	"iter"
	"math"

	"github.com/changedblocks/sdk/extent"
)

// Diff yields the guest ranges whose mapping differs between views a and b of
// this image: a superset of the bytes whose contents differ, never missing one.
// Order does not matter (Diff(a, b) and Diff(b, a) are the same).
//
// The comparison follows the copy-on-write rule of qcow2 (a host cluster or L2
// table that a snapshot references is never rewritten in place, so an equal
// reference means equal data):
//
//   - L1 entries are masked with L1OffsetMask (COPIED and reserved bits
//     dropped); equal entries skip the whole range their L2 table maps. A view
//     whose L1 table is shorter is padded with zero entries.
//   - Otherwise L2 entries are compared pairwise with COPIED (bit 63) masked; an
//     absent L2 table counts as all-zero entries. A different entry marks the
//     cluster changed. With extended L2 entries, when the first words are equal
//     (same host cluster) only the subclusters whose allocation or zero bits
//     differ are changed; when they differ the whole cluster is.
//   - Ranges are compared below the smaller disk size; the bytes between the
//     smaller and the larger disk size are reported changed. L1 entries beyond
//     a view's disk size (VM state) are never looked at.
//
// Extents are yielded in ascending order, adjacent ones merged. Memory is a
// window of each L1 table (at most 64 KiB) plus two raw L2 tables (one
// cluster each, reused for every table): the L2 tables are streamed, not
// cached; each L1 table is checked once per Image (see the package doc). An error (ErrCorrupt
// for a table outside the file or misaligned, or an I/O error) is yielded once
// and ends the sequence.
func (img *Image) Diff(a, b View) iter.Seq2[extent.Extent, error] {
	return img.DiffRange(a, b, 0, math.MaxInt64)
}

// DiffRange is Diff limited to the guest range [off, end): it reads only the
// L1 entries and L2 tables that map that range (the L1 tables are checked as
// a whole once per Image, so that paging through a disk range by range does
// not read them again) and yields the extents of Diff clipped to it. A range that starts at or after
// end yields nothing.
func (img *Image) DiffRange(a, b View, off, end int64) iter.Seq2[extent.Extent, error] {
	return func(yield func(extent.Extent, error) bool) {
		off = max(off, 0)
		if off >= end {
			return
		}
		if err := img.checkL1Table(a); err != nil {
			yield(extent.Extent{}, err)
			return
		}
		if err := img.checkL1Table(b); err != nil {
			yield(extent.Extent{}, err)
			return
		}
		h := &img.Header
		span := h.L1Span()
		lo, hi := min(a.DiskSize, b.DiskSize), max(a.DiskSize, b.DiskSize)

		var co extent.Coalescer
		emit := func(e extent.Extent) bool {
			e, ok := extent.ClipTo(e, off, end)
			if !ok {
				return true
			}
			if out, ok := co.Push(e); ok {
				return yield(out, nil)
			}
			return true
		}
		// Past the longer table both views are padded with zeros: equal.
		limit := min(int64(max(a.L1Size, b.L1Size)), h.L1EntriesFor(min(lo, end)))
		l1a, l1b := l1Reader{img: img, v: a}, l1Reader{img: img, v: b}
		defer l1a.release()
		defer l1b.release()
		sa, sb := l2Stream{img: img}, l2Stream{img: img}
		defer sa.release()
		defer sb.release()
		for i := off / span; i < limit; i++ {
			ea, err := l1a.entry(i, limit)
			if err != nil {
				yield(extent.Extent{}, err)
				return
			}
			eb, err := l1b.entry(i, limit)
			if err != nil {
				yield(extent.Extent{}, err)
				return
			}
			ea, eb = ea&L1OffsetMask, eb&L1OffsetMask
			if ea == eb {
				continue
			}
			ta, err := sa.read(ea, func() string { return fmt.Sprintf("%s L1 entry %d", a, i) })
			if err != nil {
				yield(extent.Extent{}, err)
				return
			}
			tb, err := sb.read(eb, func() string { return fmt.Sprintf("%s L1 entry %d", b, i) })
			if err != nil {
				yield(extent.Extent{}, err)
				return
			}
			if !diffL2Raw(h, ta, tb, i*span, lo, emit) {
				return
			}
		}
		if hi > lo && hi > off && lo < end && !emit(extent.Extent{Offset: lo, Length: hi - lo}) {
			return
		}
		if out, ok := co.Flush(); ok {
			yield(out, nil)
		}
	}
}

// diffL2 compares two decoded L2 tables (nil: absent, all entries 0) that map the guest
// range starting at base, and emits the changed clusters or subclusters below
// limit in ascending order. It reports whether to go on. Walks use diffL2Raw;
// this is its plain reference (the fuzz test checks they agree).
func diffL2(h *Header, ta, tb []uint64, base, limit int64, emit func(extent.Extent) bool) bool {
	cs, n := h.ClusterSize(), h.L2Entries()
	sub := cs / Subclusters
	for j := range n {
		g := base + j*cs
		if g >= limit {
			break
		}
		a1, a2 := h.l2Words(ta, j)
		b1, b2 := h.l2Words(tb, j)
		var mask uint32
		switch {
		case (a1^b1)&^FlagCopied != 0:
			mask = 0xffffffff
		case a2 != b2:
			x := a2 ^ b2
			mask = uint32(x) | uint32(x>>32)
		}
		if mask != 0 && !emitMask(g, mask, sub, limit, emit) {
			return false
		}
	}
	return true
}
