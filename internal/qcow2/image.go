package qcow2

import (
	"fmt"
	"io"
	"math"
	"sync"
)

// DefaultL2CacheBytes is the L2 cache capacity when Options.L2CacheBytes is 0.
const DefaultL2CacheBytes int64 = 32 << 20

// Options tune Open. A nil *Options means the defaults.
type Options struct {
	// L2CacheBytes bounds the memory the L2 table cache holds. 0 means
	// DefaultL2CacheBytes. The cache always keeps room for at least two tables,
	// whatever this says. It serves Lookup; the sequential walks (Diff,
	// Allocated, Clusters and their ranged forms) stream the L2 tables through
	// reused buffers instead.
	L2CacheBytes int64
}

// Image is an opened qcow2 image: the decoded header and header extensions, and
// the reader the other tables are read from on demand. An Image never writes.
// Its methods may be called from several goroutines at once (the L2 cache is
// locked, and each walk takes its own buffers from a pool); the exported fields
// must then not be modified.
type Image struct {
	Header Header

	BackingFile   string            // backing file name, "" if none
	BackingFormat string            // backing file format extension, "" if absent
	DataFile      string            // external data file name extension, "" if absent
	FeatureNames  []FeatureName     // feature name table extension
	BitmapsExt    *BitmapsExtension // bitmaps extension, nil if absent
	FDE           *FDEPointer       // full disk encryption header pointer, nil if absent
	Extensions    []Extension       // every header extension, known or not, in file order

	r       io.ReaderAt
	size    int64
	cache   *l2Cache
	checked l1Checked // L1 tables checked by checkL1Table

	l1Bufs     sync.Pool // of *[]byte: windows of L1 tables
	rawBufs    sync.Pool // of *[]byte of one cluster: raw L2 tables of sequential walks
	bitmapBufs sync.Pool // of *[]byte: bitmap data clusters (up to one cluster)
}

// Open decodes and checks the header and header extensions of the qcow2 image
// that r holds; size is the size of the file in bytes (for an *os.File, from
// Stat; for a bytes.Reader, its Size). Every offset and count read from the file
// is checked against size before anything is allocated for it, so a small file
// can never make Open or any method of the Image allocate much more than its own
// size (plus the L2 cache, itself bounded by the file size and
// Options.L2CacheBytes, and one or two one-cluster buffers per walk in
// progress, taken only once the file proved to hold a cluster there).
//
// Open refuses (errors wrap ErrNotQcow2, ErrCorrupt or ErrUnsupported): a wrong
// magic; a version other than 2 or 3; cluster_bits outside 9..21 (or below 14
// with extended L2 entries); a bad header_length or refcount_order; a size above
// 2^63-1; an unknown crypt_method or compression_type; the corrupt bit
// (incompatible bit 1) and any unknown incompatible bit (named from the feature
// name table when it has the bit); inconsistent feature combinations; a backing
// file name longer than 1023 bytes or outside the first cluster; a malformed
// header extension; an active L1 table that is misaligned, too small for the
// disk size, larger than 32 MiB or beyond the end of the file; a misaligned or
// out-of-file refcount table or snapshot table; more than 65536 snapshots.
//
// The snapshot table and the bitmap directory are read later, by Snapshots and
// Bitmaps.
func Open(r io.ReaderAt, size int64, opts *Options) (*Image, error) {
	if size < 0 {
		return nil, fmt.Errorf("qcow2: negative file size %d", size)
	}
	first, err := readAt(r, size, 0, uint64(min(size, V3MinHeaderLength)), "header")
	if err != nil {
		return nil, err
	}
	h, err := parseHeader(first, size)
	if err != nil {
		return nil, err
	}
	img := &Image{Header: *h, r: r, size: size}
	h = &img.Header
	cs := uint64(h.ClusterSize())

	// The header and its extensions, up to the end of the first cluster or the
	// backing file name, whichever comes first.
	extEnd := min(cs, uint64(size))
	if h.BackingFileOffset != 0 && h.BackingFileOffset < extEnd {
		extEnd = h.BackingFileOffset
	}
	if extEnd < uint64(h.HeaderLength) {
		extEnd = uint64(h.HeaderLength)
	}
	hdr, err := readAt(r, size, 0, extEnd, "header and header extensions")
	if err != nil {
		return nil, err
	}
	if h.HeaderLength > V3MinHeaderLength {
		h.CompressionType = CompressionType(hdr[104])
		if h.CompressionType > CompressionZstd {
			return nil, fieldErr(ErrUnsupported, 104, "compression_type", hdr[104], "want 0 (zlib) or 1 (zstd)")
		}
	}
	if err := img.parseExtensions(hdr[h.HeaderLength:], int64(h.HeaderLength)); err != nil {
		return nil, err
	}
	if err := h.checkFeatures(img.FeatureNames); err != nil {
		return nil, err
	}

	if err := img.readBackingName(); err != nil {
		return nil, err
	}
	if err := img.checkTables(); err != nil {
		return nil, err
	}

	capBytes := DefaultL2CacheBytes
	if opts != nil && opts.L2CacheBytes > 0 {
		capBytes = opts.L2CacheBytes
	}
	img.cache = newL2Cache(max(capBytes, 2*int64(cs)))
	return img, nil
}

// readBackingName checks the place of the backing file name and reads it.
func (img *Image) readBackingName() error {
	h := &img.Header
	cs := uint64(h.ClusterSize())
	if h.BackingFileOffset != 0 {
		n := uint64(h.BackingFileSize)
		if n > MaxBackingFileNameLen {
			return fieldErr(ErrCorrupt, 16, "backing_file_size", n, "exceeds %d", MaxBackingFileNameLen)
		}
		if h.BackingFileOffset > cs || n > cs-h.BackingFileOffset {
			return atErr(ErrCorrupt, h.BackingFileOffset, "backing file name", "%d bytes are not inside the first cluster (%d bytes)", n, cs)
		}
		name, err := readAt(img.r, img.size, h.BackingFileOffset, n, "backing file name")
		if err != nil {
			return err
		}
		img.BackingFile = string(name)
	}
	return nil
}

// checkTables checks the active L1 table, and that the refcount table and the
// snapshot table lie where they can (their entries are read later, if ever).
func (img *Image) checkTables() error {
	h := &img.Header
	cs := uint64(h.ClusterSize())
	// The active L1 table.
	if err := img.checkL1(img.ActiveView()); err != nil {
		return err
	}
	if need := h.L1EntriesFor(int64(h.Size)); int64(h.L1Size) < need {
		return fieldErr(ErrCorrupt, 36, "l1_size", h.L1Size, "but size %d needs %d entries", h.Size, need)
	}
	// The refcount table: not read, but its place must make sense.
	if h.RefcountTableOffset%cs != 0 {
		return fieldErrHex(ErrCorrupt, 48, "refcount_table_offset", h.RefcountTableOffset, "not aligned to the cluster size %d", cs)
	}
	if !fits(h.RefcountTableOffset, uint64(h.RefcountTableClusters)*cs, img.size) {
		return pastEOF("refcount table", h.RefcountTableOffset, fmt.Sprintf("%d clusters", h.RefcountTableClusters), img.size)
	}
	// The snapshot table: its entries are read by Snapshots.
	if h.NbSnapshots > MaxSnapshots {
		return fieldErr(ErrCorrupt, 60, "nb_snapshots", h.NbSnapshots, "exceeds %d", MaxSnapshots)
	}
	if h.NbSnapshots > 0 {
		if h.SnapshotsOffset%cs != 0 {
			return fieldErrHex(ErrCorrupt, 64, "snapshots_offset", h.SnapshotsOffset, "not aligned to the cluster size %d", cs)
		}
		if !fits(h.SnapshotsOffset, uint64(h.NbSnapshots)*snapshotFixedLen, img.size) {
			return atErr(ErrCorrupt, h.SnapshotsOffset, "snapshot table", "cannot hold nb_snapshots = %d entries of at least %d bytes before the end of the file (%d bytes)", h.NbSnapshots, snapshotFixedLen, img.size)
		}
	}
	return nil
}

// FileSize is the file size Open was given.
func (img *Image) FileSize() int64 { return img.size }

// BitmapsConsistent reports whether the bitmaps extension may be trusted: it is
// present, the image is version 3, and autoclear bit 0 is set. When it is
// false, every bitmap of the image must be considered inconsistent (a program
// without bitmap support wrote to the image).
func (img *Image) BitmapsConsistent() bool {
	return img.BitmapsExt != nil && img.Header.Version >= 3 && img.Header.AutoclearFeatures&AutoclearBitmaps != 0
}

// checkL1 checks that the L1 table of a view is aligned, within MaxL1Bytes and
// inside the file.
func (img *Image) checkL1(v View) error {
	off, n := v.L1TableOffset, v.L1Size
	if n == 0 {
		return nil
	}
	cs := uint64(img.Header.ClusterSize())
	if off%cs != 0 {
		return formatErr(ErrCorrupt, fileOff(off), "L1 table of the "+v.String(), nil, "L1 table of the %s: offset %#x is not aligned to the cluster size %d", v, off, cs)
	}
	if off == 0 {
		return formatErr(ErrCorrupt, 0, "L1 table of the "+v.String(), nil, "L1 table of the %s: offset is 0 (the header cluster) with %d entries", v, n)
	}
	if uint64(n)*8 > MaxL1Bytes {
		return formatErr(ErrUnsupported, fileOff(off), "L1 table of the "+v.String(), n, "L1 table of the %s at offset %#x has %d entries (%d bytes), above QEMU's limit of %d bytes", v, off, n, uint64(n)*8, MaxL1Bytes)
	}
	if !fits(off, uint64(n)*8, img.size) {
		return pastEOF("L1 table of the "+v.String(), off, fmt.Sprintf("%d entries", n), img.size)
	}
	return nil
}

// fits reports whether [off, off+n) lies inside a file of size bytes.
func fits(off, n uint64, size int64) bool {
	if size < 0 {
		return false
	}
	return off <= uint64(size) && n <= uint64(size)-off
}

// readAt reads exactly n bytes at off after checking that they lie inside the
// file; what names the structure for the error message.
func readAt(r io.ReaderAt, size int64, off, n uint64, what string) ([]byte, error) {
	if !fits(off, n, size) {
		return nil, pastEOF(what, off, fmt.Sprintf("%d bytes", n), size)
	}
	buf := make([]byte, n)
	if err := readFull(r, buf, int64(off), what); err != nil {
		return nil, err
	}
	return buf, nil
}

// readFull fills buf from off. The caller has checked the bounds.
func readFull(r io.ReaderAt, buf []byte, off int64, what string) error {
	if len(buf) == 0 {
		return nil
	}
	k, err := r.ReadAt(buf, off)
	if k == len(buf) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("qcow2: read %s (%d bytes at offset %d): %w", what, len(buf), off, err)
}

// toInt64 converts a size read from the file that must fit in an int64.
func toInt64(v uint64) (int64, bool) {
	if v > math.MaxInt64 {
		return 0, false
	}
	return int64(v), true
}
