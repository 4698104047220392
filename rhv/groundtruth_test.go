package rhv_test

// Ground truth for the volume driver (rhv.OpenVolume): seeded random chains
// of 2 to 5 real volumes, laid out as a file domain and as a block domain
// (see helpers_test.go), each volume written by qemu-io (data, zero writes,
// zero writes that unmap, discards) before the next one is put on it, some
// volumes extended, some chains on a RAW base, cluster sizes mixed.
//
// For every volume X and every volume B below it, with the change ID the
// disk at B handed out as the base:
//   - every 512-byte sector where the export of the view at X (qemu-img
//     convert of X, read through its backing chain) differs from the export
//     of the view at B, and every byte beyond B's size, lies in a reported
//     extent (zero changed bytes missed);
//   - nothing is reported outside what the layers above B allocate (qemu-img
//     map, present at depth 0) and the bytes beyond the smallest size on the
//     way, widened to the largest cluster;
//   - listings in random windows (StartOffset, Length) are the whole
//     listing clipped.
//
// With a zero base, every non-zero sector of X's export is reported, and
// nothing outside what the layers up to X allocate. Since X itself nothing
// is reported; the leaf hands out no change ID.
//
// Seeds: 1 per layout with -short, 3 by default; CBT_GROUNDTRUTH_SEEDS=N
// runs seeds 1..N. Rerun one with go test ./rhv -run 'TestGroundTruthVolumes/file/seed3'.

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/cbttest"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/rhv"
)

// gtSeeds returns how many seeds to run per layout.
func gtSeeds(t *testing.T) int {
	if s := os.Getenv("CBT_GROUNDTRUTH_SEEDS"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err, "CBT_GROUNDTRUTH_SEEDS")
		return n
	}
	if testing.Short() {
		return 1
	}
	return 3
}

func TestGroundTruthVolumes(t *testing.T) {
	for _, layout := range []diskLayout{diskFileDomain, diskBlockDomain} {
		t.Run(layout.String(), func(t *testing.T) {
			for seed := 1; seed <= gtSeeds(t); seed++ {
				t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
					gtRunChain(t, layout, uint64(seed))
				})
			}
		})
	}
}

// gtClusterOpts are the qcow2 options a volume may get, with their cluster
// size: mostly vdsm's default, sometimes another size.
var gtClusterOpts = []struct {
	opts string
	cs   int64
}{
	{"", 64 << 10}, {"", 64 << 10}, {"", 64 << 10},
	{"cluster_size=4k", 4 << 10},
	{"cluster_size=1M", 1 << 20},
	{"extended_l2=on", 64 << 10},
}

// gtBuilt is a random chain with what the test knows of it.
type gtBuilt struct {
	c        *diskChain
	clusters []int64 // cluster size per volume (512 for raw)
	sizes    []int64
}

// gtBuild builds a random chain of 2 to 5 volumes.
func gtBuild(t *testing.T, layout diskLayout, seed uint64) *gtBuilt {
	rng := rand.New(rand.NewPCG(seed, 0x7e1+uint64(layout)))
	img := diskUUID(0x1a, seed)
	c := diskNewChain(t, layout, img)
	g := &gtBuilt{c: c}
	n := 2 + rng.IntN(4)
	size := int64(2<<20) + 512*rng.Int64N(4096)
	for j := range n {
		spec := diskVolSpec{size: size}
		cs := int64(512)
		if j == 0 && rng.IntN(3) == 0 {
			spec.raw = true
		} else {
			o := gtClusterOpts[rng.IntN(len(gtClusterOpts))]
			spec.opts, cs = o.opts, o.cs
		}
		id := c.add(spec)
		g.clusters = append(g.clusters, cs)
		g.sizes = append(g.sizes, size)
		c.io(id, diskRandomOps(rng, 3+rng.IntN(12), size, spec.raw)...)
		t.Logf("volume %d %s: raw=%v opts=%q size=%d", j, id, spec.raw, spec.opts, size)
		if rng.IntN(3) == 0 { // the next volume is extended
			size += 512 * (1 + rng.Int64N(4096))
		}
	}
	return g
}

func gtRunChain(t *testing.T, layout diskLayout, seed uint64) {
	if seed%2 == 0 {
		// Pages cut after two extents of a layer.
		t.Cleanup(rhv.SetVolPageExtents(2))
	}
	g := gtBuild(t, layout, seed)
	c := g.c
	ids := c.ids()
	before := gtHashFiles(t, c)
	defer func() { assert.Equal(t, before, gtHashFiles(t, c), "the volumes were written to") }()
	exports := make([][]byte, len(ids))
	for i, id := range ids {
		exports[i] = c.export(id)
		require.Len(t, exports[i], int(g.sizes[i]), "export of volume %d", i)
	}
	presents := make([][]extent.Extent, len(ids))
	for i, id := range ids {
		presents[i] = c.present(id)
	}
	// Every disk, and the change ID each hands out.
	disks := make([]*cbt.Disk, len(ids))
	for i, id := range ids {
		d, err := rhv.OpenVolume(&c.chain, id, c.options())
		require.NoError(t, err, "open volume %d", i)
		t.Cleanup(func() { assert.NoError(t, d.Close()) })
		disks[i] = d
		assert.Equal(t, g.sizes[i], d.Capacity(), "capacity of volume %d", i)
		if i == len(ids)-1 {
			_, noID := d.ChangeID()
			assert.ErrorIs(t, noID, cbt.ErrUnsupported, "the leaf hands out no change ID")
			continue
		}
		p, err := rhv.VolumePointOf(cbttest.MustChangeID(t, d))
		require.NoError(t, err)
		assert.Equal(t, id, p.Volume, "change ID of volume %d", i)
		assert.Equal(t, ids[i+1], p.Child, "change ID of volume %d", i)
		assert.NotEmpty(t, p.Guard, "change ID of volume %d", i)
	}
	leaf, err := rhv.OpenVolume(&c.chain, "", c.options())
	require.NoError(t, err)
	assert.Equal(t, disks[len(ids)-1].Name(), leaf.Name(), "the default volume is the leaf")
	require.NoError(t, leaf.Close())

	rng := rand.New(rand.NewPCG(seed, 0x91))
	for x := range ids {
		d := disks[x]
		// The data at the volume, read through the SDK, is qemu-img's export.
		data, err := io.ReadAll(io.NewSectionReader(d.ReaderAt(t.Context()), 0, d.Capacity()))
		require.NoError(t, err, "read volume %d", x)
		if !bytes.Equal(exports[x], data) {
			t.Fatalf("volume %d: the disk reads differently than qemu-img exports it", x)
		}
		zs, err := cbt.Collect(d.Zeros(t.Context(), nil))
		require.NoError(t, err, "zero areas of volume %d", x)
		for _, z := range zs {
			if !bytes.Equal(data[z.Offset:z.End()], make([]byte, z.Length)) {
				t.Fatalf("volume %d: %v is listed as reading zeros and does not", x, z)
			}
		}
		maxCluster := int64(512)
		for j := 0; j <= x; j++ {
			maxCluster = max(maxCluster, g.clusters[j])
		}
		// Zero base: everything allocated; listed by two goroutines at once.
		var wg sync.WaitGroup
		var other []extent.Extent
		var otherErr error
		wg.Go(func() { other, otherErr = cbt.Collect(d.Changes(t.Context(), cbt.ChangeID{}, nil)) })
		got := gtList(t, d, cbt.ChangeID{}, rng)
		wg.Wait()
		require.NoError(t, otherErr)
		require.Equal(t, got, other, "volume %d: concurrent listing", x)
		if miss, ok := diskUncovered(got, diskNonZero(exports[x])); ok {
			t.Fatalf("volume %d, zero base: UNDER-REPORT: non-zero bytes %v not reported (reported %v)", x, miss, got)
		}
		var bound []extent.Extent
		for j := 0; j <= x; j++ {
			bound = append(bound, presents[j]...)
		}
		gtWithin(t, got, bound, maxCluster, d.Capacity(), fmt.Sprintf("volume %d, zero base", x))

		for b := range x {
			since := cbttest.MustChangeID(t, disks[b])
			got := gtList(t, d, since, rng)
			diffs := diskDiffs(exports[b], exports[x])
			if miss, ok := diskUncovered(got, diffs); ok {
				t.Fatalf("volume %d since volume %d: UNDER-REPORT: changed bytes %v not reported (reported %v, changed %v)", x, b, miss, got, diffs)
			}
			var bound []extent.Extent
			smallest := d.Capacity()
			for j := b + 1; j <= x; j++ {
				bound = append(bound, presents[j]...)
			}
			for j := b; j <= x; j++ {
				smallest = min(smallest, g.sizes[j])
			}
			if smallest < d.Capacity() {
				bound = append(bound, extent.Extent{Offset: smallest, Length: d.Capacity() - smallest})
			}
			gtWithin(t, got, bound, maxCluster, d.Capacity(), fmt.Sprintf("volume %d since volume %d", x, b))
			t.Logf("volume %d since volume %d: %d extents, %d changed ranges", x, b, len(got), len(diffs))
		}
		if x < len(ids)-1 {
			got := gtList(t, d, cbttest.MustChangeID(t, d), rng)
			assert.Empty(t, got, "volume %d since itself", x)
		}
	}
}

// gtHashFiles returns the SHA-256 of every volume file of the chain.
func gtHashFiles(t *testing.T, c *diskChain) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, id := range c.ids() {
		b, err := os.ReadFile(c.filePath(id))
		require.NoError(t, err)
		out[id] = fmt.Sprintf("%x", sha256.Sum256(b))
	}
	return out
}

// gtList lists d's changes since base, and again in a random window that
// must give the whole listing clipped.
func gtList(t *testing.T, d *cbt.Disk, since cbt.ChangeID, rng *rand.Rand) []extent.Extent {
	t.Helper()
	got, err := cbt.Collect(d.Changes(t.Context(), since, nil))
	require.NoError(t, err, "listing %s since %q", d.Name(), since)
	for _, e := range got {
		require.True(t, e.Offset%d.Granularity() == 0 && (e.Length%d.Granularity() == 0 || e.End() == d.Capacity()),
			"extent %v is not aligned to the granularity %d", e, d.Granularity())
	}
	start := rng.Int64N(d.Capacity())
	length := rng.Int64N(d.Capacity()-start) + 1
	part, err := cbt.Collect(d.Changes(t.Context(), since, &cbt.ChangesOptions{StartOffset: start, Length: length}))
	require.NoError(t, err)
	want := extent.ClipSlice(slices.Clone(got), start, start+length)
	if len(want) == 0 {
		want = nil
	}
	if len(part) == 0 {
		part = nil
	}
	require.Equal(t, want, part, "window [%d, %d)", start, start+length)
	return got
}

// gtWithin fails t when got reports bytes outside bound widened to block.
func gtWithin(t *testing.T, got, bound []extent.Extent, block, capacity int64, what string) {
	t.Helper()
	wide := extent.AlignSlice(extent.Normalize(bound), block, capacity)
	for _, e := range got {
		if miss, ok := diskUncovered(wide, []extent.Extent{e}); ok {
			t.Fatalf("%s: reported %v, outside what the layers allocate widened to %d bytes (%v)", what, miss, block, wide)
		}
	}
}
