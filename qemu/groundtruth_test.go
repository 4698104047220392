package qemu_test

// Ground truth for package qemu: seeded, randomized histories of real qcow2
// images, built with qemu-img and qemu-io, and every listing the public API
// gives (qemu.Open, then Disk.Changes) compared with what the qemu tools say
// changed.
//
// Matrix (gtWorkloads): cluster sizes 512 B to 2 MiB; compat 0.10 and 1.1;
// extended_l2=on; lazy_refcounts=on; compressed clusters (an image that starts
// as `qemu-img convert -c`, and `write -c` between snapshots); data writes,
// zero writes (write -z) and discards (write -zu, discard); resizes between
// snapshots (grow, and shrink with --shrink); reverts to a snapshot
// (`qemu-img snapshot -a`, which restores its size); 50+ snapshots with some
// deleted; persistent bitmaps added between snapshots (v3 only); backing
// chains four deep with raw and qcow2 bases.
//
// For every history, at every point b (each live snapshot, opened by the
// change ID handed out when it was taken, and the active state) and every
// earlier base a:
//   - snapshot a (by the stored change ID; at the active state also by bare
//     name and by id, which must list the same): every 512-byte sector whose
//     contents differ between the `qemu-img convert -l` exports of a and b
//     (and the bytes between two different sizes) lies in a reported extent;
//     nothing is reported outside the ranges the workload touched between a
//     and b, widened to clusters (resizes count as touching the bytes between
//     the two sizes, a revert as touching the whole disk); the same, where
//     the listing is given, for a later snapshot as base (up to 20 snapshots);
//   - a deleted snapshot: the change ID handed out at a gives
//     cbt.ErrChangeIDInvalid;
//   - bitmap a (at the active state): the listing equals nbdinfo's dirty map
//     of the bitmap (qemu-nbd -B) widened to the disk's granularity, and
//     covers every sector that differs between the active export when the
//     bitmap was added and the final one (below the smallest size the disk had
//     since: qemu bitmaps do not record a shrink; see
//     TestGroundTruthBitmapShrink); at a snapshot it is an error;
//   - no base: the listing covers every non-zero sector of b's export and
//     stays within what the operations before b touched; at the active state
//     it also covers every data area of `qemu-img map`, and stays within the
//     present areas widened to clusters;
//   - backing layer a (at the active state and the snapshots of a chain's top,
//     and at each backing layer above a): the listing covers what the layers
//     above a allocate (`qemu-img map`, qemu-nbd's allocation depth for
//     snapshots) and the bytes past the smallest size on the way, stays within
//     that widened to clusters, and covers every sector that differs between
//     the exports of a's chain and of the point.
//
// Every disk is listed for all its bases by two goroutines at once (a Disk is
// safe for concurrent use; -race checks it); a third of the listings are
// repeated in random ranges (ChangesOptions.StartOffset, Length), each of
// which must be exactly the whole listing clipped; even seeds open images
// with an L2 cache of two tables.
//
// Every failure names the workload and seed; rerun one with
//
//	go test ./qemu -run 'TestGroundTruth/WORKLOAD/seedN'
//
// Seeds: 1 per workload with -short, 2 by default; CBT_GROUNDTRUTH_SEEDS=N
// runs seeds 1..N of every workload (e.g. CBT_GROUNDTRUTH_SEEDS=50 for a soak
// run of several minutes). CBT_GROUNDTRUTH_SYSTEM=qcow2 runs the same
// histories and checks on internal/qcow2's decoder instead of the public API
// (images without a backing file; layer listings are skipped), which proves
// the checks themselves; TestGroundTruthChecks does so on one history in
// every run.

import (
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/changedblocks/sdk/internal/qemutools"
	"github.com/changedblocks/sdk/qemu"
)

// gtWorkload describes a family of randomized image histories.
type gtWorkload struct {
	name  string
	opts  string // qemu-img create -o of the image under test
	cs    int64  // its cluster size
	size  int64  // its initial virtual size
	v2    bool   // compat=0.10: no bitmaps, no resize with snapshots
	steps int

	chain    []gtLayerSpec // backing layers, bottom first: the image is an overlay of the last
	compress bool          // the image starts as `qemu-img convert -c` of written data

	compressedWrites bool // `write -zu` then `write -c` of whole clusters between snapshots
	bitmaps          bool // persistent bitmaps added between snapshots
	resize           bool // grow, and shrink with --shrink, between snapshots
	snapPct          int  // chance of a snapshot per step (default 14)
	deletePct        int  // chance of a snapshot deletion per step (default 4)
	short            bool // also runs with -short
}

// gtLayerSpec is one backing layer of a chain workload.
type gtLayerSpec struct {
	format string // "raw" or "qcow2"
	opts   string // qemu-img create -o (qcow2)
	cs     int64  // cluster size (qcow2); 0 for raw
	less   int64  // bytes smaller than the workload's size
}

var gtWorkloads = []gtWorkload{
	{name: "v3-64k-bitmaps-resize", cs: 64 << 10, size: 8 << 20, steps: 60, bitmaps: true, resize: true, compressedWrites: true, short: true},
	{name: "v2-64k", opts: "compat=0.10", cs: 64 << 10, size: 8 << 20, v2: true, steps: 50, compressedWrites: true},
	{name: "v2-512", opts: "compat=0.10,cluster_size=512", cs: 512, size: 1 << 20, v2: true, steps: 40, short: true},
	{name: "v3-512-bitmaps", opts: "cluster_size=512", cs: 512, size: 1 << 20, steps: 50, bitmaps: true, resize: true, compressedWrites: true},
	// 8 MiB: four L1 entries (an L2 table covers 2 MiB).
	{name: "v3-4k", opts: "cluster_size=4k", cs: 4 << 10, size: 8 << 20, steps: 50, resize: true, bitmaps: true},
	{name: "extl2-64k", opts: "extended_l2=on", cs: 64 << 10, size: 8 << 20, steps: 50, bitmaps: true, resize: true, compressedWrites: true, short: true},
	// 40 MiB: three L1 entries (an L2 table of 1024 entries covers 16 MiB).
	{name: "extl2-16k", opts: "extended_l2=on,cluster_size=16k", cs: 16 << 10, size: 40 << 20, steps: 40, resize: true, bitmaps: true},
	{name: "v3-2M", opts: "cluster_size=2M", cs: 2 << 20, size: 16 << 20, steps: 32, bitmaps: true, resize: true},
	{name: "extl2-2M", opts: "extended_l2=on,cluster_size=2M", cs: 2 << 20, size: 16 << 20, steps: 32, resize: true, compressedWrites: true},
	{name: "lazy-refcounts", opts: "lazy_refcounts=on", cs: 64 << 10, size: 8 << 20, steps: 40, bitmaps: true, resize: true},
	{name: "compressed", opts: "cluster_size=64k", cs: 64 << 10, size: 4 << 20, steps: 32, compress: true, compressedWrites: true, bitmaps: true},
	{name: "compressed-512-v2", opts: "compat=0.10,cluster_size=512", cs: 512, size: 512 << 10, v2: true, steps: 32, compress: true},
	{name: "many-snapshots", cs: 64 << 10, size: 2 << 20, steps: 190, snapPct: 36, deletePct: 6, bitmaps: true, short: true},
	{name: "chain4-raw", cs: 64 << 10, size: 4 << 20, steps: 30, resize: true, bitmaps: true, short: true, chain: []gtLayerSpec{
		{format: "raw", less: 512 << 10},
		{format: "qcow2", opts: "compat=0.10", cs: 64 << 10},
		{format: "qcow2", opts: "extended_l2=on,cluster_size=32k", cs: 32 << 10},
	}},
	{name: "chain4-qcow2", opts: "cluster_size=16k", cs: 16 << 10, size: 4 << 20, steps: 30, compressedWrites: true, chain: []gtLayerSpec{
		{format: "qcow2", opts: "cluster_size=4k", cs: 4 << 10},
		{format: "qcow2", opts: "extended_l2=on", cs: 64 << 10, less: 1 << 20},
		{format: "qcow2", opts: "lazy_refcounts=on,cluster_size=512", cs: 512},
	}},
}

// gtSeeds returns the seeds every workload runs with.
func gtSeeds(t testing.TB) []uint64 {
	n := 2
	if testing.Short() {
		n = 1
	}
	if s := os.Getenv("CBT_GROUNDTRUTH_SEEDS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			t.Fatalf("CBT_GROUNDTRUTH_SEEDS=%q: want a positive number", s)
		}
		n = v
	}
	seeds := make([]uint64, n)
	for i := range seeds {
		seeds[i] = uint64(i + 1)
	}
	return seeds
}

// TestGroundTruth runs every workload of the matrix with its seeds through the
// public API and checks each listing against the qemu tools (see the top of
// this file).
func TestGroundTruth(t *testing.T) {
	qemutools.Need(t, "qemu-img", "qemu-io")
	nbd := qemutools.Have(t, "qemu-nbd") && qemutools.Have(t, "nbdinfo")
	for _, w := range gtWorkloads {
		if testing.Short() && !w.short && os.Getenv("CBT_GROUNDTRUTH_SEEDS") == "" {
			continue
		}
		for _, seed := range gtSeeds(t) {
			t.Run(fmt.Sprintf("%s/seed%d", w.name, seed), func(t *testing.T) {
				t.Parallel()
				// Even seeds run with an L2 cache of two tables, so that
				// tables are evicted and read again.
				var sys gtSystem = gtAPI{opts: trusted}
				if seed%2 == 0 {
					sys = gtAPI{opts: &qemu.Options{L2CacheBytes: 2 * w.cs, TrustUnguarded: true}}
				}
				if os.Getenv("CBT_GROUNDTRUTH_SYSTEM") == "qcow2" {
					sys = gtQcow2{}
				}
				h := buildHistory(t, w, seed, sys)
				r := gtNewReport(t, h)
				checkHistory(t, h, sys, r, nbd)
				r.summary()
			})
		}
	}
}
