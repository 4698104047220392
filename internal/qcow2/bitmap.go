package qcow2

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"iter"
	"math"
	"slices"
	"sync"

	"github.com/changedblocks/sdk/extent"
)

// Bitmap directory entry flags.
const (
	BitmapFlagInUse               uint32 = 1 << 0 // not saved correctly; may be inconsistent
	BitmapFlagAuto                uint32 = 1 << 1 // enabled: tracks every write
	BitmapFlagExtraDataCompatible uint32 = 1 << 2 // unknown extra data may be ignored

	bitmapFlagsKnown = BitmapFlagInUse | BitmapFlagAuto | BitmapFlagExtraDataCompatible
)

// BitmapTypeDirtyTracking is the only bitmap type the format defines.
const BitmapTypeDirtyTracking uint8 = 1

const bitmapEntryFixedLen = 24

// Bitmap is one entry of the bitmap directory: a persistent dirty bitmap.
type Bitmap struct {
	EntryOffset     uint64 // file offset of the directory entry
	Name            string
	TableOffset     uint64 // file offset of the bitmap table
	TableSize       uint32 // entries of the bitmap table
	Flags           uint32
	Type            uint8 // BitmapTypeDirtyTracking
	GranularityBits uint8 // one bit covers 1<<GranularityBits bytes
	ExtraData       []byte
}

// InUse reports flag bit 0: the bitmap was not saved correctly (QEMU crashed or
// still has the image open) and its contents must not be trusted.
func (b *Bitmap) InUse() bool { return b.Flags&BitmapFlagInUse != 0 }

// Auto reports flag bit 1: the bitmap is enabled and records every write.
func (b *Bitmap) Auto() bool { return b.Flags&BitmapFlagAuto != 0 }

// ExtraDataCompatible reports flag bit 2: the bitmap may be used even though its
// extra data is not understood.
func (b *Bitmap) ExtraDataCompatible() bool { return b.Flags&BitmapFlagExtraDataCompatible != 0 }

// Granularity is the number of guest bytes one bit covers (1 << GranularityBits).
func (b *Bitmap) Granularity() uint64 { return 1 << b.GranularityBits }

// Bitmaps reads the whole bitmap directory (AllBitmaps, collected); nil
// without a bitmaps extension. The entries are returned only when the whole
// directory is well formed. Memory is the entries returned (their names and
// extra data: at most the directory's size, MaxBitmapDirectoryBytes) plus
// what AllBitmaps holds. Errors as AllBitmaps.
func (img *Image) Bitmaps() ([]Bitmap, error) {
	if img.BitmapsExt == nil {
		return nil, nil
	}
	var bms []Bitmap
	for b, err := range img.AllBitmaps() {
		if err != nil {
			return nil, err
		}
		if bms == nil {
			// Entries are at least 24 bytes of the directory, which is
			// inside the file: the count is bounded by it.
			bms = make([]Bitmap, 0, img.BitmapsExt.NbBitmaps)
		}
		bms = append(bms, b)
	}
	return bms, nil
}

// AllBitmaps yields the entries of the bitmap directory in directory order,
// one at a time; nothing without a bitmaps extension. Whether the bitmaps
// may be trusted at all is Image.BitmapsConsistent (and each entry's InUse);
// AllBitmaps decodes them regardless. The directory is read sequentially
// through a small buffer: it holds one entry (at most 24 bytes,
// MaxBitmapExtraData bytes of extra data and MaxBitmapNameLen bytes of
// name), a 16 KiB read buffer and, to find duplicate names, 24 bytes per
// entry read so far (at most 1.5 MiB for MaxBitmaps entries), never the
// directory or the entries before.
//
// Before reading, it checks the extension (1 <= nb_bitmaps <= 65535, reserved
// field 0, directory cluster-aligned, at most MaxBitmapDirectoryBytes, inside
// the file, at least 24 bytes per entry). Each entry must fit in the
// directory, the entries must fill it exactly, names must be non-empty and
// unique; flags bits 3-31, types other than 1, names longer than 1023 bytes,
// more than MaxBitmapExtraData bytes of extra data, and bitmap tables whose
// clusters hold more than MaxBitmapBytes (QEMU's limits) are refused with
// ErrUnsupported; a granularity_bits above 63, a misaligned bitmap table or
// one beyond the end of the file is ErrCorrupt. An error is yielded once and
// ends the sequence, after the entries before it (a caller that must trust
// the whole directory collects it first, as Bitmaps does).
func (img *Image) AllBitmaps() iter.Seq2[Bitmap, error] {
	return func(yield func(Bitmap, error) bool) {
		ext := img.BitmapsExt
		if ext == nil {
			return
		}
		if ext.NbBitmaps == 0 || ext.NbBitmaps > MaxBitmaps {
			yield(Bitmap{}, img.bitmapsExtErr("nb_bitmaps", 0, ext.NbBitmaps, "nb_bitmaps = %d, want 1..%d", ext.NbBitmaps, MaxBitmaps))
			return
		}
		if ext.Reserved != 0 {
			yield(Bitmap{}, img.bitmapsExtErr("reserved", 4, ext.Reserved, "reserved field (byte 4) = %#x, want 0", ext.Reserved))
			return
		}
		cs := uint64(img.Header.ClusterSize())
		if ext.DirectoryOffset%cs != 0 {
			yield(Bitmap{}, img.bitmapsExtErr("bitmap_directory_offset", 16, ext.DirectoryOffset, "bitmap_directory_offset = %#x is not aligned to the cluster size %d", ext.DirectoryOffset, cs))
			return
		}
		if ext.DirectorySize > MaxBitmapDirectoryBytes {
			yield(Bitmap{}, img.bitmapsExtErr("bitmap_directory_size", 8, ext.DirectorySize, "bitmap_directory_size = %d exceeds %d", ext.DirectorySize, MaxBitmapDirectoryBytes))
			return
		}
		if ext.DirectorySize < uint64(ext.NbBitmaps)*bitmapEntryFixedLen {
			yield(Bitmap{}, img.bitmapsExtErr("bitmap_directory_size", 8, ext.DirectorySize, "bitmap_directory_size = %d is too small for nb_bitmaps = %d entries of at least %d bytes", ext.DirectorySize, ext.NbBitmaps, bitmapEntryFixedLen))
			return
		}
		if !fits(ext.DirectoryOffset, ext.DirectorySize, img.size) {
			yield(Bitmap{}, formatErr(ErrCorrupt, fileOff(ext.DirectoryOffset), "bitmap directory", nil, "bitmap directory at offset %d (%#x), %d bytes, ends beyond the end of the file (%d bytes)", ext.DirectoryOffset, ext.DirectoryOffset, ext.DirectorySize, img.size))
			return
		}
		bitmapDirectory(img.r, ext.DirectoryOffset, ext.DirectorySize, ext.NbBitmaps, cs, img.size)(yield)
	}
}

// bitmapsExtErr is a problem with the field name at byte rel of the bitmaps
// extension's data.
func (img *Image) bitmapsExtErr(name string, rel int64, val any, format string, args ...any) error {
	off := int64(-1)
	for _, x := range img.Extensions {
		if x.Type == ExtBitmaps {
			off = int64(x.Offset) + rel
		}
	}
	return formatErr(ErrCorrupt, off, name, val, "bitmaps extension (field at offset %d): %s", off, fmt.Sprintf(format, args...))
}

// checkEntry checks the fields of directory entry i at offset at, decoded
// into b (nameLen is its name_size), for a file of fileSize bytes with
// clusters of cs bytes.
func (b *Bitmap) checkEntry(i int, at, nameLen, cs uint64, fileSize int64) error {
	bad := func(cls error, format string, args ...any) error {
		return formatErr(cls, fileOff(at), fmt.Sprintf("bitmap directory entry %d", i), nil, "bitmap %s (entry %d at offset %#x): %s", quoteName(b.Name), i, at, fmt.Sprintf(format, args...))
	}
	switch {
	case nameLen == 0:
		return atErr(ErrCorrupt, at, fmt.Sprintf("bitmap directory entry %d", i), "name_size (entry byte 18) is 0")
	case nameLen > MaxBitmapNameLen:
		return bad(ErrUnsupported, "name_size = %d exceeds %d", nameLen, MaxBitmapNameLen)
	case b.Flags&^bitmapFlagsKnown != 0:
		return bad(ErrUnsupported, "flags (entry byte 12) = %#x has reserved bits %#x set", b.Flags, b.Flags&^bitmapFlagsKnown)
	case b.Type != BitmapTypeDirtyTracking:
		return bad(ErrUnsupported, "type (entry byte 16) = %d, want 1 (dirty tracking)", b.Type)
	case b.GranularityBits > 63:
		return bad(ErrCorrupt, "granularity_bits (entry byte 17) = %d, want 0..63", b.GranularityBits)
	case b.TableOffset%cs != 0:
		return bad(ErrCorrupt, "bitmap_table_offset = %#x is not aligned to the cluster size %d", b.TableOffset, cs)
	case b.TableSize != 0 && b.TableOffset == 0:
		return bad(ErrCorrupt, "bitmap_table_offset is 0 with %d entries", b.TableSize)
	case !fits(b.TableOffset, uint64(b.TableSize)*8, fileSize):
		return bad(ErrCorrupt, "bitmap table at %#x, %d entries, ends beyond the end of the file (%d bytes)", b.TableOffset, b.TableSize, fileSize)
	case uint64(b.TableSize)*cs > MaxBitmapBytes:
		return bad(ErrUnsupported, "bitmap_table_size = %d: %d clusters of %d bytes exceed QEMU's limit of %d bytes of bitmap", b.TableSize, b.TableSize, cs, MaxBitmapBytes)
	}
	return nil
}

// decodeBitmapDirectory decodes nb entries that must fill dir exactly; dir
// is at file offset 0, in a file of fileSize bytes with clusters of cs bytes.
func decodeBitmapDirectory(dir []byte, nb uint32, cs uint64, fileSize int64) ([]Bitmap, error) {
	var bms []Bitmap
	for b, err := range bitmapDirectory(bytes.NewReader(dir), 0, uint64(len(dir)), nb, cs, fileSize) {
		if err != nil {
			return nil, err
		}
		bms = append(bms, b)
	}
	return bms, nil
}

// bitmapDirectory yields the nb entries of the directory of dirSize bytes at
// base that r reads (the caller checked it lies in r), which they must fill
// exactly; bitmap tables must lie in a file of fileSize bytes with clusters
// of cs bytes.
func bitmapDirectory(r io.ReaderAt, base, dirSize uint64, nb uint32, cs uint64, fileSize int64) iter.Seq2[Bitmap, error] {
	return func(yield func(Bitmap, error) bool) {
		if dirSize < uint64(nb)*bitmapEntryFixedLen {
			yield(Bitmap{}, atErr(ErrCorrupt, base, "bitmap directory", "%d bytes are too small for %d entries", dirSize, nb))
			return
		}
		be := binary.BigEndian
		end := base + dirSize
		sr := newSeqReader(r, int64(end), base, "bitmap directory")
		names := newNameSet()
		for i := range int(nb) {
			var b Bitmap
			at := sr.pos
			b.EntryOffset = at
			left := end - at
			if left < bitmapEntryFixedLen {
				yield(Bitmap{}, atErr(ErrCorrupt, at, fmt.Sprintf("bitmap directory entry %d", i), "only %d bytes left in the directory", left))
				return
			}
			e, err := sr.next(bitmapEntryFixedLen)
			if err != nil {
				yield(Bitmap{}, err)
				return
			}
			b.TableOffset = be.Uint64(e[0:])
			b.TableSize = be.Uint32(e[8:])
			b.Flags = be.Uint32(e[12:])
			b.Type = e[16]
			b.GranularityBits = e[17]
			nameLen := uint64(be.Uint16(e[18:]))
			extraLen := uint64(be.Uint32(e[20:]))
			total := (bitmapEntryFixedLen + extraLen + nameLen + 7) &^ 7
			if total > left {
				yield(Bitmap{}, atErr(ErrCorrupt, at, fmt.Sprintf("bitmap directory entry %d", i), "%d bytes (extra data %d, name %d) exceed the %d bytes left in the directory", total, extraLen, nameLen, left))
				return
			}
			if extraLen > MaxBitmapExtraData {
				yield(Bitmap{}, atErr(ErrUnsupported, at, fmt.Sprintf("bitmap directory entry %d", i), "extra_data_size (entry byte 20) = %d exceeds %d (QEMU writes none)", extraLen, MaxBitmapExtraData))
				return
			}
			v, err := sr.next(int(extraLen + nameLen))
			if err != nil {
				yield(Bitmap{}, err)
				return
			}
			sr.skip(total - bitmapEntryFixedLen - extraLen - nameLen)
			b.ExtraData = append([]byte(nil), v[:extraLen]...)
			name := v[extraLen:]
			b.Name = string(name)

			if err := b.checkEntry(i, at, nameLen, cs, fileSize); err != nil {
				yield(Bitmap{}, err)
				return
			}
			loc := nameLoc{off: at + bitmapEntryFixedLen + extraLen, n: uint32(nameLen), index: uint32(i)}
			if j, dup, err := names.add(r, int64(end), name, loc, "bitmap name"); err != nil {
				yield(Bitmap{}, err)
				return
			} else if dup {
				yield(Bitmap{}, formatErr(ErrCorrupt, fileOff(at), fmt.Sprintf("bitmap directory entry %d", i), b.Name, "bitmap directory entries %d and %d (at offset %#x) are both named %s", j, i, at, quoteName(b.Name)))
				return
			}
			if !yield(b, nil) {
				return
			}
		}
		if sr.pos != end {
			yield(Bitmap{}, atErr(ErrCorrupt, base, "bitmap directory", "%d entries take %d bytes, but bitmap_directory_size is %d", nb, sr.pos-base, dirSize))
		}
	}
}

// BitmapTableEntry is one entry of a bitmap table.
type BitmapTableEntry uint64

const (
	bitmapTableOffsetMask uint64 = 0x00fffffffffffe00
	bitmapTableAllOnes    uint64 = 1
	bitmapTableReserved          = ^(bitmapTableOffsetMask | bitmapTableAllOnes)
)

// Offset is the host offset of the entry's data cluster; 0 when the cluster is
// not stored (then AllOnes tells its value).
func (e BitmapTableEntry) Offset() uint64 { return uint64(e) & bitmapTableOffsetMask }

// AllOnes reports, for an entry without a data cluster, that the whole cluster
// of the bitmap reads as ones (bit 0); otherwise it reads as zeros.
func (e BitmapTableEntry) AllOnes() bool { return e.Offset() == 0 && uint64(e)&bitmapTableAllOnes != 0 }

// tableEntryErr is a problem with entry k (value v) of b's bitmap table,
// whose place in the file is b.TableOffset+8k; why follows "= v" as written,
// its own punctuation first.
func (b *Bitmap) tableEntryErr(k int, v uint64, why string, args ...any) error {
	what := fmt.Sprintf("bitmap %s table entry %d", quoteName(b.Name), k)
	off := b.TableOffset + 8*uint64(k)
	return formatErr(ErrCorrupt, fileOff(off), what, v, "%s (at offset %#x) = %#016x%s", what, off, v, fmt.Sprintf(why, args...))
}

// check returns an error for reserved bits, a misaligned offset, or bit 0 set
// together with an offset.
func (e BitmapTableEntry) check(b *Bitmap, k int, cs uint64) error {
	v := uint64(e)
	switch {
	case v&bitmapTableReserved != 0:
		return b.tableEntryErr(k, v, " has reserved bits set")
	case e.Offset()%cs != 0:
		return b.tableEntryErr(k, v, ": data cluster offset is not aligned to the cluster size %d", cs)
	case e.Offset() != 0 && v&bitmapTableAllOnes != 0:
		return b.tableEntryErr(k, v, ": bit 0 is set together with a data cluster offset")
	}
	return nil
}

// BitmapTable reads the whole bitmap table of b (TableSize entries, whose place
// Bitmaps checked against the file size). Errors: ErrCorrupt when the table
// ends beyond the end of the file (a Bitmap not from Bitmaps); I/O errors. The
// entries are not checked; DirtyExtents checks those it uses.
func (img *Image) BitmapTable(b *Bitmap) ([]BitmapTableEntry, error) {
	raw, err := readAt(img.r, img.size, b.TableOffset, uint64(b.TableSize)*8, "bitmap table")
	if err != nil {
		return nil, fmt.Errorf("bitmap %s: %w", quoteName(b.Name), err)
	}
	t := make([]BitmapTableEntry, len(raw)/8)
	for i := range t {
		t[i] = BitmapTableEntry(binary.BigEndian.Uint64(raw[8*i:]))
	}
	return t, nil
}

// DirtyExtents yields the ranges of a disk of diskSize bytes that bitmap b marks
// dirty: bit n (least-significant bit first within each byte) covers
// [n*granularity, (n+1)*granularity), clipped to diskSize. The bitmap is read
// one data cluster at a time into one reused buffer; a table entry without a
// data cluster is all clean, or all dirty when its bit 0 is set. Extents are
// ascending, adjacent ones merged.
//
// It does not look at InUse or BitmapsConsistent: the caller decides whether
// the bitmap may be trusted. Errors, yielded once: ErrCorrupt when the table has
// fewer entries than diskSize needs, or an entry has reserved bits, a misaligned
// offset, a data cluster beyond the end of the file or one that an earlier
// entry uses too (so that the work stays linear in the file size); I/O errors.
func (img *Image) DirtyExtents(b *Bitmap, diskSize int64) iter.Seq2[extent.Extent, error] {
	return img.DirtyExtentsRange(b, diskSize, 0, math.MaxInt64)
}

// DirtyExtentsRange is DirtyExtents limited to the guest range [off, end): it
// reads only the bitmap table entries, and the bytes of the data clusters,
// that cover that range and yields the extents of DirtyExtents clipped to
// it. The table's length is checked against diskSize as DirtyExtents does;
// the entries of the range are checked before any extent is yielded (a data
// cluster shared by two entries is found only when both are in the range).
// Memory: the entries of the range, twice (8 bytes each: at most 8 MiB for
// a whole table within QEMU's limit, MaxBitmapBytes), and the bytes of one
// data cluster.
func (img *Image) DirtyExtentsRange(b *Bitmap, diskSize, off, end int64) iter.Seq2[extent.Extent, error] {
	return img.dirtyExtents(b, diskSize, off, end, func(k0, k1, _ uint64) ([]byte, bool, error) {
		t, err := readAt(img.r, img.size, b.TableOffset+k0*8, (k1-k0)*8, "bitmap table")
		return t, false, err
	})
}

// BitmapReader lists the dirty extents of one bitmap range by range, for a
// caller that pages through a disk: it reads the bitmap table (the entries the
// disk size needs) once, on first use, and keeps it; the data clusters are read
// into buffers reused from a per-Image pool. It is safe for concurrent use.
type BitmapReader struct {
	img      *Image
	b        Bitmap
	diskSize int64

	mu    sync.Mutex
	table []byte // raw entries [0, n), nil until read
}

// NewBitmapReader returns a BitmapReader for bitmap b of a disk of diskSize
// bytes. Nothing is read yet. The reader keeps the table entries the disk
// size needs (8 bytes each: at most 8 MiB within QEMU's limit,
// MaxBitmapBytes, at 512-byte clusters), checked as a whole when read (no
// two entries share a data cluster).
func (img *Image) NewBitmapReader(b *Bitmap, diskSize int64) *BitmapReader {
	return &BitmapReader{img: img, b: *b, diskSize: diskSize}
}

// DirtyExtentsRange is Image.DirtyExtentsRange for the reader's bitmap and
// disk size, with the same results and errors, except that the table entries
// the disk size needs are read (and checked against the file size) as a whole
// the first time, not just those covering the range.
func (r *BitmapReader) DirtyExtentsRange(off, end int64) iter.Seq2[extent.Extent, error] {
	return r.img.dirtyExtents(&r.b, r.diskSize, off, end, func(k0, k1, need uint64) ([]byte, bool, error) {
		t, err := r.load(need)
		if err != nil {
			return nil, false, err
		}
		return t[8*k0 : 8*k1], true, nil
	})
}

// load returns the raw table of the first need entries (need does not change
// for a reader), reading it once. A failed read is not kept.
func (r *BitmapReader) load(need uint64) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.table != nil && uint64(len(r.table)) >= 8*need {
		return r.table, nil
	}
	t, err := readAt(r.img.r, r.img.size, r.b.TableOffset, need*8, "bitmap table")
	if err != nil {
		return nil, err
	}
	if err := checkBitmapEntries(&r.b, t, 0, uint64(r.img.Header.ClusterSize())); err != nil {
		return nil, err
	}
	r.table = t
	return t, nil
}

// bitmapLayout is how the bits of a bitmap map onto a disk of diskSize
// bytes.
type bitmapLayout struct {
	diskSize    int64
	gran        int64  // guest bytes per bit
	nbytes      uint64 // bytes of bitmap the disk needs
	need        uint64 // table entries (clusters of bitmap) the disk needs
	bitsPerClus int64  // bits in one cluster of bitmap
}

// layout returns how b covers a disk of diskSize bytes (> 0), and an
// ErrCorrupt when b's table is too small for it.
func (img *Image) layout(b *Bitmap, diskSize int64) (bitmapLayout, error) {
	cs := uint64(img.Header.ClusterSize())
	// A granularity at or beyond the disk size has one meaningful bit, bit 0,
	// covering the whole disk: use the disk size to stay within int64.
	gran := diskSize
	if b.GranularityBits < 63 && int64(1)<<b.GranularityBits < diskSize {
		gran = int64(1) << b.GranularityBits
	}
	nbits := uint64(diskSize / gran)
	if diskSize%gran != 0 {
		nbits++
	}
	l := bitmapLayout{diskSize: diskSize, gran: gran, nbytes: (nbits + 7) / 8, bitsPerClus: int64(cs) * 8}
	l.need = (l.nbytes + cs - 1) / cs
	if l.need > uint64(b.TableSize) {
		return l, formatErr(ErrCorrupt, fileOff(b.EntryOffset), "bitmap "+quoteName(b.Name), b.TableSize, "bitmap %s: table has %d entries, but a disk of %d bytes at granularity %d needs %d", quoteName(b.Name), b.TableSize, diskSize, b.Granularity(), l.need)
	}
	return l, nil
}

// dirtyExtents is DirtyExtentsRange with the table entries [k0, k1) (raw,
// big-endian) from table, which says whether they were checked already
// (checkBitmapEntries); need is how many entries the disk size needs.
func (img *Image) dirtyExtents(b *Bitmap, diskSize, off, end int64, table func(k0, k1, need uint64) ([]byte, bool, error)) iter.Seq2[extent.Extent, error] {
	return func(yield func(extent.Extent, error) bool) {
		off = max(off, 0)
		end = min(end, diskSize)
		if diskSize <= 0 || off >= end {
			return
		}
		l, err := img.layout(b, diskSize)
		if err != nil {
			yield(extent.Extent{}, err)
			return
		}
		// Table entry k covers guest bytes [k*perEntry, (k+1)*perEntry).
		perEntry := mulSat(l.bitsPerClus, l.gran)
		k0 := uint64(off / perEntry)
		k1 := min(l.need, uint64((end-1)/perEntry)+1)
		if k0 >= k1 {
			return
		}
		raw, checked, err := table(k0, k1, l.need)
		if err != nil {
			yield(extent.Extent{}, fmt.Errorf("bitmap %s: %w", quoteName(b.Name), err))
			return
		}
		if !checked {
			if err := checkBitmapEntries(b, raw, k0, uint64(img.Header.ClusterSize())); err != nil {
				yield(extent.Extent{}, err)
				return
			}
		}
		var co extent.Coalescer
		push := func(x extent.Extent) bool {
			x, ok := extent.ClipTo(x, off, end)
			if !ok {
				return true
			}
			if out, ok := co.Push(x); ok {
				return yield(out, nil)
			}
			return true
		}
		var bufp *[]byte // from img.bitmapBufs, returned there at the end
		defer func() {
			if bufp != nil {
				img.bitmapBufs.Put(bufp)
			}
		}()
		for k := int(k0); k < int(k1); k++ {
			e := BitmapTableEntry(binary.BigEndian.Uint64(raw[8*(uint64(k)-k0):]))
			first := int64(k) * l.bitsPerClus
			if e.Offset() == 0 {
				if !e.AllOnes() {
					continue
				}
				s := mulSat(first, l.gran)
				t := min(mulSat(first+l.bitsPerClus, l.gran), diskSize)
				if s < t && !push(extent.Extent{Offset: s, Length: t - s}) {
					return
				}
				continue
			}
			if bufp == nil {
				bufp = img.bitmapBuf()
			}
			buf, lo, err := img.readBitmapCluster(b, k, e, l, off, end, bufp)
			if err != nil {
				yield(extent.Extent{}, err)
				return
			}
			for x := range extent.FromBitmapAt(buf, first+int64(lo)*8, l.gran, diskSize) {
				if x.Offset >= end {
					break
				}
				if !push(x) {
					return
				}
			}
		}
		if out, ok := co.Flush(); ok {
			yield(out, nil)
		}
	}
}

// bitmapBuf returns a buffer from img.bitmapBufs, or a new one.
func (img *Image) bitmapBuf() *[]byte {
	if p, ok := img.bitmapBufs.Get().(*[]byte); ok {
		return p
	}
	return new([]byte)
}

// readBitmapCluster reads into *bufp the bytes of the data cluster of table
// entry k (e) whose bits cover [off, end), and returns them with their
// offset lo in the cluster. A page that ends just inside the next cluster
// reads a few bytes of it, not the cluster: bits [first+8*lo, first+8*hi)
// are read. Runs cut at either end are clipped to [off, end) by the caller
// anyway, so the extents are the same.
func (img *Image) readBitmapCluster(b *Bitmap, k int, e BitmapTableEntry, l bitmapLayout, off, end int64, bufp *[]byte) ([]byte, uint64, error) {
	cs := uint64(img.Header.ClusterSize())
	n := min(cs, l.nbytes-uint64(k)*cs) // the last cluster is only read as far as the disk needs
	if !fits(e.Offset(), n, img.size) {
		return nil, 0, formatErr(ErrCorrupt, fileOff(e.Offset()), fmt.Sprintf("bitmap %s table entry %d", quoteName(b.Name), k), uint64(e), "bitmap %s table entry %d: data cluster at %#x ends beyond the end of the file (%d bytes)", quoteName(b.Name), k, e.Offset(), img.size)
	}
	first := int64(k) * l.bitsPerClus
	lo, hi := uint64(0), n
	if b0 := off / l.gran; b0 > first {
		lo = uint64(b0-first) / 8
	}
	if b1 := (end-1)/l.gran + 1; b1-first < int64(8*n) {
		hi = (uint64(b1-first) + 7) / 8
	}
	if uint64(cap(*bufp)) < hi-lo {
		*bufp = make([]byte, hi-lo) // only after the file proved to hold n bytes there
	}
	buf := (*bufp)[:hi-lo]
	if err := readFull(img.r, buf, int64(e.Offset()+lo), "bitmap data cluster"); err != nil {
		return nil, 0, fmt.Errorf("bitmap %s table entry %d: %w", quoteName(b.Name), k, err)
	}
	return buf, lo, nil
}

// checkBitmapEntries checks the raw bitmap table entries of raw, the first
// being entry k0: reserved bits, alignment, bit 0 with an offset
// (BitmapTableEntry.check), and that no two entries share a data cluster
// (QEMU never writes that; refusing it keeps a walk linear in the file
// size). Sorting the data cluster offsets holds 8 bytes per entry, as much
// as raw itself.
func checkBitmapEntries(b *Bitmap, raw []byte, k0, cs uint64) error {
	var offs []uint64
	for k := range uint64(len(raw) / 8) {
		e := BitmapTableEntry(binary.BigEndian.Uint64(raw[8*k:]))
		if err := e.check(b, int(k0+k), cs); err != nil {
			return err
		}
		if e.Offset() != 0 {
			if offs == nil {
				offs = make([]uint64, 0, len(raw)/8-int(k))
			}
			offs = append(offs, e.Offset())
		}
	}
	if len(offs) < 2 {
		return nil
	}
	slices.Sort(offs)
	for i := 1; i < len(offs); i++ {
		if offs[i] != offs[i-1] {
			continue
		}
		var at []uint64
		for k := range uint64(len(raw) / 8) {
			if BitmapTableEntry(binary.BigEndian.Uint64(raw[8*k:])).Offset() == offs[i] {
				at = append(at, k0+k)
			}
		}
		return formatErr(ErrCorrupt, fileOff(offs[i]), fmt.Sprintf("bitmap %s table entry %d", quoteName(b.Name), at[1]), nil, "bitmap %s table entries %d and %d both point to the data cluster at %#x", quoteName(b.Name), at[0], at[1], offs[i])
	}
	return nil
}

// mulSat returns a*b for a, b >= 0, saturated at math.MaxInt64.
func mulSat(a, b int64) int64 {
	if a != 0 && b > math.MaxInt64/a {
		return math.MaxInt64
	}
	return a * b
}
