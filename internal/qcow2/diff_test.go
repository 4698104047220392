package qcow2

import (
	"testing"

	"github.com/changedblocks/sdk/extent"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func data(off uint64) [2]uint64 { return [2]uint64{off | FlagCopied, 0} }

// views opens a synthetic image and returns its snapshot views by name and the
// active view.
func views(t *testing.T, b []byte) (*Image, map[string]View) {
	t.Helper()
	img, err := openBytes(b)
	require.NoError(t, err)
	vs := map[string]View{"": img.ActiveView()}
	snaps, err := img.Snapshots()
	require.NoError(t, err)
	for i := range snaps {
		v, err := img.SnapshotView(&snaps[i])
		require.NoError(t, err)
		vs[snaps[i].Name] = v
	}
	return img, vs
}

// TestDiffRules checks each rule of Diff on a synthetic image with 512-byte
// clusters (an L2 table maps 32 KiB).
func TestDiffRules(t *testing.T) {
	const span = 32 << 10
	s := newSynth(9, false, 3*span)
	d1, d2, d3 := s.alloc(1), s.alloc(1), s.alloc(1)
	shared := s.l2(map[int][2]uint64{0: data(d1), 10: data(d2)})
	// The same entries, but COPIED differs: not a change.
	sharedCopy := s.l2(map[int][2]uint64{0: {d1, 0}, 10: data(d2)})
	empty := s.l2(nil)
	t2a := s.l2(map[int][2]uint64{5: data(d1), 7: {FlagZero, 0}})
	t2b := s.l2(map[int][2]uint64{5: data(d1), 7: {0, 0}, 9: data(d3)})
	vmstate := s.l2(map[int][2]uint64{0: data(d3)})

	// a: [shared, -, t2a]; b: [sharedCopy, empty, t2b, vmstate] (L1 longer,
	// with an entry beyond the disk size, as VM state has).
	l1a := s.table([]uint64{shared | FlagCopied, 0, t2a})
	l1b := s.table([]uint64{sharedCopy, empty, t2b, vmstate})
	s.addSnapshot("a", l1a, 3, 3*span)
	s.addSnapshot("b", l1b, 4, 3*span)
	// big: b's tables with a larger disk size, so that its fourth entry is disk.
	s.addSnapshot("big", l1b, 4, 4*span)
	img, vs := views(t, s.bytes(l1a, 3))

	diff := func(x, y string) []extent.Extent { return collect(t, img.Diff(vs[x], vs[y])) }
	want := []extent.Extent{e(2*span+7*512, 512), e(2*span+9*512, 512)}
	assert.Equal(t, want, diff("a", "b"), "COPIED ignored, empty table = absent, zero flag counts, VM state ignored")
	assert.Equal(t, want, diff("b", "a"))
	assert.Empty(t, diff("a", ""), "same L1 table")
	assert.Equal(t, append(want, e(3*span, span)), diff("a", "big"), "bytes beyond the smaller size are changed")

	// Allocation: data and zero clusters, clipped to the disk size.
	assert.Equal(t, []extent.Extent{e(0, 512), e(10*512, 512), e(2*span+5*512, 512), e(2*span+7*512, 512)}, collect(t, img.Allocated(vs["a"])))
	assert.Equal(t, []extent.Extent{e(0, 512), e(10*512, 512), e(2*span+5*512, 512), e(2*span+9*512, 512)}, collect(t, img.Allocated(vs["b"])))
	assert.Equal(t, []extent.Extent{e(0, 512), e(10*512, 512), e(2*span+5*512, 512), e(2*span+9*512, 512), e(3*span, 512)}, collect(t, img.Allocated(vs["big"])))

	// Stopping early is fine.
	for range img.Diff(vs["a"], vs["big"]) {
		break
	}
}

// TestDiffExtendedL2 checks subcluster precision: same host cluster → only the
// subclusters whose bits differ; another host cluster → the whole cluster.
func TestDiffExtendedL2(t *testing.T) {
	s := newSynth(14, true, 1<<20) // 16 KiB clusters, 512-byte subclusters
	h1, h2 := s.alloc(1), s.alloc(1)
	ta := s.l2(map[int][2]uint64{
		0: {h1 | FlagCopied, 0b1111},             // subclusters 0-3 allocated
		1: {h2, 1 << 40},                         // subcluster 8 zero
		2: {0, 0xffffffff << 32},                 // all zero, no host cluster
		3: {h1, 0xffffffff},                      // all allocated
		4: {FlagCompressed | 0x12345, 0},         // compressed
		5: {h2, 0x00000001 | 0x00000002<<32},     // mixed
		6: {FlagCompressed | 0x12345 | 1<<54, 0}, // compressed, another size
	})
	tb := s.l2(map[int][2]uint64{
		0: {h1, 0b1111 | 1<<10},              // + subcluster 10 allocated
		1: {h2, 1 << 41},                     // zero 8 → zero 9
		2: {0, 0xffffffff << 32},             // equal
		3: {h2, 0xffffffff},                  // another host cluster
		4: {FlagCompressed | 0x12345, 0},     // equal
		5: {h2, 0x00000001 | 0x00000002<<32}, // equal
		6: {FlagCompressed | 0x12345, 0},     // sector count differs
	})
	s.addSnapshot("a", s.table([]uint64{ta}), 1, 1<<20)
	s.addSnapshot("b", s.table([]uint64{tb}), 1, 1<<20)
	img, vs := views(t, s.bytes(s.table([]uint64{ta}), 1))
	const cs = 16 << 10
	assert.Equal(t, []extent.Extent{
		e(10*512, 512),
		e(cs+8*512, 1024),
		e(3*cs, cs),
		e(6*cs, cs),
	}, collect(t, img.Diff(vs["a"], vs["b"])))

	assert.Equal(t, []extent.Extent{
		e(0, 4*512),
		e(cs+8*512, 512),
		e(2*cs, 3*cs+2*512), // zero, data, compressed, then subclusters 0-1 of a mixed one
		e(6*cs, cs),
	}, collect(t, img.Allocated(vs["a"])))

	c, err := img.Lookup(vs["a"], 5*cs)
	require.NoError(t, err)
	assert.Equal(t, ClusterMixed, c.Kind)
	assert.Equal(t, ClusterData, c.Subcluster(0))
	assert.Equal(t, ClusterZero, c.Subcluster(1))
	assert.Equal(t, ClusterUnallocated, c.Subcluster(2))
}

// TestDiffErrors: tables outside the file or misaligned are ErrCorrupt,
// yielded once.
func TestDiffErrors(t *testing.T) {
	s := newSynth(10, false, 64<<10) // 1 KiB clusters
	good := s.l2(nil)
	s.addSnapshot("beyond", s.table([]uint64{1 << 40}), 1, 64<<10)
	s.addSnapshot("misaligned", s.table([]uint64{good + 512}), 1, 64<<10)
	s.addSnapshot("l1-beyond", 1<<30, 4, 64<<10)
	s.addSnapshot("shared-l2", s.table([]uint64{good, 0, good | FlagCopied}), 3, 64<<10)
	s.addSnapshot("bad-l2-entry", s.table([]uint64{s.l2(map[int][2]uint64{3: {good + 512, 0}})}), 1, 64<<10)
	img, vs := views(t, s.bytes(s.table([]uint64{good}), 1))
	for name, msg := range map[string]string{
		"beyond":     `snapshot "beyond" L1 entry 0: L2 table at offset 0x10000000000 ends beyond the end of the file`,
		"misaligned": `snapshot "misaligned" L1 entry 0: L2 table offset 0xa00 is not aligned to the cluster size 1024`,
		"l1-beyond":  `L1 table of the snapshot "l1-beyond" at offset 0x40000000, 4 entries, ends beyond the end of the file`,
		"shared-l2":  `L1 table of the snapshot "shared-l2": entries 0 and 2 both point to the L2 table at 0x800`,
	} {
		_, err := collectErr(img.Diff(vs[""], vs[name]))
		require.ErrorIs(t, err, ErrCorrupt, name)
		assert.Contains(t, err.Error(), msg)
		_, err = collectErr(img.Allocated(vs[name]))
		require.ErrorIs(t, err, ErrCorrupt, name)
	}
	// Diff compares entries without decoding them; Allocated decodes them.
	_, err := collectErr(img.Diff(vs[""], vs["bad-l2-entry"]))
	require.NoError(t, err)
	_, err = collectErr(img.Allocated(vs["bad-l2-entry"]))
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), `snapshot "bad-l2-entry", guest offset 0xc00 (L1 entry 0, L2 entry 3)`)
	n := 0
	for _, err := range img.Diff(vs[""], vs["beyond"]) {
		require.Error(t, err)
		n++
	}
	assert.Equal(t, 1, n, "an error is yielded once")
}

func TestDecodeL2Entry(t *testing.T) {
	h := &Header{Version: 3, ClusterBits: 17}
	// obs from the notes: 128 KiB clusters, 0x40000000000c0000 → x=53, offset
	// 0xc0000, no additional sectors.
	c, err := h.DecodeL2Entry(0x40000000000c0000, 0)
	require.NoError(t, err)
	assert.Equal(t, Cluster{Kind: ClusterCompressed, HostOffset: 0xc0000, CompressedSize: 512}, c)
	c, err = h.DecodeL2Entry(FlagCompressed|3<<53|0xc0100, 0)
	require.NoError(t, err)
	assert.Equal(t, uint64(4*512-0x100), c.CompressedSize, "3 more sectors, from an unaligned start")

	c, err = h.DecodeL2Entry(FlagCopied|0x60000, 0)
	require.NoError(t, err)
	assert.Equal(t, Cluster{Kind: ClusterData, HostOffset: 0x60000, Copied: true}, c)
	c, err = h.DecodeL2Entry(0x60000|FlagZero, 0)
	require.NoError(t, err)
	assert.Equal(t, Cluster{Kind: ClusterZero, HostOffset: 0x60000}, c, "zero with preallocation")
	_, err = h.DecodeL2Entry(0x61000, 0)
	require.ErrorIs(t, err, ErrCorrupt)

	v2 := &Header{Version: 2, ClusterBits: 16}
	c, err = v2.DecodeL2Entry(FlagZero, 0)
	require.NoError(t, err)
	assert.Equal(t, ClusterUnallocated, c.Kind, "version 2 has no zero flag")

	ext := &Header{Version: 3, ClusterBits: 16, IncompatibleFeatures: IncompatExtendedL2}
	_, err = ext.DecodeL2Entry(0x10000, 1|1<<32)
	require.ErrorIs(t, err, ErrCorrupt, "allocated and zero")
	_, err = ext.DecodeL2Entry(0, 1)
	require.ErrorIs(t, err, ErrCorrupt, "allocated without host cluster")
	_, err = ext.DecodeL2Entry(FlagCompressed|0x1000, 1)
	require.ErrorIs(t, err, ErrCorrupt, "compressed with a bitmap")
	c, err = ext.DecodeL2Entry(0x10000|FlagZero, 0)
	require.NoError(t, err)
	assert.Equal(t, ClusterUnallocated, c.Kind, "bit 0 is unused with extended L2")

	data := &Header{Version: 3, ClusterBits: 16, IncompatibleFeatures: IncompatExternalData}
	c, err = data.DecodeL2Entry(FlagCopied, 0)
	require.NoError(t, err)
	assert.Equal(t, ClusterData, c.Kind, "external data: guest cluster 0 at host offset 0")
	c, err = data.DecodeL2Entry(0, 0)
	require.NoError(t, err)
	assert.Equal(t, ClusterUnallocated, c.Kind)
	_, err = data.DecodeL2Entry(FlagCompressed|0x1000, 0)
	require.ErrorIs(t, err, ErrCorrupt)

	small := &Header{Version: 3, ClusterBits: 9} // x = 61: offset bits above 55 must be 0
	_, err = small.DecodeL2Entry(FlagCompressed|1<<57, 0)
	require.ErrorIs(t, err, ErrCorrupt)
}

// TestL2CacheBounded looks up one cluster of every L2 table of an image with
// many tables, twice, through a cache of two tables: it evicts, never holds
// more than its capacity, and gives the same answers as an unbounded cache. The
// sequential walks do not use the cache: after them it is still empty.
func TestL2CacheBounded(t *testing.T) {
	s := newSynth(9, false, 64*32<<10)
	var l1 []uint64
	for i := range 64 {
		l1 = append(l1, s.l2(map[int][2]uint64{i % 64: data(s.alloc(1))}))
	}
	b := s.bytes(s.table(l1), 64)
	small, err := Open(bytesReader(b), int64(len(b)), &Options{L2CacheBytes: 1})
	require.NoError(t, err)
	big, err := openBytes(b)
	require.NoError(t, err)
	for range 2 {
		assert.Equal(t, collect(t, big.Allocated(big.ActiveView())), collect(t, small.Allocated(small.ActiveView())))
	}
	used, hits, misses, _ := small.cache.stats()
	assert.Zero(t, used+hits+misses, "walks stream their L2 tables")
	span, cs := small.Header.L1Span(), small.Header.ClusterSize()
	for range 2 {
		for i := range int64(64) {
			off := i*span + i%64*cs
			want, err := big.Lookup(big.ActiveView(), off)
			require.NoError(t, err)
			got, err := small.Lookup(small.ActiveView(), off)
			require.NoError(t, err)
			assert.Equal(t, want, got)
			assert.Equal(t, ClusterData, got.Kind)
		}
	}
	used, hits, misses, evictions := small.cache.stats()
	assert.LessOrEqual(t, used, int64(2*512))
	assert.Equal(t, int64(128), misses)
	assert.Equal(t, int64(0), hits)
	assert.Equal(t, int64(126), evictions)
	used, hits, misses, _ = big.cache.stats()
	assert.Equal(t, int64(64*512), used)
	assert.Equal(t, int64(64), hits)
	assert.Equal(t, int64(64), misses)
}

// TestConcurrentUse runs walks of one Image from several goroutines through a
// cache too small for them (run with -race).
func TestConcurrentUse(t *testing.T) {
	s := newSynth(9, false, 16*32<<10)
	var l1a, l1b []uint64
	for i := range 16 {
		l1a = append(l1a, s.l2(map[int][2]uint64{i: data(s.alloc(1))}))
		l1b = append(l1b, s.l2(map[int][2]uint64{i + 1: data(s.alloc(1))}))
	}
	s.addSnapshot("b", s.table(l1b), 16, 16*32<<10)
	b := s.bytes(s.table(l1a), 16)
	img, err := Open(bytesReader(b), int64(len(b)), &Options{L2CacheBytes: 3 * 512})
	require.NoError(t, err)
	snaps, err := img.Snapshots()
	require.NoError(t, err)
	vb, err := img.SnapshotView(&snaps[0])
	require.NoError(t, err)
	want := collect(t, img.Diff(img.ActiveView(), vb))
	require.Len(t, want, 16)
	done := make(chan []extent.Extent)
	for range 4 {
		go func() {
			var last []extent.Extent
			for range 20 {
				last, _ = collectErr(img.Diff(img.ActiveView(), vb))
				_, _ = collectErr(img.Allocated(vb))
			}
			done <- last
		}()
	}
	for range 4 {
		assert.Equal(t, want, <-done)
	}
}
