package qcow2

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/changedblocks/sdk/extent"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func e(off, n int64) extent.Extent { return extent.Extent{Offset: off, Length: n} }

// TestNotesScenario replays the offline example of the notes (§2) and checks
// the values they give: the diffs, the bitmap, and the decoded L1/L2 entries.
func TestNotesScenario(t *testing.T) {
	needTools(t, "qemu-img", "qemu-io")
	path := filepath.Join(t.TempDir(), "a.qcow2")
	createImage(t, path, "", "1M")
	qemuIO(t, path, "write -P 0xab 0 64k")
	qemuImg(t, "snapshot", "-c", "snap1", path)
	qemuImg(t, "bitmap", "--add", "--enable", path, "bm1")
	qemuIO(t, path, "write -P 0xcd 128k 64k", "write -z 512k 64k")
	qemuImg(t, "snapshot", "-c", "snap2", path)
	qemuIO(t, path, "write -P 0xef 0 4k")

	img := openFile(t, path, nil)
	snaps, err := img.Snapshots()
	require.NoError(t, err)
	require.Len(t, snaps, 2)
	s1, err := img.SnapshotView(&snaps[0])
	require.NoError(t, err)
	s2, err := img.SnapshotView(&snaps[1])
	require.NoError(t, err)
	active := img.ActiveView()

	assert.Equal(t, []extent.Extent{e(0x20000, 0x10000), e(0x80000, 0x10000)}, collect(t, img.Diff(s1, s2)))
	assert.Equal(t, []extent.Extent{e(0, 0x10000)}, collect(t, img.Diff(s2, active)))
	assert.Equal(t, []extent.Extent{e(0, 0x10000), e(0x20000, 0x10000), e(0x80000, 0x10000)}, collect(t, img.Diff(s1, active)))

	bms, err := img.Bitmaps()
	require.NoError(t, err)
	require.Len(t, bms, 1)
	assert.Equal(t, "bm1", bms[0].Name)
	assert.Equal(t, BitmapFlagAuto, bms[0].Flags)
	assert.Equal(t, uint64(65536), bms[0].Granularity())
	assert.True(t, img.BitmapsConsistent())
	dirty := collect(t, img.DirtyExtents(&bms[0], int64(img.Header.Size)))
	assert.Equal(t, []extent.Extent{e(0, 0x10000), e(0x20000, 0x10000), e(0x80000, 0x10000)}, dirty)
	assert.Equal(t, dirty, collect(t, img.Diff(s1, active)), "the bitmap is the union of the diffs")

	// The decoded entries of the notes' table.
	l1, err := img.ReadL1(s1)
	require.NoError(t, err)
	assert.Equal(t, uint64(0x8000000000040000), l1[0], "snap1 L1[0]")
	c, err := img.Lookup(s1, 0)
	require.NoError(t, err)
	assert.Equal(t, Cluster{Kind: ClusterData, HostOffset: 0x50000}, c)
	c, err = img.Lookup(s2, 0x20000)
	require.NoError(t, err)
	assert.Equal(t, Cluster{Kind: ClusterData, HostOffset: 0xb0000}, c)
	c, err = img.Lookup(s2, 0x80000)
	require.NoError(t, err)
	assert.Equal(t, Cluster{Kind: ClusterZero}, c)
	l1, err = img.ReadL1(active)
	require.NoError(t, err)
	assert.Equal(t, uint64(0x80000000000c0000), l1[0], "active L1[0]")
	c, err = img.Lookup(active, 0)
	require.NoError(t, err)
	assert.Equal(t, Cluster{Kind: ClusterData, HostOffset: 0xd0000, Copied: true}, c)
}

// TestBitmapsMatchQemu builds images with several persistent bitmaps (enabled,
// disabled, re-enabled, cleared, of several granularities) between random
// writes, and compares the decoded directory with `qemu-img info` and every
// bitmap's dirty extents with nbdinfo's qemu:dirty-bitmap map of
// `qemu-nbd -B`.
func TestBitmapsMatchQemu(t *testing.T) {
	needTools(t, "qemu-img", "qemu-io")
	nbd := haveTool(t, "nbdinfo") && haveTool(t, "qemu-nbd")
	configs := []struct {
		name string
		opts string
		size int64
	}{
		{"512", "cluster_size=512", 3 << 20},
		{"64k", "", 16 << 20},
		{"extl2-64k", "extended_l2=on", 16 << 20},
		{"2M", "cluster_size=2M", 64 << 20},
	}
	seeds := []uint64{1, 2, 3}
	if testing.Short() {
		seeds = seeds[:1]
	}
	for _, cfg := range configs {
		for _, seed := range seeds {
			t.Run(fmt.Sprintf("%s/seed%d", cfg.name, seed), func(t *testing.T) {
				t.Parallel()
				rng := rand.New(rand.NewPCG(seed, 0xb17+uint64(len(cfg.name))))
				path := filepath.Join(t.TempDir(), "b.qcow2")
				createImage(t, path, cfg.opts, fmt.Sprint(cfg.size))
				writes := func(n int) {
					var cmds []string
					for range n {
						off := rng.Int64N(cfg.size/512) * 512
						l := min((1+rng.Int64N(512))*512, cfg.size-off)
						if rng.IntN(4) == 0 {
							cmds = append(cmds, fmt.Sprintf("write -z %d %d", off, l))
						} else {
							cmds = append(cmds, fmt.Sprintf("write -P 0x%x %d %d", 1+rng.IntN(250), off, l))
						}
					}
					qemuIO(t, path, cmds...)
				}
				grans := []string{"512", "4096", "65536", "1048576", "16777216"}
				gran := func() string { return grans[rng.IntN(len(grans))] }
				writes(3)
				qemuImg(t, "bitmap", "--add", "--enable", "-g", gran(), path, "a")
				writes(4)
				qemuImg(t, "bitmap", "--add", "--disable", "-g", gran(), path, "b")
				writes(3)
				qemuImg(t, "bitmap", "--enable", path, "b")
				qemuImg(t, "bitmap", "--add", "-g", gran(), path, "c")
				writes(4)
				qemuImg(t, "bitmap", "--disable", path, "a")
				qemuImg(t, "bitmap", "--clear", path, "c")
				writes(2)
				qemuImg(t, "bitmap", "--add", "--disable", path, "empty")

				img := openFile(t, path, nil)
				info := imgInfo(t, path)
				bms, err := img.Bitmaps()
				require.NoError(t, err)
				require.True(t, img.BitmapsConsistent())
				qb := info.FormatSpecific.Data.Bitmaps
				require.Len(t, bms, len(qb))
				byName := map[string]infoBitmap{}
				for _, b := range qb {
					byName[b.Name] = b
				}
				for i := range bms {
					b := &bms[i]
					q, ok := byName[b.Name]
					require.True(t, ok, "bitmap %q not in qemu-img info", b.Name)
					assert.Equal(t, uint64(q.Granularity), b.Granularity(), b.Name)
					assert.Equal(t, q.Flags, bitmapFlagNames(b), b.Name)
					assert.Equal(t, BitmapTypeDirtyTracking, b.Type)
					dirty := collect(t, img.DirtyExtents(b, int64(img.Header.Size)))
					assert.True(t, extent.IsNormalized(dirty))
					if nbd {
						want := nbdMapWhere(t, func(typ int64) bool { return typ&1 != 0 }, path, "qemu:dirty-bitmap:"+b.Name, "-B", b.Name)
						assert.Equal(t, want, dirty, "bitmap %s (granularity %d)", b.Name, b.Granularity())
					}
					t.Logf("bitmap %s: granularity %d, flags %v, %d dirty extents, %d bytes", b.Name, b.Granularity(), q.Flags, len(dirty), extent.TotalSlice(dirty))
				}
				empty := slices.IndexFunc(bms, func(b Bitmap) bool { return b.Name == "empty" })
				assert.Empty(t, collect(t, img.DirtyExtents(&bms[empty], int64(img.Header.Size))))
			})
		}
	}
}

// bitmapFlagNames spells the flags as qemu-img info does.
func bitmapFlagNames(b *Bitmap) []string {
	out := []string{}
	if b.InUse() {
		out = append(out, "in-use")
	}
	if b.Auto() {
		out = append(out, "auto")
	}
	return out
}

// TestBitmapAllOnesEntry patches a bitmap table entry that points at a
// cluster of all ones into the "all ones, no data cluster" form (bit 0 set,
// offset 0), and into "all zeros" (0): the first must decode the same, the
// second must drop exactly the cluster's range.
func TestBitmapAllOnesEntry(t *testing.T) {
	needTools(t, "qemu-img", "qemu-io")
	path := filepath.Join(t.TempDir(), "ones.qcow2")
	// 512-byte clusters and granularity 512: one bitmap data cluster covers
	// 4096 bits = 2 MiB of disk.
	createImage(t, path, "cluster_size=512", "5M")
	qemuImg(t, "bitmap", "--add", "-g", "512", path, "bm")
	qemuIO(t, path, "write -P 1 0 2M", "write -P 2 3M 4k", "write -P 3 4M 1M")
	img := openFile(t, path, nil)
	bms, err := img.Bitmaps()
	require.NoError(t, err)
	b := &bms[0]
	size := int64(img.Header.Size)
	before := collect(t, img.DirtyExtents(b, size))
	require.Equal(t, []extent.Extent{e(0, 2<<20), e(3<<20, 4096), e(4<<20, 1<<20)}, before)
	// 5 MiB at 512 bytes per bit = 10240 bits = 1280 bytes = 3 clusters.
	table, err := img.BitmapTable(b)
	require.NoError(t, err)
	require.Len(t, table, 3)
	for _, k := range []int{0, 2} {
		require.NotZero(t, table[k].Offset(), "entry %d has a data cluster", k)
		require.False(t, table[k].AllOnes())
	}

	at := int(b.TableOffset)
	ones, err := openBytes(patched(t, path, func(buf []byte) {
		binary.BigEndian.PutUint64(buf[at:], 1)
		binary.BigEndian.PutUint64(buf[at+16:], 1)
	}))
	require.NoError(t, err)
	obms, err := ones.Bitmaps()
	require.NoError(t, err)
	ot, err := ones.BitmapTable(&obms[0])
	require.NoError(t, err)
	assert.True(t, ot[0].AllOnes())
	assert.Equal(t, before, collect(t, ones.DirtyExtents(&obms[0], size)), "all-ones entries decode like all-ones clusters")

	zeros, err := openBytes(patched(t, path, func(buf []byte) { binary.BigEndian.PutUint64(buf[at:], 0) }))
	require.NoError(t, err)
	zbms, err := zeros.Bitmaps()
	require.NoError(t, err)
	assert.Equal(t, before[1:], collect(t, zeros.DirtyExtents(&zbms[0], size)))

	// Reserved bits, and bit 0 with an offset, are corrupt.
	bad, err := openBytes(patched(t, path, func(buf []byte) { buf[at+7] |= 1 }))
	require.NoError(t, err)
	bbms, err := bad.Bitmaps()
	require.NoError(t, err)
	_, err = collectErr(bad.DirtyExtents(&bbms[0], size))
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), "bit 0 is set together with a data cluster offset")

	// Two entries may not share a data cluster.
	dup, err := openBytes(patched(t, path, func(buf []byte) { copy(buf[at+16:at+24], buf[at:at+8]) }))
	require.NoError(t, err)
	dbms, err := dup.Bitmaps()
	require.NoError(t, err)
	_, err = collectErr(dup.DirtyExtents(&dbms[0], size))
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), `bitmap "bm" table entries 0 and 2 both point to the data cluster`)

	// A disk larger than the table covers is corrupt, not silently clean.
	_, err = collectErr(img.DirtyExtents(b, 7<<20))
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), "table has 3 entries, but a disk of 7340032 bytes at granularity 512 needs 4")
}

// TestBitmapInUse crashes qemu-io (abort) while it has the image open: every
// bitmap stays marked in_use, as qemu-img info reports, and qemu-nbd refuses
// it; the decoder still decodes it and says so.
func TestBitmapInUse(t *testing.T) {
	needTools(t, "qemu-img", "qemu-io")
	path := filepath.Join(t.TempDir(), "inuse.qcow2")
	createImage(t, path, "", "1M")
	qemuImg(t, "bitmap", "--add", path, "x")
	qemuImg(t, "bitmap", "--add", "--disable", path, "y")
	_, _ = runCmdIgnoringExit("qemu-io", "-f", "qcow2", "-c", "write -P 1 0 64k", "-c", "abort", path)
	info := imgInfo(t, path)
	img := openFile(t, path, nil)
	bms, err := img.Bitmaps()
	require.NoError(t, err)
	require.Len(t, bms, 2)
	for i := range bms {
		assert.True(t, bms[i].InUse(), bms[i].Name)
		assert.Contains(t, info.FormatSpecific.Data.Bitmaps[i].Flags, "in-use")
		assert.Equal(t, info.FormatSpecific.Data.Bitmaps[i].Flags, bitmapFlagNames(&bms[i]))
	}
	if haveTool(t, "qemu-nbd") {
		assert.Contains(t, runErr(t, "qemu-nbd", "-r", "-f", "qcow2", "-B", "x", "-k", filepath.Join(t.TempDir(), "s"), path), "inconsistent")
	}
}

// TestBitmapRefusals patches the bitmap directory of a real image.
func TestBitmapRefusals(t *testing.T) {
	needTools(t, "qemu-img")
	path := filepath.Join(t.TempDir(), "bm.qcow2")
	createImage(t, path, "", "1M")
	qemuImg(t, "bitmap", "--add", path, "bm")
	orig := openFile(t, path, nil)
	dir := int(orig.BitmapsExt.DirectoryOffset)
	ext := int(orig.Extensions[slices.IndexFunc(orig.Extensions, func(x Extension) bool { return x.Type == ExtBitmaps })].Offset)
	be := binary.BigEndian
	cases := []struct {
		name     string
		patch    func([]byte)
		want     error
		contains string
	}{
		{"reserved-flag", func(b []byte) { be.PutUint32(b[dir+12:], 1<<5) }, ErrUnsupported, "reserved bits 0x20"},
		{"type", func(b []byte) { b[dir+16] = 2 }, ErrUnsupported, "type (entry byte 16) = 2"},
		{"granularity", func(b []byte) { b[dir+17] = 64 }, ErrCorrupt, "granularity_bits (entry byte 17) = 64"},
		{"name-size-0", func(b []byte) { be.PutUint16(b[dir+18:], 0) }, ErrCorrupt, "name_size (entry byte 18) is 0"},
		{"name-beyond-directory", func(b []byte) { be.PutUint16(b[dir+18:], 1000) }, ErrCorrupt, "exceed the 32 bytes left in the directory"},
		{"table-beyond-eof", func(b []byte) { be.PutUint32(b[dir+8:], 1<<30) }, ErrCorrupt, "ends beyond the end of the file"},
		{"table-misaligned", func(b []byte) { be.PutUint64(b[dir:], be.Uint64(b[dir:])+8) }, ErrCorrupt, "not aligned"},
		{"nb-bitmaps-0", func(b []byte) { be.PutUint32(b[ext:], 0) }, ErrCorrupt, "nb_bitmaps = 0"},
		{"too-many", func(b []byte) { be.PutUint32(b[ext:], 2) }, ErrCorrupt, "too small for nb_bitmaps = 2"},
		{"directory-huge", func(b []byte) { be.PutUint64(b[ext+8:], 1<<40) }, ErrCorrupt, "bitmap_directory_size = 1099511627776 exceeds"},
		{"directory-beyond-eof", func(b []byte) { be.PutUint64(b[ext+16:], 1<<30) }, ErrCorrupt, "bitmap directory at offset 1073741824"},
		{"directory-short", func(b []byte) { be.PutUint64(b[ext+8:], be.Uint64(b[ext+8:])-8) }, ErrCorrupt, "exceed the 24 bytes left in the directory"},
		// obs: the directory is the last thing in the file, so a larger size
		// reaches beyond it.
		{"directory-long", func(b []byte) { be.PutUint64(b[ext+8:], be.Uint64(b[ext+8:])+8) }, ErrCorrupt, "ends beyond the end of the file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img, err := openBytes(patched(t, path, c.patch))
			require.NoError(t, err)
			_, err = img.Bitmaps()
			require.ErrorIs(t, err, c.want)
			assert.Contains(t, err.Error(), c.contains)
		})
	}
	_ = os.Remove(path)
}

// TestBitmapQemuLimits: QEMU writes no bitmap extra data and no bitmap
// whose table clusters hold more than 512 MiB; an entry beyond either is
// unsupported, so that one entry and one bitmap table stay small.
func TestBitmapQemuLimits(t *testing.T) {
	be := binary.BigEndian
	entry := func(tableSize uint32, extra int) []byte {
		e := make([]byte, 24+extra+2)
		be.PutUint64(e[0:], 0x10000)
		be.PutUint32(e[8:], tableSize)
		be.PutUint32(e[12:], BitmapFlagAuto)
		e[16], e[17] = BitmapTypeDirtyTracking, 16
		be.PutUint16(e[18:], 2)
		be.PutUint32(e[20:], uint32(extra))
		copy(e[24+extra:], "bm")
		for len(e)%8 != 0 {
			e = append(e, 0)
		}
		return e
	}
	const cs, file = 64 << 10, 1 << 40
	_, err := decodeBitmapDirectory(entry(8192, MaxBitmapExtraData), 1, cs, file)
	require.NoError(t, err, "at both limits")
	_, err = decodeBitmapDirectory(entry(8193, 0), 1, cs, file)
	require.ErrorIs(t, err, ErrUnsupported)
	assert.Contains(t, err.Error(), `bitmap "bm" (entry 0 at offset 0x0): bitmap_table_size = 8193: 8193 clusters of 65536 bytes exceed QEMU's limit of 536870912 bytes of bitmap`)
	_, err = decodeBitmapDirectory(entry(1, MaxBitmapExtraData+8), 1, cs, file)
	require.ErrorIs(t, err, ErrUnsupported)
	assert.Contains(t, err.Error(), "extra_data_size (entry byte 20) = 1032 exceeds 1024 (QEMU writes none)")
}
