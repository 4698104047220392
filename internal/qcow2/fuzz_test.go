package qcow2

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"testing"

	"github.com/changedblocks/sdk/extent"
	"github.com/stretchr/testify/require"
)

// seedImages returns the images testdata/mkseeds.sh made, by file name.
func seedImages(tb testing.TB) map[string][]byte {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "seeds", "*.qcow2.gz"))
	require.NoError(tb, err)
	require.NotEmpty(tb, paths, "run testdata/mkseeds.sh")
	out := map[string][]byte{}
	for _, p := range paths {
		f, err := os.Open(p)
		require.NoError(tb, err)
		zr, err := gzip.NewReader(f)
		require.NoError(tb, err)
		b, err := io.ReadAll(zr)
		require.NoError(tb, err)
		f.Close()
		out[filepath.Base(p)] = b
	}
	return out
}

// sortedSeeds returns the seed images in name order (deterministic f.Add order).
func sortedSeeds(tb testing.TB) [][]byte {
	m := seedImages(tb)
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([][]byte, len(names))
	for i, n := range names {
		out[i] = m[n]
	}
	return out
}

// allocLimit is the allocation budget of one decoding step for n bytes of
// input: a small multiple of the input plus a constant.
func allocLimit(n int) uint64 { return 16*uint64(n) + 256<<10 }

// checkAllocs runs fn and fails when it allocated more than allocLimit(n).
func checkAllocs(t *testing.T, n int, what string, fn func()) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > allocLimit(n) {
		t.Fatalf("%s allocated %d bytes for %d bytes of input (limit %d)", what, got, n, allocLimit(n))
	}
}

// checkClass fails unless err wraps one of the package's sentinels (readers
// over bytes have no I/O errors of their own).
func checkClass(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrNotQcow2) {
		t.Fatalf("%s: error %q wraps no sentinel", what, err)
	}
}

// checkExtents fails unless es is ascending, non-overlapping, non-empty and
// inside [0, limit).
func checkExtents(t *testing.T, what string, es []extent.Extent, limit int64) {
	t.Helper()
	if !extent.IsSorted(es) {
		t.Fatalf("%s: extents not sorted: %v", what, es)
	}
	for _, e := range es {
		if e.Length <= 0 || e.Offset < 0 || e.End() > limit {
			t.Fatalf("%s: extent %v outside [0, %d)", what, e, limit)
		}
	}
}

// drain consumes a sequence under the allocation check, checking on the fly
// that its extents are ascending, non-overlapping, non-empty and inside [0,
// limit); it keeps none of them (their number can exceed the input size many
// times: one L2 table may be referenced by every L1 entry). It returns the
// number of extents and the error.
func drain(t *testing.T, n int, what string, seq func(func(extent.Extent, error) bool), limit int64) (int, error) {
	t.Helper()
	var count int
	var err error
	var prevEnd int64
	var bad string
	checkAllocs(t, n, what, func() {
		for e, e2 := range seq {
			if e2 != nil {
				err = e2
				return
			}
			if e.Length <= 0 || e.Offset < prevEnd || e.End() > limit {
				bad = fmt.Sprintf("extent %v after end %d, limit %d", e, prevEnd, limit)
				return
			}
			prevEnd = e.End()
			count++
		}
	})
	if bad != "" {
		t.Fatalf("%s: %s", what, bad)
	}
	if err != nil {
		checkClass(t, what, err)
	}
	return count, err
}

// FuzzHeader decodes the header and header extensions of arbitrary bytes.
func FuzzHeader(f *testing.F) {
	for _, b := range sortedSeeds(f) {
		f.Add(b)
		f.Add(b[:min(len(b), 512)])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var img *Image
		var err error
		checkAllocs(t, len(data), "Open", func() { img, err = openBytes(data) })
		if err != nil {
			checkClass(t, "Open", err)
			return
		}
		h := &img.Header
		if h.Version != 2 && h.Version != 3 || h.ClusterBits < MinClusterBits || h.ClusterBits > MaxClusterBits {
			t.Fatalf("accepted header %+v", h)
		}
		if h.ExtendedL2() && h.ClusterBits < MinExtendedL2ClusterBits || h.IncompatibleFeatures&^incompatKnown != 0 || h.IncompatibleFeatures&IncompatCorrupt != 0 {
			t.Fatalf("accepted features %#x with cluster_bits %d", h.IncompatibleFeatures, h.ClusterBits)
		}
		if len(img.BackingFile) > MaxBackingFileNameLen || int64(h.HeaderLength) > int64(len(data)) {
			t.Fatalf("accepted backing file of %d bytes, header_length %d", len(img.BackingFile), h.HeaderLength)
		}
		for _, e := range img.Extensions {
			if e.Offset+int64(e.Length) > int64(len(data)) || e.Offset+int64(e.Length) > h.ClusterSize() {
				t.Fatalf("extension %+v outside the first cluster or the file", e)
			}
		}
		if uint64(h.L1Size)*8 > uint64(len(data)) {
			t.Fatalf("accepted an L1 table of %d entries in %d bytes", h.L1Size, len(data))
		}
	})
}

// countingReader counts the bytes read through it: the work of a walk.
type countingReader struct {
	r     io.ReaderAt
	bytes int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	c.bytes += int64(len(p))
	return c.r.ReadAt(p, off)
}

// Bounds of one FuzzImage iteration on n bytes of input: what it may read
// from the image in all (every step reads each table a few times at most,
// and no walk reads an L2 table or a bitmap cluster twice), what it may
// allocate in all, and how many pages a paged walk of a view may take (its
// disk size is mapped by its L1 table, which the file holds: n/8 entries at
// most, 64 a page).
func readLimit(n int) int64       { return 256*int64(n) + 4<<20 }
func iterAllocLimit(n int) uint64 { return 64*uint64(n) + 4<<20 }
func pageLimit(n int) int         { return n/512 + 2 }

// FuzzImage opens arbitrary bytes and runs every decoder on them: snapshots
// (collected and streamed), allocation and diffs of up to four views, whole
// and paged as package qemu pages them (64 L2 tables a page), bitmaps
// (collected and streamed) and their dirty extents, whole and paged. Each
// step must stay within allocLimit of the input size, fail only with the
// package's sentinels, and yield well-formed extents; the whole iteration
// must read at most readLimit bytes (its work), allocate at most
// iterAllocLimit, and page through a view in at most pageLimit pages.
func FuzzImage(f *testing.F) {
	for _, b := range sortedSeeds(f) {
		f.Add(b)
	}
	for _, b := range craftedSeeds() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n := len(data)
		cr := &countingReader{r: bytes.NewReader(data)}
		var start, end runtime.MemStats
		runtime.ReadMemStats(&start)
		defer func() {
			if t.Failed() {
				return
			}
			runtime.ReadMemStats(&end)
			if got := end.TotalAlloc - start.TotalAlloc; got > iterAllocLimit(n) {
				t.Fatalf("one iteration allocated %d bytes for %d bytes of input (limit %d)", got, n, iterAllocLimit(n))
			}
			if cr.bytes > readLimit(n) {
				t.Fatalf("one iteration read %d bytes of a %d-byte image (limit %d)", cr.bytes, n, readLimit(n))
			}
		}()
		img, err := Open(cr, int64(n), nil)
		if err != nil {
			checkClass(t, "Open", err)
			return
		}
		var snaps []Snapshot
		checkAllocs(t, n, "Snapshots", func() { snaps, err = img.Snapshots() })
		if err != nil {
			checkClass(t, "Snapshots", err)
		}
		if err == nil && len(snaps) != int(img.Header.NbSnapshots) {
			t.Fatalf("%d snapshots, nb_snapshots %d", len(snaps), img.Header.NbSnapshots)
		}
		// Streamed, the same entries, or the same error after some of them.
		k := 0
		checkAllocs(t, n, "AllSnapshots", func() {
			for s, err2 := range img.AllSnapshots() {
				if err2 != nil {
					if err == nil {
						t.Fatalf("AllSnapshots: %v, Snapshots: no error", err2)
					}
					checkClass(t, "AllSnapshots", err2)
					return
				}
				if err == nil && (s.ID != snaps[k].ID || s.Name != snaps[k].Name || s.EntryOffset != snaps[k].EntryOffset) {
					t.Fatalf("AllSnapshots entry %d = %+v, Snapshots %+v", k, s, snaps[k])
				}
				k++
			}
			if err != nil {
				t.Fatalf("AllSnapshots: no error, Snapshots: %v", err)
			}
		})
		active := img.ActiveView()
		vs := []View{active}
		for i := range min(len(snaps), 3) {
			v, err := img.SnapshotView(&snaps[i])
			if err != nil {
				t.Fatalf("SnapshotView of an entry Snapshots accepted: %v", err)
			}
			if h := &img.Header; v.DiskSize > int64(v.L1Size)*h.L1Span() {
				t.Fatalf("snapshot %d: disk size %d beyond its L1 table (%d entries of %d bytes)", i, v.DiskSize, v.L1Size, h.L1Span())
			}
			vs = append(vs, v)
		}
		page := 64 * img.Header.L1Span()
		paged := func(what string, limit int64, walk func(off, end int64) iter.Seq2[extent.Extent, error]) {
			pages := 0
			checkAllocs(t, n, what, func() {
				for off := int64(0); off < limit; off += page {
					if pages++; pages > pageLimit(n) {
						t.Fatalf("%s: more than %d pages of %d bytes for a disk of %d bytes in a %d-byte image", what, pageLimit(n), page, limit, n)
					}
					for e, err := range walk(off, off+page) {
						if err != nil {
							checkClass(t, what, err)
							return
						}
						if e.Offset < off || e.End() > min(off+page, limit) {
							t.Fatalf("%s: extent %v outside the page [%d, %d)", what, e, off, off+page)
						}
					}
				}
			})
		}
		for _, v := range vs {
			drain(t, n, "Allocated", img.Allocated(v), v.DiskSize)
			drain(t, n, "Diff", img.Diff(active, v), max(v.DiskSize, active.DiskSize))
			if k, err := drain(t, n, "Diff", img.Diff(v, v), v.DiskSize); err == nil && k != 0 {
				t.Fatalf("a view differs from itself in %d extents", k)
			}
			paged("AllocatedRange", v.DiskSize, func(off, end int64) iter.Seq2[extent.Extent, error] {
				return img.AllocatedRange(v, off, end)
			})
			paged("DiffRange", max(v.DiskSize, active.DiskSize), func(off, end int64) iter.Seq2[extent.Extent, error] {
				return img.DiffRange(active, v, off, end)
			})
		}
		var bms []Bitmap
		checkAllocs(t, n, "Bitmaps", func() { bms, err = img.Bitmaps() })
		k = 0
		checkAllocs(t, n, "AllBitmaps", func() {
			for b, err2 := range img.AllBitmaps() {
				if err2 != nil {
					if err == nil {
						t.Fatalf("AllBitmaps: %v, Bitmaps: no error", err2)
					}
					checkClass(t, "AllBitmaps", err2)
					return
				}
				if err == nil && (b.Name != bms[k].Name || b.EntryOffset != bms[k].EntryOffset) {
					t.Fatalf("AllBitmaps entry %d = %+v, Bitmaps %+v", k, b, bms[k])
				}
				k++
			}
			if err != nil {
				t.Fatalf("AllBitmaps: no error, Bitmaps: %v", err)
			}
		})
		if err != nil {
			checkClass(t, "Bitmaps", err)
			return
		}
		for i := range min(len(bms), 4) {
			b := &bms[i]
			if uint64(b.TableSize)*uint64(img.Header.ClusterSize()) > MaxBitmapBytes || len(b.ExtraData) > MaxBitmapExtraData {
				t.Fatalf("accepted bitmap %d beyond QEMU's limits: %+v", i, b)
			}
			drain(t, n, "DirtyExtents", img.DirtyExtents(b, active.DiskSize), active.DiskSize)
			r := img.NewBitmapReader(b, active.DiskSize)
			paged("BitmapReader.DirtyExtentsRange", active.DiskSize, r.DirtyExtentsRange)
		}
	})
}

// craftedSeeds are images of the hostile shapes the walks must refuse or
// bound: a snapshot whose disk size (2^40 with 512-byte clusters) is far
// beyond its one-entry L1 table (a paged walk of it took 2^19 pages), and two
// snapshots with one id.
func craftedSeeds() [][]byte {
	s := newSynth(9, false, 64<<10)
	l1 := s.table([]uint64{s.l2(map[int][2]uint64{1: data(s.alloc(1))}), 0})
	s.addSnapshot("huge", l1, 1, 1<<40)
	huge := s.bytes(s.table([]uint64{0, 0}), 2)

	s = newSynth(9, false, 64<<10)
	l1 = s.table([]uint64{0, 0})
	s.addSnapshot("a", l1, 2, 64<<10)
	s.addSnapshot("b", l1, 2, 64<<10)
	dup := s.bytes(l1, 2)
	// The second entry's id "2" becomes "1".
	h := &Header{ClusterBits: 9}
	for sn, err := range snapshotTable(bytes.NewReader(dup), int64(len(dup)), h, binary.BigEndian.Uint64(dup[64:]), 1) {
		if err == nil {
			next := sn.EntryOffset + uint64((snapshotFixedLen+len(sn.ExtraData)+len(sn.ID)+len(sn.Name)+7)&^7)
			dup[next+snapshotFixedLen+uint64(binary.BigEndian.Uint32(dup[next+36:]))] = '1'
		}
	}
	return [][]byte{huge, dup}
}

// FuzzSnapshotTable decodes arbitrary bytes as a snapshot table of n entries.
func FuzzSnapshotTable(f *testing.F) {
	for _, b := range sortedSeeds(f) {
		img, err := openBytes(b)
		require.NoError(f, err)
		if h := img.Header; h.NbSnapshots > 0 {
			f.Add(uint16(h.NbSnapshots), b[h.SnapshotsOffset:min(uint64(len(b)), h.SnapshotsOffset+2048)])
		}
	}
	f.Fuzz(func(t *testing.T, n uint16, table []byte) {
		var snaps []Snapshot
		var err error
		checkAllocs(t, len(table), "readSnapshotTable", func() {
			snaps, err = readSnapshotTable(bytes.NewReader(table), int64(len(table)), testHeader, 0, uint32(n))
		})
		if err != nil {
			checkClass(t, "readSnapshotTable", err)
			return
		}
		if len(snaps) != int(n) {
			t.Fatalf("%d entries, want %d", len(snaps), n)
		}
		var prev uint64
		for i, s := range snaps {
			if i > 0 && s.EntryOffset < prev+snapshotFixedLen || s.EntryOffset+snapshotFixedLen+uint64(len(s.ExtraData)+len(s.ID)+len(s.Name)) > uint64(len(table)) {
				t.Fatalf("entry %d at %d (previous at %d) with %d+%d+%d bytes in a table of %d", i, s.EntryOffset, prev, len(s.ExtraData), len(s.ID), len(s.Name), len(table))
			}
			if len(s.ExtraData) > MaxSnapshotExtraData || s.HasDiskSize != (len(s.ExtraData) >= 16) {
				t.Fatalf("entry %d: extra data %d bytes, HasDiskSize %t", i, len(s.ExtraData), s.HasDiskSize)
			}
			prev = s.EntryOffset
		}
	})
}

// FuzzBitmapDirectory decodes arbitrary bytes as a bitmap directory of nb
// entries in an image of the given cluster size and file size.
func FuzzBitmapDirectory(f *testing.F) {
	for _, b := range sortedSeeds(f) {
		img, err := openBytes(b)
		require.NoError(f, err)
		if x := img.BitmapsExt; x != nil {
			f.Add(x.NbBitmaps, uint8(img.Header.ClusterBits-9), int64(len(b)), b[x.DirectoryOffset:x.DirectoryOffset+x.DirectorySize])
		}
	}
	f.Fuzz(func(t *testing.T, nb uint32, cb uint8, fileSize int64, dir []byte) {
		cs := uint64(1) << (9 + cb%13)
		var bms []Bitmap
		var err error
		checkAllocs(t, len(dir), "decodeBitmapDirectory", func() { bms, err = decodeBitmapDirectory(dir, nb, cs, fileSize) })
		if err != nil {
			checkClass(t, "decodeBitmapDirectory", err)
			return
		}
		names := map[string]bool{}
		for i, b := range bms {
			if b.Name == "" || names[b.Name] || b.Flags&^bitmapFlagsKnown != 0 || b.Type != BitmapTypeDirtyTracking || b.GranularityBits > 63 {
				t.Fatalf("accepted bitmap %d: %+v", i, b)
			}
			if len(b.ExtraData) > MaxBitmapExtraData || uint64(b.TableSize)*cs > MaxBitmapBytes {
				t.Fatalf("accepted bitmap %d beyond QEMU's limits: %d bytes of extra data, %d table entries of %d-byte clusters", i, len(b.ExtraData), b.TableSize, cs)
			}
			if b.TableOffset%cs != 0 || !fits(b.TableOffset, uint64(b.TableSize)*8, fileSize) {
				t.Fatalf("accepted bitmap %d with table at %#x, %d entries (cluster %d, file %d)", i, b.TableOffset, b.TableSize, cs, fileSize)
			}
			names[b.Name] = true
		}
	})
}

// FuzzL2 decodes arbitrary bytes as L2 entries and diffs two arbitrary L2
// tables: decoding keeps its invariants or fails with ErrCorrupt, and the
// diff marks exactly the clusters (subclusters) whose entries differ.
func FuzzL2(f *testing.F) {
	for _, b := range sortedSeeds(f) {
		img, err := openBytes(b)
		require.NoError(f, err)
		h := &img.Header
		flags := uint8(h.Version - 2)
		if h.ExtendedL2() {
			flags |= 2
		}
		if h.ExternalDataFile() {
			flags |= 4
		}
		l1, err := img.ReadL1(img.ActiveView())
		require.NoError(f, err)
		snaps, err := img.Snapshots()
		require.NoError(f, err)
		var other []uint64
		if len(snaps) > 0 {
			v, err := img.SnapshotView(&snaps[0])
			require.NoError(f, err)
			other, err = img.ReadL1(v)
			require.NoError(f, err)
		}
		cs := uint64(h.ClusterSize())
		table := func(l1 []uint64, i int) []byte {
			if i >= len(l1) || l1[i]&L1OffsetMask == 0 {
				return nil
			}
			off := l1[i] & L1OffsetMask
			return bytes.TrimRight(b[off:off+cs], "\x00")
		}
		for i := range len(l1) {
			f.Add(uint8(h.ClusterBits-MinClusterBits), flags, table(l1, i), table(other, i))
		}
	}
	f.Fuzz(func(t *testing.T, cb uint8, flags uint8, a, b []byte) {
		h := &Header{Version: 2 + uint32(flags&1), ClusterBits: MinClusterBits + uint32(cb)%(MaxClusterBits-MinClusterBits+1)}
		if flags&2 != 0 {
			h.IncompatibleFeatures |= IncompatExtendedL2
			h.ClusterBits = max(h.ClusterBits, MinExtendedL2ClusterBits)
		}
		if flags&4 != 0 {
			h.IncompatibleFeatures |= IncompatExternalData
		}
		// Decode every entry of a, at the fuzzed cluster size.
		ext := h.ExtendedL2()
		stride := 8
		if ext {
			stride = 16
		}
		cs := uint64(h.ClusterSize())
		be := func(p []byte, k int) uint64 {
			var w uint64
			for i := range 8 {
				w <<= 8
				if k+i < len(p) {
					w |= uint64(p[k+i])
				}
			}
			return w
		}
		for k := 0; k < len(a); k += stride {
			w1, w2 := be(a, k), uint64(0)
			if ext {
				w2 = be(a, k+8)
			}
			c, err := h.DecodeL2Entry(w1, w2)
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("DecodeL2Entry(%#x, %#x): %v", w1, w2, err)
				}
				continue
			}
			checkCluster(t, h, c, w1, w2, cs)
		}

		// Diff two tables at a small cluster size (the fuzzed one when the
		// tables are not larger than the input).
		if h.ClusterBits > 14 {
			h.ClusterBits = max(MinClusterBits+uint32(cb)%6, map[bool]uint32{true: MinExtendedL2ClusterBits}[ext])
		}
		words := int(h.ClusterSize() / 8)
		ta, tb := tableOf(a, words), tableOf(b, words)
		n := h.L2Entries()
		limit := n * h.ClusterSize()
		var got, back, self []extent.Extent
		diffL2(h, ta, tb, 0, limit, func(e extent.Extent) bool { got = append(got, e); return true })
		diffL2(h, tb, ta, 0, limit, func(e extent.Extent) bool { back = append(back, e); return true })
		diffL2(h, ta, ta, 0, limit, func(e extent.Extent) bool { self = append(self, e); return true })
		checkExtents(t, "diffL2", got, limit)
		// The raw comparison the walks use yields exactly the same, at every
		// limit.
		ra, rb := rawOf(ta), rawOf(tb)
		for _, lim := range []int64{limit, limit / 2, limit/3 + 1, 1} {
			var ref, raw []extent.Extent
			diffL2(h, ta, tb, 0, lim, func(e extent.Extent) bool { ref = append(ref, e); return true })
			diffL2Raw(h, ra, rb, 0, lim, func(e extent.Extent) bool { raw = append(raw, e); return true })
			if !equalExtents(ref, raw) {
				t.Fatalf("diffL2Raw (limit %d) = %v, diffL2 = %v", lim, raw, ref)
			}
		}
		if len(self) != 0 {
			t.Fatalf("a table differs from itself: %v", self)
		}
		if !equalExtents(merge(got), merge(back)) {
			t.Fatalf("diffL2 not symmetric: %v vs %v", got, back)
		}
		// Exactly the subclusters whose entries differ are covered.
		sub := h.ClusterSize() / Subclusters
		covered := make([]bool, n*Subclusters)
		for _, e := range got {
			for s := e.Offset / sub; s < e.End()/sub; s++ {
				covered[s] = true
			}
		}
		for j := range n {
			a1, a2 := h.l2Words(ta, j)
			b1, b2 := h.l2Words(tb, j)
			for s := range int64(Subclusters) {
				want := (a1^b1)&^FlagCopied != 0 || (a2^b2)>>s&1 != 0 || (a2^b2)>>(32+s)&1 != 0
				if covered[j*Subclusters+s] != want {
					t.Fatalf("cluster %d subcluster %d: covered %t, entries (%#x,%#x) vs (%#x,%#x)", j, s, covered[j*Subclusters+s], a1, a2, b1, b2)
				}
			}
		}
	})
}

// checkCluster checks the invariants of a decoded L2 entry.
func checkCluster(t *testing.T, h *Header, c Cluster, w1, w2, cs uint64) {
	t.Helper()
	bad := func(why string) { t.Fatalf("DecodeL2Entry(%#x, %#x) = %+v: %s", w1, w2, c, why) }
	switch c.Kind {
	case ClusterCompressed:
		maxSize := uint64(1)<<(h.ClusterBits-8)*512 + 512
		if c.Extended || c.HostOffset>>56 != 0 || c.CompressedSize == 0 || c.CompressedSize > maxSize || c.AllocatedMask() != 0xffffffff {
			bad("compressed")
		}
	case ClusterMixed:
		if !c.Extended {
			bad("mixed without subclusters")
		}
	case ClusterUnallocated, ClusterData, ClusterZero:
	default:
		bad("unknown kind")
	}
	if c.Kind != ClusterCompressed && c.HostOffset%cs != 0 {
		bad("misaligned host offset")
	}
	if c.Extended {
		if c.AllocMask&c.ZeroMask != 0 || c.AllocatedMask() != c.AllocMask|c.ZeroMask {
			bad("subcluster masks")
		}
		for i := range Subclusters {
			k := c.Subcluster(i)
			if (k == ClusterData) != (c.AllocMask>>i&1 != 0) || (k == ClusterZero) != (c.ZeroMask>>i&1 != 0) {
				bad("Subcluster disagrees with the masks")
			}
		}
	} else if m := c.AllocatedMask(); m != 0 && m != 0xffffffff || (m == 0) != (c.Kind == ClusterUnallocated) {
		bad("allocated mask of a cluster without subclusters")
	}
}

// rawOf encodes a table as big-endian bytes (nil stays nil).
func rawOf(t []uint64) []byte {
	if t == nil {
		return nil
	}
	b := make([]byte, 8*len(t))
	for i, w := range t {
		binary.BigEndian.PutUint64(b[8*i:], w)
	}
	return b
}

// tableOf decodes b as big-endian words into a table of n words (zero padded,
// extra bytes ignored); nil when b is empty (an absent table).
func tableOf(b []byte, n int) []uint64 {
	if len(b) == 0 {
		return nil
	}
	t := make([]uint64, n)
	for i := range n {
		for k := range 8 {
			t[i] <<= 8
			if p := 8*i + k; p < len(b) {
				t[i] |= uint64(b[p])
			}
		}
	}
	return t
}

func equalExtents(a, b []extent.Extent) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestSeedImages checks that every seed image decodes without error, so that
// the fuzz seeds start from valid images.
func TestSeedImages(t *testing.T) {
	for name, b := range seedImages(t) {
		img, err := openBytes(b)
		require.NoError(t, err, name)
		_, err = img.Snapshots()
		require.NoError(t, err, name)
		_, err = collectErr(img.Allocated(img.ActiveView()))
		require.NoError(t, err, name)
		bms, err := img.Bitmaps()
		require.NoError(t, err, name)
		for i := range bms {
			_, err = collectErr(img.DirtyExtents(&bms[i], int64(img.Header.Size)))
			require.NoError(t, err, name)
		}
	}
}

// TestCraftedSeedsRefused checks that the crafted seeds are refused for
// what they were made for.
func TestCraftedSeedsRefused(t *testing.T) {
	seeds := craftedSeeds()
	for i, want := range []string{`snapshot "huge" (id "1"): disk size (extra data bytes 8-15) 1099511627776 needs 33554432 L1 entries`, `snapshot entries 0 and 1 (at offset 0x648) both have id "1"`} {
		img, err := openBytes(seeds[i])
		require.NoError(t, err)
		_, err = img.Snapshots()
		require.ErrorIs(t, err, ErrCorrupt)
		require.ErrorContains(t, err, want)
	}
}
