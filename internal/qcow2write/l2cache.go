package qcow2write

import (
	"encoding/binary"
	"fmt"
	"io"
)

// l2Budget is the memory the resident L2 tables may take when the writer
// can read its file back: the least used table beyond it is written to its
// place in the file and read back when needed again. Copies write in
// ascending order, so few tables are ever read back.
var l2Budget int64 = 8 << 20 // a variable for the tests

// l2Table is one L2 table of the image.
type l2Table struct {
	entries []uint64 // nil while evicted
	host    int64    // host cluster of its place in the file; 0 until first written
	pending int      // entries being written: a table with some stays resident
	used    uint64   // w.clock at its last use
}

// table returns the resident L2 table of L1 index i, made or read back as
// needed, and evicts another when too many are resident. w.mu is held.
func (w *Writer) table(i int64) (*l2Table, error) {
	w.clock++
	t := w.l2[i]
	if t == nil {
		t = &l2Table{entries: make([]uint64, w.l2Entries)}
		w.l2[i] = t
		w.resident++
	} else if t.entries == nil {
		b := make([]byte, w.cs)
		if _, err := w.r.ReadAt(b, t.host*w.cs); err != nil {
			return nil, fmt.Errorf("qcow2write: read back the L2 table of L1 entry %d at %d: %w", i, t.host*w.cs, err)
		}
		t.entries = make([]uint64, w.l2Entries)
		for j := range t.entries {
			t.entries[j] = binary.BigEndian.Uint64(b[j*8:])
		}
		w.resident++
	}
	t.used = w.clock
	if err := w.evict(t); err != nil {
		return nil, err
	}
	return t, nil
}

// evict writes out the least recently used resident tables, but keep and
// those with pending entries, until the resident ones fit the budget. A
// writer that cannot read its file back keeps every table.
func (w *Writer) evict(keep *l2Table) error {
	if w.r == nil {
		return nil
	}
	for w.resident*w.cs > max(l2Budget, 4*w.cs) {
		var lru *l2Table
		for _, t := range w.l2 {
			if t.entries != nil && t != keep && t.pending == 0 && (lru == nil || t.used < lru.used) {
				lru = t
			}
		}
		if lru == nil {
			return nil
		}
		if err := w.writeTable(lru); err != nil {
			return err
		}
		lru.entries = nil
		w.resident--
	}
	return nil
}

// writeTable writes a resident table to its place, given one first.
func (w *Writer) writeTable(t *l2Table) error {
	if t.host == 0 {
		t.host = w.next
		w.next++
	}
	b := make([]byte, w.cs)
	for j, e := range t.entries {
		binary.BigEndian.PutUint64(b[j*8:], e)
	}
	if _, err := w.f.WriteAt(b, t.host*w.cs); err != nil {
		return fmt.Errorf("qcow2write: write an L2 table at %d: %w", t.host*w.cs, err)
	}
	return nil
}

// readerOf returns f as an io.ReaderAt when it is one.
func readerOf(f io.WriterAt) io.ReaderAt {
	if r, ok := f.(io.ReaderAt); ok {
		return r
	}
	return nil
}
