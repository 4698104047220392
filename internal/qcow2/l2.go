package qcow2

import (
	"encoding/binary"
	"fmt"
)

// Masks of L1 and L2 entries.
const (
	// L1OffsetMask selects bits 9-55 of an L1 entry, the L2 table offset; it
	// drops COPIED (bit 63) and the reserved bits.
	L1OffsetMask uint64 = 0x00fffffffffffe00
	// L2OffsetMask selects bits 9-55 of a standard L2 entry, the host cluster offset.
	L2OffsetMask uint64 = 0x00fffffffffffe00
	// FlagCopied is bit 63 of L1 and L2 entries: refcount exactly 1. It is only
	// accurate in the active tables and is ignored by every comparison here.
	FlagCopied uint64 = 1 << 63
	// FlagCompressed is bit 62 of an L2 entry.
	FlagCompressed uint64 = 1 << 62
	// FlagZero is bit 0 of a standard L2 entry (version 3 without extended L2):
	// the cluster reads as zeros.
	FlagZero uint64 = 1 << 0
)

// ClusterKind is the state of a guest cluster (or subcluster).
type ClusterKind uint8

// Cluster kinds.
const (
	// ClusterUnallocated reads from the backing file, or as zeros without one.
	ClusterUnallocated ClusterKind = iota
	// ClusterData reads from the host cluster at Cluster.HostOffset.
	ClusterData
	// ClusterZero reads as zeros; Cluster.HostOffset, when not 0, is a
	// preallocated host cluster that is not read.
	ClusterZero
	// ClusterCompressed reads by decompressing Cluster.CompressedSize bytes at
	// Cluster.HostOffset.
	ClusterCompressed
	// ClusterMixed is a cluster with extended L2 entries whose subclusters are
	// not all in the same state; see Cluster.Subcluster.
	ClusterMixed
)

func (k ClusterKind) String() string {
	switch k {
	case ClusterUnallocated:
		return "unallocated"
	case ClusterData:
		return "data"
	case ClusterZero:
		return "zero"
	case ClusterCompressed:
		return "compressed"
	case ClusterMixed:
		return "mixed"
	}
	return fmt.Sprintf("ClusterKind(%d)", uint8(k))
}

// Subclusters is the number of subclusters of a cluster with extended L2 entries.
const Subclusters = 32

// Cluster is one decoded L2 entry: what a guest cluster reads as.
type Cluster struct {
	Kind ClusterKind
	// HostOffset is the host cluster offset (data, or a zero cluster's
	// preallocation; 0 if none), or for a compressed cluster the byte offset of
	// its compressed data (usually not aligned). With an external data file it is
	// an offset into that file, equal to the guest offset.
	HostOffset uint64
	// CompressedSize is, for a compressed cluster, the number of bytes from
	// HostOffset to the end of the last 512-byte sector holding its data; the
	// compressed stream may end before.
	CompressedSize uint64
	// Copied is bit 63 (refcount exactly 1; only meaningful in active tables).
	Copied bool
	// Extended is true for an image with extended L2 entries and a cluster that
	// is not compressed: Kind summarises the subclusters and AllocMask and
	// ZeroMask hold their states (bit i for subcluster i).
	Extended  bool
	AllocMask uint32 // subclusters that read from HostOffset
	ZeroMask  uint32 // subclusters that read as zeros
}

// Subcluster returns the state of subcluster i (0..31) of an extended cluster;
// for a cluster without subclusters it returns Kind.
func (c Cluster) Subcluster(i int) ClusterKind {
	if !c.Extended || i < 0 || i >= Subclusters {
		return c.Kind
	}
	switch {
	case c.AllocMask&(1<<i) != 0:
		return ClusterData
	case c.ZeroMask&(1<<i) != 0:
		return ClusterZero
	}
	return ClusterUnallocated
}

// AllocatedMask returns, as a bitmap of the 32 subclusters, which parts of the
// cluster are allocated (data, zero or compressed, not unallocated). A cluster
// without subclusters is all or nothing.
func (c Cluster) AllocatedMask() uint32 {
	if c.Extended {
		return c.AllocMask | c.ZeroMask
	}
	if c.Kind == ClusterUnallocated {
		return 0
	}
	return 0xffffffff
}

// ZeroMaskOf returns, as a bitmap of the 32 subclusters, which parts of the
// cluster the entry itself says read as zeros (zero clusters and zero
// subclusters; an unallocated part reads from the backing file, so it is
// not in the mask).
func (c Cluster) ZeroMaskOf() uint32 {
	if c.Extended {
		return c.ZeroMask
	}
	if c.Kind == ClusterZero {
		return 0xffffffff
	}
	return 0
}

// DecodeL2Entry decodes an L2 entry of this image: entry is the 64-bit entry
// (the first word with extended L2 entries) and bitmap the subcluster bitmap
// (the second word; ignored without extended L2 entries). It returns an error
// wrapping ErrCorrupt for a misaligned host cluster offset, a compressed entry
// in an image with an external data file or with a non-zero subcluster bitmap,
// a subcluster that is both allocated and zero, an allocated subcluster without
// a host offset, and a compressed offset using bits that must be 0.
func (h *Header) DecodeL2Entry(entry, bitmap uint64) (Cluster, error) {
	c := Cluster{Copied: entry&FlagCopied != 0}
	cs := uint64(h.ClusterSize())
	if entry&FlagCompressed != 0 {
		if h.ExternalDataFile() {
			return c, formatErr(ErrCorrupt, -1, "L2 entry", entry, "L2 entry %#016x is compressed, which an image with an external data file cannot have", entry)
		}
		if h.ExtendedL2() && bitmap != 0 {
			return c, formatErr(ErrCorrupt, -1, "L2 entry", entry, "compressed L2 entry %#016x has subcluster bitmap %#016x, want 0", entry, bitmap)
		}
		x := 62 - (h.ClusterBits - 8)
		off := entry & (1<<x - 1)
		if off>>56 != 0 {
			return c, formatErr(ErrCorrupt, -1, "L2 entry", entry, "compressed L2 entry %#016x: host offset %#x uses bits above 55", entry, off)
		}
		sectors := (entry &^ (FlagCopied | FlagCompressed)) >> x
		c.Kind = ClusterCompressed
		c.HostOffset = off
		c.CompressedSize = (sectors+1)*512 - off%512
		c.Copied = false
		return c, nil
	}
	off := entry & L2OffsetMask
	if off%cs != 0 {
		return c, formatErr(ErrCorrupt, -1, "L2 entry", entry, "L2 entry %#016x: host cluster offset %#x is not aligned to the cluster size %d", entry, off, cs)
	}
	c.HostOffset = off
	// Offset 0 means no host cluster, except with an external data file, where
	// guest cluster 0 is at host offset 0 and bit 63 tells it is allocated.
	hasHost := off != 0 || (h.ExternalDataFile() && c.Copied)
	if h.ExtendedL2() {
		c.Extended = true
		c.AllocMask = uint32(bitmap)
		c.ZeroMask = uint32(bitmap >> 32)
		if both := c.AllocMask & c.ZeroMask; both != 0 {
			return c, formatErr(ErrCorrupt, -1, "L2 entry", entry, "extended L2 entry (%#016x, %#016x): subclusters %#08x are both allocated and zero", entry, bitmap, both)
		}
		if !hasHost && c.AllocMask != 0 {
			return c, formatErr(ErrCorrupt, -1, "L2 entry", entry, "extended L2 entry (%#016x, %#016x): subclusters %#08x are allocated but there is no host cluster", entry, bitmap, c.AllocMask)
		}
		switch {
		case c.AllocMask == 0 && c.ZeroMask == 0:
			c.Kind = ClusterUnallocated
		case c.AllocMask == 0xffffffff:
			c.Kind = ClusterData
		case c.ZeroMask == 0xffffffff:
			c.Kind = ClusterZero
		default:
			c.Kind = ClusterMixed
		}
		return c, nil
	}
	zero := h.Version >= 3 && entry&FlagZero != 0
	switch {
	case zero:
		c.Kind = ClusterZero
	case hasHost:
		c.Kind = ClusterData
	default:
		c.Kind = ClusterUnallocated
	}
	return c, nil
}

// decodeTable decodes big-endian 64-bit words.
func decodeTable(b []byte) []uint64 {
	t := make([]uint64, len(b)/8)
	for i := range t {
		t[i] = binary.BigEndian.Uint64(b[8*i:])
	}
	return t
}

// l2Words returns the two words of L2 entry j of table t (nil means an absent
// table: all entries 0). The second word is 0 without extended L2 entries.
func (h *Header) l2Words(t []uint64, j int64) (uint64, uint64) {
	if t == nil {
		return 0, 0
	}
	if h.ExtendedL2() {
		return t[2*j], t[2*j+1]
	}
	return t[j], 0
}

// checkL2At checks that an L2 table at the host offset off is aligned and
// inside the file; what names the L1 entry that points there.
func (img *Image) checkL2At(off uint64, what func() string) error {
	cs := uint64(img.Header.ClusterSize())
	if off%cs != 0 {
		w := what() + ": L2 table"
		return formatErr(ErrCorrupt, fileOff(off), w, nil, "%s offset %#x is not aligned to the cluster size %d", w, off, cs)
	}
	if !fits(off, cs, img.size) {
		w := what() + ": L2 table"
		return formatErr(ErrCorrupt, fileOff(off), w, nil, "%s at offset %#x ends beyond the end of the file (%d bytes)", w, off, img.size)
	}
	return nil
}

// readL2 returns the L2 table at the host offset off (an L1 entry masked with
// L1OffsetMask), from the cache or the file; what names the L1 entry for errors.
func (img *Image) readL2(off uint64, what func() string) ([]uint64, error) {
	if t, ok := img.cache.get(off); ok {
		return t, nil
	}
	cs := uint64(img.Header.ClusterSize())
	if err := img.checkL2At(off, what); err != nil {
		return nil, err
	}
	buf := make([]byte, cs)
	if err := readFull(img.r, buf, int64(off), "L2 table"); err != nil {
		return nil, err
	}
	t := decodeTable(buf)
	img.cache.put(off, t)
	return t, nil
}
