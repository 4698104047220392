package qcow2

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
)

// L1 tables are never held whole by a walk: an L1 table may be 32 MiB (4 Mi
// entries) while a page of a listing needs a few entries of it. A walk reads
// the entries it needs window by window, at most l1WindowEntries at a time,
// into a buffer from a per-Image pool. What needs the whole table (that no
// two entries share an L2 table) is checked once per view, streaming the
// table, and remembered.

// l1WindowEntries is the most L1 entries read at once (64 KiB).
const l1WindowEntries = 8192

// checkedL1Views bounds the views whose L1 table an Image remembers as
// checked; a view forgotten is checked again when next walked.
const checkedL1Views = 64

// l1Key names an L1 table.
type l1Key struct {
	off uint64
	n   uint32
}

// l1Checked remembers the L1 tables that passed checkL1Table.
type l1Checked struct {
	mu   sync.Mutex
	keys []l1Key // most recent last
}

func (c *l1Checked) has(k l1Key) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Contains(c.keys, k)
}

func (c *l1Checked) add(k l1Key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if slices.Contains(c.keys, k) {
		return
	}
	if len(c.keys) >= checkedL1Views {
		c.keys = slices.Delete(c.keys, 0, 1)
	}
	c.keys = append(c.keys, k)
}

// l1Buf returns a window buffer of n entries (at most l1WindowEntries) from
// the pool; the caller has checked that the file holds n entries.
func (img *Image) l1Buf(n int64) *[]byte {
	n = min(n, l1WindowEntries)
	if p, ok := img.l1Bufs.Get().(*[]byte); ok {
		if int64(cap(*p)) >= 8*n {
			return p
		}
		img.l1Bufs.Put(p)
	}
	b := make([]byte, 8*n)
	return &b
}

// eachL1Window reads the L1 table of a view (placed as checkL1 requires)
// window by window and calls fn with the index of each window's first entry
// and its raw entries.
func (img *Image) eachL1Window(v View, fn func(i0 int64, raw []byte) error) error {
	bp := img.l1Buf(int64(v.L1Size))
	defer img.l1Bufs.Put(bp)
	for i0 := int64(0); i0 < int64(v.L1Size); i0 += l1WindowEntries {
		k := min(l1WindowEntries, int64(v.L1Size)-i0)
		raw := (*bp)[: 8*k : 8*k]
		if err := readFull(img.r, raw, int64(v.L1TableOffset)+8*i0, "L1 table"); err != nil {
			return fmt.Errorf("%s: %w", v, err)
		}
		if err := fn(i0, raw); err != nil {
			return err
		}
	}
	return nil
}

// checkL1Table checks the L1 table of a view (checkL1), and that no two of
// its entries point to the same L2 table (QEMU never shares an L2 table
// between two guest ranges, and refusing it keeps every walk linear in the
// file size), once per view: the Image remembers the tables that passed.
// It streams the table twice, counting and then collecting the L2 table
// offsets that lie in the file (one outside it is refused by the walk that
// reaches it): memory is a 64 KiB window and 4 bytes per L2 table named (8
// for a file of 2 TiB or more), at most 16 MiB (32 MiB) at QEMU's limit of
// 4 Mi entries, only while checking.
func (img *Image) checkL1Table(v View) error {
	key := l1Key{v.L1TableOffset, v.L1Size}
	if v.L1Size == 0 || img.checked.has(key) {
		return nil
	}
	if err := img.checkL1(v); err != nil {
		return err
	}
	inFile := func(e uint64) (uint64, bool) {
		off := e & L1OffsetMask
		return off, off != 0 && off < uint64(img.size)
	}
	count := 0
	if err := img.eachL1Window(v, func(_ int64, raw []byte) error {
		for k := 0; k < len(raw); k += 8 {
			if _, ok := inFile(binary.BigEndian.Uint64(raw[k:])); ok {
				count++
			}
		}
		return nil
	}); err != nil {
		return err
	}
	if count >= 2 {
		var dup uint64
		var found bool
		var err error
		// Offsets are multiples of 512 (L1OffsetMask) inside the file.
		if uint64(img.size)>>9 <= 1<<32 {
			dup, found, err = firstDuplicate[uint32](img, v, count, inFile)
		} else {
			dup, found, err = firstDuplicate[uint64](img, v, count, inFile)
		}
		if err != nil {
			return err
		}
		if found {
			var at []int64
			if err := img.eachL1Window(v, func(i0 int64, raw []byte) error {
				for k := 0; k < len(raw) && len(at) < 2; k += 8 {
					if binary.BigEndian.Uint64(raw[k:])&L1OffsetMask == dup {
						at = append(at, i0+int64(k/8))
					}
				}
				return nil
			}); err != nil {
				return err
			}
			return formatErr(ErrCorrupt, fileOff(dup), "L1 table of the "+v.String(), nil, "L1 table of the %s: entries %d and %d both point to the L2 table at %#x", v, at[0], at[1], dup)
		}
	}
	img.checked.add(key)
	return nil
}

// firstDuplicate collects the count L2 table offsets of the L1 table of v
// that inFile accepts, as offset/512 in a T, sorts them and returns the
// first offset that appears twice.
func firstDuplicate[T uint32 | uint64](img *Image, v View, count int, inFile func(uint64) (uint64, bool)) (uint64, bool, error) {
	offs := make([]T, 0, count)
	if err := img.eachL1Window(v, func(_ int64, raw []byte) error {
		for k := 0; k < len(raw) && len(offs) < count; k += 8 {
			if off, ok := inFile(binary.BigEndian.Uint64(raw[k:])); ok {
				offs = append(offs, T(off>>9))
			}
		}
		return nil
	}); err != nil {
		return 0, false, err
	}
	slices.Sort(offs)
	for k := 1; k < len(offs); k++ {
		if offs[k] == offs[k-1] {
			return uint64(offs[k]) << 9, true, nil
		}
	}
	return 0, false, nil
}

// l1Reader reads the entries of a view's L1 table for a walk, window by
// window, through a buffer from the Image's pool. The caller has checked the
// table (checkL1Table).
type l1Reader struct {
	img   *Image
	v     View
	buf   *[]byte
	raw   []byte // entries [start, start+len(raw)/8)
	start int64
}

// entry returns L1 entry i of the view (0 beyond its table). When i is
// outside the window read, it reads the window of entries [i, limit), at
// most l1WindowEntries of them: limit is where the walk stops, so that a
// walk of a few entries reads a few.
func (r *l1Reader) entry(i, limit int64) (uint64, error) {
	if i < 0 || i >= int64(r.v.L1Size) {
		return 0, nil
	}
	if i < r.start || i >= r.start+int64(len(r.raw)/8) {
		k := min(l1WindowEntries, int64(r.v.L1Size)-i, max(limit-i, 1))
		if r.buf != nil && int64(cap(*r.buf)) < 8*k {
			r.img.l1Bufs.Put(r.buf)
			r.buf = nil
		}
		if r.buf == nil {
			r.buf = r.img.l1Buf(k)
		}
		r.raw = (*r.buf)[:8*k]
		r.start = i
		if err := readFull(r.img.r, r.raw, int64(r.v.L1TableOffset)+8*i, "L1 table"); err != nil {
			r.raw = nil
			return 0, fmt.Errorf("%s: %w", r.v, err)
		}
	}
	return binary.BigEndian.Uint64(r.raw[8*(i-r.start):]), nil
}

// release returns the buffer to the pool.
func (r *l1Reader) release() {
	if r.buf != nil {
		r.img.l1Bufs.Put(r.buf)
		r.buf, r.raw = nil, nil
	}
}
