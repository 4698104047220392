package qcow2

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
)

// Magic is the first four bytes of every qcow2 image.
const Magic = "QFI\xfb"

// Limits this package enforces. Most are QEMU's implementation limits; an image
// beyond one is refused before anything is allocated for it.
const (
	MinClusterBits           = 9         // 512-byte clusters
	MaxClusterBits           = 21        // 2 MiB clusters, QEMU's limit
	MinExtendedL2ClusterBits = 14        // extended L2 entries need 16 KiB clusters
	MaxBackingFileNameLen    = 1023      // bytes
	MaxL1Bytes               = 32 << 20  // QEMU's limit on one L1 table
	MaxSnapshots             = 65536     // entries in the snapshot table
	MaxSnapshotExtraData     = 1024      // bytes of extra data in one snapshot entry
	MaxSnapshotTableBytes    = 64 << 20  // bytes of the whole snapshot table
	MaxBitmaps               = 65535     // entries in the bitmap directory
	MaxBitmapNameLen         = 1023      // bytes
	MaxBitmapDirectoryBytes  = 64 << 20  // bytes of the whole bitmap directory
	MaxBitmapExtraData       = 1024      // bytes of extra data in one bitmap directory entry (QEMU writes none)
	MaxBitmapBytes           = 512 << 20 // bitmap_table_size x cluster size: QEMU's limit on one bitmap's data
	V2HeaderLength           = 72        // the fixed length of a version 2 header
	V3MinHeaderLength        = 104       // the shortest version 3 header
)

// Incompatible feature bits (Header.IncompatibleFeatures).
const (
	IncompatDirty           uint64 = 1 << 0 // refcounts may be inconsistent
	IncompatCorrupt         uint64 = 1 << 1 // any structure may be corrupt
	IncompatExternalData    uint64 = 1 << 2 // guest data lives in an external data file
	IncompatCompressionType uint64 = 1 << 3 // compression_type is not zlib
	IncompatExtendedL2      uint64 = 1 << 4 // 128-bit L2 entries with 32 subclusters

	incompatKnown = IncompatDirty | IncompatCorrupt | IncompatExternalData |
		IncompatCompressionType | IncompatExtendedL2
)

// Compatible and autoclear feature bits.
const (
	CompatLazyRefcounts      uint64 = 1 << 0 // compatible: lazy refcount updates
	AutoclearBitmaps         uint64 = 1 << 0 // autoclear: bitmaps extension is consistent
	AutoclearRawExternalData uint64 = 1 << 1 // autoclear: the external data file is a valid raw image
)

// CryptMethod is the header's crypt_method. Metadata is never encrypted, so
// every decoder in this package works on encrypted images too.
type CryptMethod uint32

// Crypt methods.
const (
	CryptNone CryptMethod = 0
	CryptAES  CryptMethod = 1
	CryptLUKS CryptMethod = 2
)

func (m CryptMethod) String() string {
	switch m {
	case CryptNone:
		return "none"
	case CryptAES:
		return "aes"
	case CryptLUKS:
		return "luks"
	}
	return fmt.Sprintf("crypt_method(%d)", uint32(m))
}

// CompressionType is the header's compression_type, the algorithm of every
// compressed cluster of the image.
type CompressionType uint8

// Compression types.
const (
	CompressionZlib CompressionType = 0 // raw deflate, no zlib header
	CompressionZstd CompressionType = 1
)

func (c CompressionType) String() string {
	switch c {
	case CompressionZlib:
		return "zlib"
	case CompressionZstd:
		return "zstd"
	}
	return fmt.Sprintf("compression_type(%d)", uint8(c))
}

// Header is the fixed part of the qcow2 header, every field as stored (version 2
// images have the version 3 fields at their implied values: no features,
// refcount_order 4, header_length 72, zlib).
type Header struct {
	Version               uint32 // 2 or 3
	BackingFileOffset     uint64 // 0: no backing file
	BackingFileSize       uint32 // length of the backing file name
	ClusterBits           uint32 // 9..21
	Size                  uint64 // virtual disk size in bytes (≤ math.MaxInt64)
	CryptMethod           CryptMethod
	L1Size                uint32 // entries of the active L1 table
	L1TableOffset         uint64
	RefcountTableOffset   uint64
	RefcountTableClusters uint32
	NbSnapshots           uint32
	SnapshotsOffset       uint64
	IncompatibleFeatures  uint64
	CompatibleFeatures    uint64
	AutoclearFeatures     uint64
	RefcountOrder         uint32 // refcount_bits = 1 << RefcountOrder
	HeaderLength          uint32
	CompressionType       CompressionType
}

// ClusterSize is 1 << ClusterBits.
func (h *Header) ClusterSize() int64 { return 1 << h.ClusterBits }

// ExtendedL2 reports incompatible bit 4: 128-bit L2 entries with subclusters.
func (h *Header) ExtendedL2() bool { return h.IncompatibleFeatures&IncompatExtendedL2 != 0 }

// ExternalDataFile reports incompatible bit 2: guest clusters live in an external
// data file, at host offset = guest offset.
func (h *Header) ExternalDataFile() bool { return h.IncompatibleFeatures&IncompatExternalData != 0 }

// Dirty reports incompatible bit 0: refcounts may be inconsistent (an image with
// lazy refcounts that was not closed cleanly). L1 and L2 tables stay
// authoritative, so nothing in this package depends on it.
func (h *Header) Dirty() bool { return h.IncompatibleFeatures&IncompatDirty != 0 }

// LazyRefcounts reports compatible bit 0.
func (h *Header) LazyRefcounts() bool { return h.CompatibleFeatures&CompatLazyRefcounts != 0 }

// RawExternalData reports autoclear bit 1: the external data file can be read
// as a raw image on its own.
func (h *Header) RawExternalData() bool { return h.AutoclearFeatures&AutoclearRawExternalData != 0 }

// RefcountBits is 1 << RefcountOrder.
func (h *Header) RefcountBits() int { return 1 << h.RefcountOrder }

// L2Entries is the number of entries of one L2 table: cluster_size/8, or
// cluster_size/16 with extended L2 entries.
func (h *Header) L2Entries() int64 {
	if h.ExtendedL2() {
		return h.ClusterSize() / 16
	}
	return h.ClusterSize() / 8
}

// SubclusterSize is the allocation unit: ClusterSize/32 with extended L2
// entries, ClusterSize otherwise.
func (h *Header) SubclusterSize() int64 {
	if h.ExtendedL2() {
		return h.ClusterSize() / 32
	}
	return h.ClusterSize()
}

// L1Span is the number of guest bytes one L1 entry (one L2 table) maps.
func (h *Header) L1Span() int64 { return h.L2Entries() * h.ClusterSize() }

// L1EntriesFor returns the number of L1 entries needed to map diskSize bytes.
func (h *Header) L1EntriesFor(diskSize int64) int64 {
	if diskSize <= 0 {
		return 0
	}
	span := h.L1Span()
	n := diskSize / span
	if diskSize%span != 0 {
		n++
	}
	return n
}

// parseHeader decodes and checks the fixed header from b, which holds at least
// the first min(104, file size) bytes of the file; fileSize is the file's size.
// It checks everything that does not need the header extensions.
func parseHeader(b []byte, fileSize int64) (*Header, error) {
	if len(b) < 4 || string(b[:4]) != Magic {
		n := min(len(b), 4)
		return nil, formatErr(ErrNotQcow2, 0, "magic", string(b[:n]), "magic (offset 0) is %q, want %q", b[:n], Magic)
	}
	if len(b) < 8 {
		return nil, formatErr(ErrCorrupt, 4, "version", nil, "file is %d bytes, too short for the version field (offset 4)", fileSize)
	}
	be := binary.BigEndian
	h := &Header{Version: be.Uint32(b[4:])}
	switch h.Version {
	case 2, 3:
	default:
		return nil, fieldErr(ErrUnsupported, 4, "version", h.Version, "want 2 or 3")
	}
	if len(b) < V2HeaderLength {
		return nil, formatErr(ErrCorrupt, fileSize, "header", nil, "file is %d bytes, shorter than the %d-byte header", fileSize, V2HeaderLength)
	}
	h.BackingFileOffset = be.Uint64(b[8:])
	h.BackingFileSize = be.Uint32(b[16:])
	h.ClusterBits = be.Uint32(b[20:])
	h.Size = be.Uint64(b[24:])
	h.CryptMethod = CryptMethod(be.Uint32(b[32:]))
	h.L1Size = be.Uint32(b[36:])
	h.L1TableOffset = be.Uint64(b[40:])
	h.RefcountTableOffset = be.Uint64(b[48:])
	h.RefcountTableClusters = be.Uint32(b[56:])
	h.NbSnapshots = be.Uint32(b[60:])
	h.SnapshotsOffset = be.Uint64(b[64:])
	h.RefcountOrder = 4
	h.HeaderLength = V2HeaderLength
	if h.Version >= 3 {
		if len(b) < V3MinHeaderLength {
			return nil, formatErr(ErrCorrupt, fileSize, "header", nil, "file is %d bytes, shorter than the %d-byte version 3 header", fileSize, V3MinHeaderLength)
		}
		h.IncompatibleFeatures = be.Uint64(b[72:])
		h.CompatibleFeatures = be.Uint64(b[80:])
		h.AutoclearFeatures = be.Uint64(b[88:])
		h.RefcountOrder = be.Uint32(b[96:])
		h.HeaderLength = be.Uint32(b[100:])
	}

	if h.ClusterBits < MinClusterBits {
		return nil, fieldErr(ErrCorrupt, 20, "cluster_bits", h.ClusterBits, "below the minimum %d", MinClusterBits)
	}
	if h.ClusterBits > MaxClusterBits {
		return nil, fieldErr(ErrUnsupported, 20, "cluster_bits", h.ClusterBits, "above QEMU's limit %d (2 MiB clusters)", MaxClusterBits)
	}
	cs := uint64(h.ClusterSize())
	if h.Version >= 3 {
		if h.HeaderLength < V3MinHeaderLength || h.HeaderLength%8 != 0 {
			return nil, fieldErr(ErrCorrupt, 100, "header_length", h.HeaderLength, "want a multiple of 8 that is at least %d", V3MinHeaderLength)
		}
		if uint64(h.HeaderLength) > cs {
			return nil, fieldErr(ErrCorrupt, 100, "header_length", h.HeaderLength, "exceeds the cluster size %d", cs)
		}
		if int64(h.HeaderLength) > fileSize {
			return nil, fieldErr(ErrCorrupt, 100, "header_length", h.HeaderLength, "exceeds the file size %d", fileSize)
		}
		if h.RefcountOrder > 6 {
			return nil, fieldErr(ErrCorrupt, 96, "refcount_order", h.RefcountOrder, "above the maximum 6")
		}
	}
	if h.Size > math.MaxInt64 {
		return nil, fieldErr(ErrUnsupported, 24, "size", h.Size, "exceeds 2^63-1")
	}
	if h.CryptMethod > CryptLUKS {
		return nil, fieldErr(ErrUnsupported, 32, "crypt_method", uint32(h.CryptMethod), "want 0 (none), 1 (AES) or 2 (LUKS)")
	}
	return h, nil
}

// checkFeatures refuses the corrupt bit, unknown incompatible bits and invalid
// feature combinations. names gives the image's own names for feature bits.
func (h *Header) checkFeatures(names []FeatureName) error {
	inc := h.IncompatibleFeatures
	if inc&IncompatCorrupt != 0 {
		return fieldErrHex(ErrCorrupt, 72, "incompatible_features", inc, "has bit 1 (%s) set: the image is marked corrupt", featureName(names, FeatureIncompatible, 1, "corrupt"))
	}
	if unknown := inc &^ incompatKnown; unknown != 0 {
		var parts []string
		for bit := range 64 {
			if unknown&(1<<bit) != 0 {
				parts = append(parts, fmt.Sprintf("bit %d (%s)", bit, featureName(names, FeatureIncompatible, uint8(bit), "unknown")))
			}
		}
		return fieldErrHex(ErrUnsupported, 72, "incompatible_features", inc, "has unknown %s set", strings.Join(parts, ", "))
	}
	if h.ExtendedL2() && h.ClusterBits < MinExtendedL2ClusterBits {
		return formatErr(ErrCorrupt, 20, "cluster_bits", h.ClusterBits, "extended L2 entries (incompatible bit 4) need cluster_bits >= %d, have %d", MinExtendedL2ClusterBits, h.ClusterBits)
	}
	if (inc&IncompatCompressionType != 0) != (h.CompressionType != CompressionZlib) {
		return formatErr(ErrCorrupt, -1, "compression_type", h.CompressionType, "incompatible_features (offset 72) bit 3 (compression type) is %t but compression_type (offset 104) = %d", inc&IncompatCompressionType != 0, h.CompressionType)
	}
	if h.RawExternalData() && !h.ExternalDataFile() {
		return fieldErrHex(ErrCorrupt, 88, "autoclear_features", h.AutoclearFeatures, "sets bit 1 (raw external data) without incompatible bit 2 (external data file)")
	}
	if h.RawExternalData() && h.BackingFileOffset != 0 {
		return fieldErr(ErrCorrupt, 8, "backing_file_offset", h.BackingFileOffset, "but a backing file is not allowed with raw external data (autoclear bit 1)")
	}
	if h.ExternalDataFile() && h.NbSnapshots != 0 {
		return fieldErr(ErrCorrupt, 60, "nb_snapshots", h.NbSnapshots, "but internal snapshots are not allowed with an external data file")
	}
	return nil
}

func featureName(names []FeatureName, t FeatureType, bit uint8, fallback string) string {
	for _, n := range names {
		if n.Type == t && n.Bit == bit && n.Name != "" {
			return quoteName(n.Name)
		}
	}
	return fallback
}
