// Package qcow2 is a pure, read-only decoder of qcow2 image metadata: the
// header and its extensions, L1 and L2 tables (standard, compressed and
// extended entries), the internal snapshot table, and persistent dirty bitmaps.
// On top of the tables it offers the two walks changed-block tracking needs:
// the allocation of one view and the difference between two views, and
// ReadView, which reads a view's guest data as the image holds it (data,
// compressed with zlib or zstd, zero; what is unallocated is left to the
// caller's backing chain). It never writes, holds no platform policy and
// takes no context: every function works on an io.ReaderAt.
//
// # Input
//
// Open takes an io.ReaderAt and the size of the file (for an *os.File, from
// Stat). Every offset, count and length read from the file is checked against
// that size, or a limit of the format or of QEMU, before anything is allocated
// for it, so decoding a file of N bytes allocates at most a small multiple of
// N (the fuzz tests check 16·N + 256 KiB for every step and 64·N + 4 MiB for
// all of them), plus the L2 cache of Lookup, itself bounded by
// Options.L2CacheBytes (32 MiB by default) and by the file. No call ever loads
// all L2 tables or a whole bitmap at once, and the work of a walk is linear in
// the file size (the fuzz tests check that one iteration reads at most 256·N
// + 4 MiB, and pages through a view in at most N/512 + 2 pages).
//
// # Memory
//
// Whatever the image, within the limits above:
//
//   - A walk (Allocated, Diff, Clusters, their ranged forms) holds one or two
//     raw L2 tables of one cluster (at most 2 MiB each) and a window of each
//     L1 table of at most 64 KiB: it reads the L1 entries it needs, never a
//     whole L1 table (up to 32 MiB). Before the first walk of a view, its L1
//     table is checked once, streamed, holding 4 bytes per L2 table it names
//     (8 for a file of 2 TiB or more): at most 16 MiB (32 MiB) at QEMU's
//     limit of 4 Mi entries, only while checking.
//   - AllSnapshots and AllBitmaps hold one entry (at most 132 KiB and 2 KiB)
//     and 24 bytes per entry read so far (at most 1.5 MiB), never the table;
//     Snapshots and Bitmaps hold the entries they return, about the table's
//     size (at most 64 MiB each, the format's limit).
//   - A BitmapReader holds the bitmap table entries the disk needs, at most
//     8 MiB within QEMU's limit (MaxBitmapBytes), and one data cluster.
//
// # What is decoded
//
//   - Header (versions 2 and 3): every field; the feature bits (dirty, corrupt,
//     external data file, compression type, extended L2; lazy refcounts;
//     bitmaps-consistent and raw-external-data autoclear bits); the
//     compression type (zlib, zstd) and crypt method (none, AES, LUKS: metadata
//     is never encrypted, so encrypted images decode too).
//   - Header extensions: backing file format, feature name table, bitmaps, full
//     disk encryption pointer, external data file name; unknown ones are kept
//     as type, offset and length. The backing file name.
//   - L1 and L2 tables: Header.DecodeL2Entry turns an entry into a Cluster:
//     unallocated, data (host offset), zero (with or without a preallocated
//     offset), compressed (byte offset and the size of its sectors), and for
//     extended L2 entries the state of each of the 32 subclusters.
//   - Snapshot table: ids, names, dates, VM clock, VM state size (32 or 64
//     bit), the disk size at snapshot time and icount from the extra data;
//     streamed entry by entry (AllSnapshots) or collected (Snapshots).
//   - Bitmap directory and tables: names, flags (in_use, auto,
//     extra_data_compatible), granularity, extra data, streamed (AllBitmaps)
//     or collected (Bitmaps); DirtyExtents streams the dirty ranges one bitmap
//     cluster at a time, all-ones table entries included.
//
// # Views, allocation and diff
//
// A View is an L1 table and the disk size it describes: Image.ActiveView (the
// header) or Image.SnapshotView (a snapshot entry). Image.Allocated yields the
// ranges a view describes itself (data, zero or compressed, at subcluster
// precision), which is what `qemu-img map` calls present at depth 0.
// Image.Diff yields the ranges whose mapping differs between two views of the
// same image; by the copy-on-write rule of qcow2 it is a superset of the bytes
// whose contents differ (see Diff for the rules). Both are iter.Seq2 of
// extent.Extent and error: ascending, adjacent ranges merged, an error yielded
// once at the end; they stream the L2 tables, one per view at a time, through
// reused raw buffers (comparing raw tables block by block, decoding only the
// entries that differ), without the L2 cache, which serves the random accesses
// of Image.Lookup. Image.Clusters and Image.Lookup expose the decoded entries.
// DiffRange, AllocatedRange and DirtyExtentsRange are the same walks limited to
// a guest range [off, end), for callers that page through a disk: they read
// only the L1 entries and the tables that map the range (each L1 table is
// checked as a whole once per Image, and remembered), so that a page costs
// what its range holds.
//
// The active tables of an image that QEMU has open read-write are not reliable
// on disk (QEMU caches them); snapshot tables are. Telling the two apart is the
// caller's business.
//
// # What is refused
//
// Errors wrap ErrNotQcow2, ErrCorrupt or ErrUnsupported and name the field, its
// offset and value; those about the image's bytes are a *FormatError, whose Off,
// What and Val give them to a program (errors.As). Refused: a wrong magic; versions other than 2 and 3;
// cluster_bits outside 9..21, or below 14 with extended L2 entries; a bad
// header_length or refcount_order; sizes above 2^63-1; unknown crypt methods
// and compression types; the corrupt bit and unknown incompatible bits (named
// from the image's feature name table when it names them); a compression-type
// bit that disagrees with compression_type; raw external data without an
// external data file or with a backing file; snapshots with an external data
// file; a backing file name over 1023 bytes or outside the first cluster;
// malformed or duplicated header extensions; tables that are misaligned or end
// beyond the end of the file; an active L1 table too small for the disk size;
// L1 tables over 32 MiB; two L1 entries sharing an L2 table, or two bitmap
// table entries sharing a data cluster (QEMU never writes either; refusing them
// keeps every walk linear in the file size); more than 65536 snapshots, more
// than 1024 bytes of extra data in a snapshot entry, a snapshot table over 64
// MiB, two snapshots with one id (names may repeat), a snapshot disk size
// (or, for an entry without one, the image's size) beyond what the entry's
// own L1 table maps (l1_size entries of Header.L1Span bytes); bitmap
// directories over 64 MiB or with 0 or more than 65535 entries, entries that
// do not fill the directory exactly, empty or duplicate names, names over
// 1023 bytes, more than 1024 bytes of extra data (QEMU writes none),
// reserved flag bits, types other than dirty tracking, granularity_bits over
// 63, bitmap tables whose clusters hold more than 512 MiB of bitmap (QEMU's
// limit); bitmap tables too short for the disk size; L2
// entries with misaligned host offsets, subclusters both allocated and zero,
// allocated subclusters without a host cluster, or compressed entries where
// none may be.
//
// Not refused, because the L1 and L2 tables stay authoritative: the dirty bit
// (stale refcounts), in_use bitmaps and a clear bitmaps-consistent bit (both
// reported: Bitmap.InUse, Image.BitmapsConsistent), and snapshot entries
// without a disk size (they get the image's size, as in QEMU). The last
// snapshot entry may end the file without its padding, as qemu-img writes it.
package qcow2
