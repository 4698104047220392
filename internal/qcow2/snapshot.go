package qcow2

import (
	"encoding/binary"
	"fmt"
	"io"
	"iter"
	"time"
)

// snapshotFixedLen is the length of the fixed part of a snapshot table entry.
const snapshotFixedLen = 40

// Snapshot is one entry of the snapshot table.
type Snapshot struct {
	EntryOffset   uint64 // file offset of the entry
	L1TableOffset uint64
	L1Size        uint32 // entries; may include entries for VM state
	ID            string // unique ID string (QEMU: "1", "2", ...)
	Name          string
	DateSec       uint32 // seconds since the Epoch
	DateNsec      uint32
	VMClockNsec   uint64 // guest run time at the snapshot, in nanoseconds
	// VMStateSize is the size of the saved VM state in bytes, 0 if none: the
	// 64-bit field of the extra data when present, else the 32-bit one.
	VMStateSize uint64
	// DiskSize is the virtual disk size at snapshot time (extra data bytes
	// 48-55), valid when HasDiskSize.
	DiskSize    uint64
	HasDiskSize bool
	// ICount is the record/replay instruction count (-1 when disabled), valid
	// when HasICount (extra data reaching byte 63).
	ICount    int64
	HasICount bool
	// ExtraData is the entry's extra data as stored (bytes 40 onwards, up to
	// MaxSnapshotExtraData bytes), including the fields decoded above.
	ExtraData []byte
}

// Date is the snapshot's creation time.
func (s *Snapshot) Date() time.Time { return time.Unix(int64(s.DateSec), int64(s.DateNsec)) }

// Snapshots reads the whole snapshot table (AllSnapshots, collected): the
// entries are returned only when the whole table is well formed. Memory is
// the entries returned (their ids, names and extra data: at most the
// table's size, MaxSnapshotTableBytes) plus what AllSnapshots holds. Errors
// as AllSnapshots.
func (img *Image) Snapshots() ([]Snapshot, error) {
	return collectSnapshots(img.AllSnapshots(), img.Header.NbSnapshots)
}

// AllSnapshots yields the entries of the snapshot table in table order, one
// at a time, reading the table sequentially through a small buffer: it holds
// one entry (at most 40 bytes, MaxSnapshotExtraData bytes of extra data and
// 2 x 65535 bytes of id and name), a 16 KiB read buffer and, to find
// duplicate ids, 24 bytes per entry read so far (at most 1.5 MiB for
// MaxSnapshots entries), never the table or the entries before.
//
// Its size is checked before anything is allocated: at most MaxSnapshots
// entries (checked by Open), each of at least 40 bytes inside the file, extra
// data of at most MaxSnapshotExtraData bytes, the whole table at most
// MaxSnapshotTableBytes, every entry inside the file. Each entry's disk size
// (the image's size for an entry without one) must be mapped by its own L1
// table, l1_size entries of Header.L1Span bytes each, as the header's size is
// by the active L1 table: so a walk of a snapshot's view never covers more
// than its L1 table in the file maps. Two entries with one id are refused
// (ids are unique; QEMU never writes two); names may repeat. Errors wrap
// ErrCorrupt and name the entry (index and file offset) and field; an error is
// yielded once and ends the sequence, after the entries before it (a caller
// that must trust the whole table collects it first, as Snapshots does). The
// entries' L1 tables are checked when a view is read.
func (img *Image) AllSnapshots() iter.Seq2[Snapshot, error] {
	h := &img.Header
	return snapshotTable(img.r, img.size, h, h.SnapshotsOffset, h.NbSnapshots)
}

// collectSnapshots collects a snapshot table of n entries.
func collectSnapshots(seq iter.Seq2[Snapshot, error], n uint32) ([]Snapshot, error) {
	if n == 0 {
		return nil, nil
	}
	var snaps []Snapshot
	for s, err := range seq {
		if err != nil {
			return nil, err
		}
		if snaps == nil {
			// Entries are at least 40 bytes of the file: n is bounded by it.
			snaps = make([]Snapshot, 0, n)
		}
		snaps = append(snaps, s)
	}
	return snaps, nil
}

// readSnapshotTable reads n snapshot entries at off of a file of size bytes
// whose header is h.
func readSnapshotTable(r io.ReaderAt, size int64, h *Header, off uint64, n uint32) ([]Snapshot, error) {
	return collectSnapshots(snapshotTable(r, size, h, off, n), n)
}

// snapshotTable yields the n snapshot entries at off of a file of size bytes
// whose header is h. Version 3 requires 16 bytes of extra data; QEMU repairs
// entries without and this reader accepts them (HasDiskSize false).
func snapshotTable(r io.ReaderAt, size int64, h *Header, off uint64, n uint32) iter.Seq2[Snapshot, error] {
	return func(yield func(Snapshot, error) bool) {
		if n == 0 {
			return
		}
		if n > MaxSnapshots {
			yield(Snapshot{}, formatErr(ErrCorrupt, 60, "nb_snapshots", n, "nb_snapshots = %d exceeds %d", n, MaxSnapshots))
			return
		}
		if !fits(off, uint64(n)*snapshotFixedLen, size) {
			yield(Snapshot{}, atErr(ErrCorrupt, off, "snapshot table", "cannot hold %d entries of at least %d bytes before the end of the file (%d bytes)", n, snapshotFixedLen, size))
			return
		}
		sr := newSeqReader(r, size, off, "snapshot table")
		ids := newNameSet()
		span := uint64(h.L1Span())
		for i := range int(n) {
			var s Snapshot
			s.EntryOffset = sr.pos
			fail := func(format string, args ...any) {
				yield(Snapshot{}, atErr(ErrCorrupt, s.EntryOffset, fmt.Sprintf("snapshot entry %d", i), format, args...))
			}
			if sr.pos-off > MaxSnapshotTableBytes {
				yield(Snapshot{}, atErr(ErrCorrupt, off, "snapshot table", "it is larger than %d bytes at entry %d", MaxSnapshotTableBytes, i))
				return
			}
			if !fits(s.EntryOffset, snapshotFixedLen, size) {
				fail("its first %d bytes end beyond the end of the file (%d bytes)", snapshotFixedLen, size)
				return
			}
			b, err := sr.next(snapshotFixedLen)
			if err != nil {
				yield(Snapshot{}, err)
				return
			}
			idLen, nameLen, extraLen := s.decodeFixed(b)
			if extraLen > MaxSnapshotExtraData {
				fail("extra_data_size (entry byte 36) = %d exceeds %d", extraLen, MaxSnapshotExtraData)
				return
			}
			rest := extraLen + idLen + nameLen
			// The padding to 8 bytes is not read: QEMU does not write it after the
			// last entry, which can end the file (observed with 512-byte clusters).
			if !fits(s.EntryOffset, snapshotFixedLen+rest, size) {
				fail("%d bytes (extra data %d, id %d, name %d) end beyond the end of the file (%d bytes)", snapshotFixedLen+rest, extraLen, idLen, nameLen, size)
				return
			}
			if s.EntryOffset+snapshotFixedLen+rest-off > MaxSnapshotTableBytes {
				yield(Snapshot{}, atErr(ErrCorrupt, off, "snapshot table", "it is larger than %d bytes at entry %d", MaxSnapshotTableBytes, i))
				return
			}
			b, err = sr.next(int(rest))
			if err != nil {
				yield(Snapshot{}, err)
				return
			}
			sr.skip(-(snapshotFixedLen + rest) & 7)
			s.decodeExtra(b[:extraLen])
			id := b[extraLen : extraLen+idLen]
			s.ID = string(id)
			s.Name = string(b[extraLen+idLen : rest])
			disk, what := h.Size, "the image's size (the entry records none)"
			if s.HasDiskSize {
				disk, what = s.DiskSize, "disk size (extra data bytes 8-15)"
			}
			if need := disk/span + min(disk%span, 1); need > uint64(s.L1Size) {
				fail("snapshot %s (id %s): %s %d needs %d L1 entries of %d bytes, but its L1 table has l1_size (entry byte 8) = %d", quoteName(s.Name), quoteName(s.ID), what, disk, need, span, s.L1Size)
				return
			}
			idLoc := nameLoc{off: s.EntryOffset + snapshotFixedLen + extraLen, n: uint32(idLen), index: uint32(i)}
			if j, dup, err := ids.add(r, size, id, idLoc, "snapshot id"); err != nil {
				yield(Snapshot{}, err)
				return
			} else if dup {
				yield(Snapshot{}, formatErr(ErrCorrupt, fileOff(s.EntryOffset), fmt.Sprintf("snapshot entry %d", i), s.ID, "snapshot entries %d and %d (at offset %#x) both have id %s: ids are unique, QEMU never writes two snapshots with one id", j, i, s.EntryOffset, quoteName(s.ID)))
				return
			}
			if !yield(s, nil) {
				return
			}
		}
	}
}

// decodeFixed decodes the fixed part of a snapshot table entry (its first
// snapshotFixedLen bytes) into s and returns the lengths of the id, the name
// and the extra data that follow.
func (s *Snapshot) decodeFixed(b []byte) (idLen, nameLen, extraLen uint64) {
	be := binary.BigEndian
	s.L1TableOffset = be.Uint64(b[0:])
	s.L1Size = be.Uint32(b[8:])
	s.DateSec = be.Uint32(b[16:])
	s.DateNsec = be.Uint32(b[20:])
	s.VMClockNsec = be.Uint64(b[24:])
	s.VMStateSize = uint64(be.Uint32(b[32:]))
	return uint64(be.Uint16(b[12:])), uint64(be.Uint16(b[14:])), uint64(be.Uint32(b[36:]))
}

// decodeExtra keeps the extra data of an entry and decodes the fields it
// has: the 64-bit VM state size, the disk size, the instruction count.
func (s *Snapshot) decodeExtra(extra []byte) {
	be := binary.BigEndian
	s.ExtraData = append([]byte(nil), extra...)
	if len(extra) >= 8 {
		s.VMStateSize = be.Uint64(extra[0:])
	}
	if len(extra) >= 16 {
		s.DiskSize = be.Uint64(extra[8:])
		s.HasDiskSize = true
	}
	if len(extra) >= 24 {
		s.ICount = int64(be.Uint64(extra[16:]))
		s.HasICount = true
	}
}

// seqReader reads consecutive pieces of a file through a small buffer.
type seqReader struct {
	r        io.ReaderAt
	size     int64
	pos      uint64 // file offset of the next byte to hand out
	buf      []byte
	bufStart uint64 // file offset of buf[0]
	what     string
}

const seqReaderBuf = 16 << 10

func newSeqReader(r io.ReaderAt, size int64, pos uint64, what string) *seqReader {
	return &seqReader{r: r, size: size, pos: pos, bufStart: pos, what: what}
}

// next returns the n bytes at the current position (valid until the next call)
// and advances. The caller has checked that they lie inside the file.
func (s *seqReader) next(n int) ([]byte, error) {
	if !fits(s.pos, uint64(n), s.size) {
		return nil, atErr(ErrCorrupt, s.pos, s.what, "%d bytes end beyond the end of the file (%d bytes)", n, s.size)
	}
	if s.pos >= s.bufStart && s.pos+uint64(n) <= s.bufStart+uint64(len(s.buf)) {
		b := s.buf[s.pos-s.bufStart : s.pos-s.bufStart+uint64(n)]
		s.pos += uint64(n)
		return b, nil
	}
	// Refill: at least n bytes, at most what is left of the file.
	want := max(uint64(n), min(seqReaderBuf, uint64(s.size)-s.pos))
	if uint64(cap(s.buf)) < want {
		s.buf = make([]byte, want)
	}
	s.buf = s.buf[:want]
	if err := readFull(s.r, s.buf, int64(s.pos), s.what); err != nil {
		return nil, err
	}
	s.bufStart = s.pos
	s.pos += uint64(n)
	return s.buf[:n], nil
}

// skip advances the position by n bytes without reading them.
func (s *seqReader) skip(n uint64) { s.pos += n }
