package qcow2

import (
	"encoding/binary"
	"fmt"
	"io"
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

// Snapshots reads the snapshot table. Its size is checked before anything is
// allocated: at most MaxSnapshots entries (checked by Open), each of at least
// 40 bytes inside the file, extra data of at most MaxSnapshotExtraData bytes,
// the whole table at most MaxSnapshotTableBytes, every entry inside the file.
// Errors wrap ErrCorrupt and name the entry (index and file offset) and field.
// The entries' L1 tables are checked when a view is read.
func (img *Image) Snapshots() ([]Snapshot, error) {
	h := &img.Header
	if h.NbSnapshots == 0 {
		return nil, nil
	}
	return readSnapshotTable(img.r, img.size, h.SnapshotsOffset, h.NbSnapshots)
}

// readSnapshotTable reads n snapshot entries at off of a file of size bytes.
// Version 3 requires 16 bytes of extra data; QEMU repairs entries without and
// this reader accepts them (HasDiskSize false).
func readSnapshotTable(r io.ReaderAt, size int64, off uint64, n uint32) ([]Snapshot, error) {
	if n > MaxSnapshots {
		return nil, fmt.Errorf("%w: nb_snapshots = %d exceeds %d", ErrCorrupt, n, MaxSnapshots)
	}
	if !fits(off, uint64(n)*snapshotFixedLen, size) {
		return nil, fmt.Errorf("%w: snapshot table at offset %#x cannot hold %d entries of at least %d bytes before the end of the file (%d bytes)", ErrCorrupt, off, n, snapshotFixedLen, size)
	}
	be := binary.BigEndian
	sr := newSeqReader(r, size, off, "snapshot table")
	snaps := make([]Snapshot, n)
	for i := range snaps {
		s := &snaps[i]
		s.EntryOffset = sr.pos
		if sr.pos-off > MaxSnapshotTableBytes {
			return nil, fmt.Errorf("%w: snapshot table at offset %#x is larger than %d bytes at entry %d", ErrCorrupt, off, MaxSnapshotTableBytes, i)
		}
		if !fits(s.EntryOffset, snapshotFixedLen, size) {
			return nil, fmt.Errorf("%w: snapshot entry %d at offset %#x: its first %d bytes end beyond the end of the file (%d bytes)", ErrCorrupt, i, s.EntryOffset, snapshotFixedLen, size)
		}
		b, err := sr.next(snapshotFixedLen)
		if err != nil {
			return nil, err
		}
		s.L1TableOffset = be.Uint64(b[0:])
		s.L1Size = be.Uint32(b[8:])
		idLen := uint64(be.Uint16(b[12:]))
		nameLen := uint64(be.Uint16(b[14:]))
		s.DateSec = be.Uint32(b[16:])
		s.DateNsec = be.Uint32(b[20:])
		s.VMClockNsec = be.Uint64(b[24:])
		s.VMStateSize = uint64(be.Uint32(b[32:]))
		extraLen := uint64(be.Uint32(b[36:]))
		if extraLen > MaxSnapshotExtraData {
			return nil, fmt.Errorf("%w: snapshot entry %d at offset %#x: extra_data_size (entry byte 36) = %d exceeds %d", ErrCorrupt, i, s.EntryOffset, extraLen, MaxSnapshotExtraData)
		}
		rest := extraLen + idLen + nameLen
		// The padding to 8 bytes is not read: QEMU does not write it after the
		// last entry, which can end the file (observed with 512-byte clusters).
		if !fits(s.EntryOffset, snapshotFixedLen+rest, size) {
			return nil, fmt.Errorf("%w: snapshot entry %d at offset %#x: %d bytes (extra data %d, id %d, name %d) end beyond the end of the file (%d bytes)", ErrCorrupt, i, s.EntryOffset, snapshotFixedLen+rest, extraLen, idLen, nameLen, size)
		}
		if s.EntryOffset+snapshotFixedLen+rest-off > MaxSnapshotTableBytes {
			return nil, fmt.Errorf("%w: snapshot table at offset %#x is larger than %d bytes at entry %d", ErrCorrupt, off, MaxSnapshotTableBytes, i)
		}
		b, err = sr.next(int(rest))
		if err != nil {
			return nil, err
		}
		sr.skip(-(snapshotFixedLen + rest) & 7)
		extra := b[:extraLen]
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
		s.ID = string(b[extraLen : extraLen+idLen])
		s.Name = string(b[extraLen+idLen : rest])
	}
	return snaps, nil
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
		return nil, fmt.Errorf("%w: %s: %d bytes at offset %#x end beyond the end of the file (%d bytes)", ErrCorrupt, s.what, n, s.pos, s.size)
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
