package qemutools

import (
	"bytes"
	"hash/maphash"

	"github.com/changedblocks/sdk/extent"
)

// SectorSize is the unit ground truth compares contents in.
const SectorSize = 512

// ChangedSectors returns the 512-byte sectors in which a and b differ,
// normalised; the bytes present in only one of them (between the two sizes)
// count as changed.
func ChangedSectors(a, b []byte) []extent.Extent {
	var out []extent.Extent
	n := min(len(a), len(b))
	for off := 0; off < n; off += SectorSize {
		end := min(off+SectorSize, n)
		if !bytes.Equal(a[off:end], b[off:end]) {
			out = append(out, extent.Extent{Offset: int64(off), Length: int64(end - off)})
		}
	}
	if len(a) != len(b) {
		out = append(out, extent.FromRange(int64(n), int64(max(len(a), len(b)))))
	}
	return extent.Normalize(out)
}

// NonZeroSectors returns the 512-byte sectors of b that hold a non-zero byte,
// normalised.
func NonZeroSectors(b []byte) []extent.Extent {
	var out []extent.Extent
	for off := 0; off < len(b); off += SectorSize {
		end := min(off+SectorSize, len(b))
		if !allZero(b[off:end]) {
			out = append(out, extent.Extent{Offset: int64(off), Length: int64(end - off)})
		}
	}
	return extent.Normalize(out)
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// Sectors is a compact fingerprint of a disk's contents: a 64-bit hash of
// each 512-byte sector (the last may be shorter), so that many views of a
// large disk can be kept and compared. Two sectors with the same contents
// have the same hash within one process; different contents collide with
// probability 2^-64.
type Sectors struct {
	Size int64    // bytes
	Sums []uint64 // one per sector
}

var (
	sectorSeed = maphash.MakeSeed()
	zeroSum    = maphash.Bytes(sectorSeed, make([]byte, SectorSize))
)

// SectorsOf fingerprints raw contents.
func SectorsOf(raw []byte) Sectors {
	s := Sectors{Size: int64(len(raw)), Sums: make([]uint64, 0, (len(raw)+SectorSize-1)/SectorSize)}
	for off := 0; off < len(raw); off += SectorSize {
		s.Sums = append(s.Sums, maphash.Bytes(sectorSeed, raw[off:min(off+SectorSize, len(raw))]))
	}
	return s
}

// Truncate returns the fingerprint of the first size bytes (size must be a
// multiple of 512 or the whole).
func (s Sectors) Truncate(size int64) Sectors {
	if size >= s.Size {
		return s
	}
	return Sectors{Size: size, Sums: s.Sums[:(size+SectorSize-1)/SectorSize]}
}

// Changed is ChangedSectors on fingerprints: the sectors whose contents
// differ, and the bytes between the two sizes.
func (s Sectors) Changed(o Sectors) []extent.Extent {
	var out []extent.Extent
	n := min(len(s.Sums), len(o.Sums))
	for i := range n {
		if s.Sums[i] != o.Sums[i] {
			out = append(out, extent.Extent{Offset: int64(i) * SectorSize, Length: SectorSize})
		}
	}
	if s.Size != o.Size {
		small := min(s.Size, o.Size)
		out = append(out, extent.FromRange(small, max(s.Size, o.Size)))
	}
	return extent.ClipSlice(extent.Normalize(out), 0, max(s.Size, o.Size))
}

// NonZero is NonZeroSectors on a fingerprint (a last sector shorter than 512
// bytes is always reported).
func (s Sectors) NonZero() []extent.Extent {
	var out []extent.Extent
	for i, h := range s.Sums {
		if h != zeroSum {
			out = append(out, extent.Extent{Offset: int64(i) * SectorSize, Length: SectorSize})
		}
	}
	return extent.ClipSlice(extent.Normalize(out), 0, s.Size)
}
