package qcow2

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/changedblocks/sdk/extent"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// workload describes a family of randomized image histories: qemu-io writes,
// zero writes and discards, internal snapshots taken and deleted, and resizes.
type workload struct {
	name     string
	opts     string // qemu-img create -o
	cs       int64  // cluster size the options give
	size     int64  // initial virtual size
	backing  string // "", "qcow2" or "raw": the image is an overlay of a base with data
	compress bool   // the image starts as `qemu-img convert -c` of written data
	v2       bool   // no resize with snapshots, no zero flag
	steps    int
}

var workloads = []workload{
	{name: "v2-64k", opts: "compat=0.10", cs: 64 << 10, size: 8 << 20, v2: true, steps: 48},
	{name: "v3-64k", opts: "", cs: 64 << 10, size: 8 << 20, steps: 48},
	{name: "v3-512", opts: "cluster_size=512", cs: 512, size: 1 << 20, steps: 60},
	{name: "v2-512", opts: "compat=0.10,cluster_size=512", cs: 512, size: 1 << 20, v2: true, steps: 40},
	{name: "extl2-64k", opts: "extended_l2=on", cs: 64 << 10, size: 8 << 20, steps: 60},
	{name: "extl2-16k", opts: "extended_l2=on,cluster_size=16k", cs: 16 << 10, size: 4 << 20, steps: 48},
	{name: "v3-2M", opts: "cluster_size=2M", cs: 2 << 20, size: 16 << 20, steps: 32},
	{name: "extl2-2M", opts: "extended_l2=on,cluster_size=2M", cs: 2 << 20, size: 16 << 20, steps: 32},
	{name: "lazy-refcounts", opts: "lazy_refcounts=on", cs: 64 << 10, size: 8 << 20, steps: 40},
	{name: "backing-qcow2", opts: "", cs: 64 << 10, size: 8 << 20, backing: "qcow2", steps: 40},
	{name: "backing-raw-extl2", opts: "extended_l2=on,cluster_size=32k", cs: 32 << 10, size: 4 << 20, backing: "raw", steps: 40},
	{name: "compressed", opts: "cluster_size=64k", cs: 64 << 10, size: 4 << 20, compress: true, steps: 32},
	{name: "compressed-512", opts: "cluster_size=512", cs: 512, size: 512 << 10, compress: true, steps: 32},
}

// view is one point in time of the workload's model.
type view struct {
	name string // "" for the active image
	ops  int    // operations applied before the view was taken
	size int64
}

// TestWorkloads runs every workload with fixed seeds (2 with -short, 6
// otherwise) and checks, against the qemu tools:
//   - the snapshot table against `qemu-img info` (id, name, date, VM clock, VM
//     state size, icount) and the disk size of each snapshot against the size
//     of its `qemu-img convert -l` export;
//   - Allocated(active) against `qemu-img map` (present at depth 0), and
//     Allocated(snapshot) against nbdinfo's qemu:allocation-depth map of
//     `qemu-nbd -A -l snapshot.name=…`;
//   - for every pair of views, that every 512-byte sector whose contents differ
//     between the two exports is inside Diff, that Diff only reports clusters
//     some operation between the two views touched (or bytes between the two
//     disk sizes), and that Diff is symmetric;
//   - for compressed clusters, that the decoded offset and size hold a raw
//     deflate stream that inflates to the cluster's exported contents.
func TestWorkloads(t *testing.T) {
	needTools(t, "qemu-img", "qemu-io")
	seeds := []uint64{1, 2, 3, 4, 5, 6}
	if testing.Short() {
		seeds = seeds[:2]
	}
	for _, w := range workloads {
		for _, seed := range seeds {
			t.Run(fmt.Sprintf("%s/seed%d", w.name, seed), func(t *testing.T) {
				t.Parallel()
				runWorkload(t, w, seed)
			})
		}
	}
}

func runWorkload(t *testing.T, w workload, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x71c0b2))
	dir := t.TempDir()
	path := filepath.Join(dir, "img.qcow2")
	size := w.size
	randomRange := func(maxClusters int64) (int64, int64) {
		off := rng.Int64N(size/512) * 512
		n := (1 + rng.Int64N(maxClusters*w.cs/512)) * 512
		return off, min(n, size-off)
	}

	switch {
	case w.backing != "":
		base := filepath.Join(dir, "base."+w.backing)
		qemuImg(t, "create", "-q", "-f", w.backing, base, fmt.Sprint(size))
		var cmds []string
		for range 6 {
			off, n := randomRange(4)
			cmds = append(cmds, fmt.Sprintf("write -P 0x%x %d %d", 0xf0+rng.IntN(15), off, n))
		}
		args := []string{"-f", w.backing}
		for _, c := range cmds {
			args = append(args, "-c", c)
		}
		run(t, "qemu-io", append(args, base)...)
		createImage(t, path, w.opts, fmt.Sprint(size), "-b", base, "-F", w.backing)
	case w.compress:
		src := filepath.Join(dir, "src.qcow2")
		createImage(t, src, "", fmt.Sprint(size))
		var cmds []string
		for range 8 {
			off, n := randomRange(6)
			cmds = append(cmds, fmt.Sprintf("write -P 0x%x %d %d", 0xe0+rng.IntN(15), off, n))
		}
		qemuIO(t, src, cmds...)
		args := []string{"convert", "-c", "-f", "qcow2", "-O", "qcow2"}
		if w.opts != "" {
			args = append(args, "-o", w.opts)
		}
		qemuImg(t, append(args, src, path)...)
	default:
		createImage(t, path, w.opts, fmt.Sprint(size))
	}

	var ops []extent.Extent
	var views []view
	var pending []string
	flush := func() { qemuIO(t, path, pending...); pending = nil }
	snapN := 0
	for step := range w.steps {
		r := rng.IntN(100)
		switch {
		case r < 14:
			flush()
			snapN++
			name := fmt.Sprintf("s%d", snapN)
			qemuImg(t, "snapshot", "-c", name, path)
			views = append(views, view{name: name, ops: len(ops), size: size})
		case r < 18 && len(views) > 1:
			flush()
			k := rng.IntN(len(views))
			qemuImg(t, "snapshot", "-d", views[k].name, path)
			views = slices.Delete(views, k, k+1)
		case r < 21 && !w.v2:
			flush()
			grow := (1 + rng.Int64N(2*w.cs/512)) * 512
			qemuImg(t, "resize", "-f", "qcow2", path, fmt.Sprintf("+%d", grow))
			size += grow
		default:
			off, n := randomRange(3)
			var cmd string
			switch k := rng.IntN(20); {
			case k < 14:
				cmd = fmt.Sprintf("write -P 0x%x %d %d", step%200+1, off, n)
			case k < 17:
				cmd = fmt.Sprintf("write -z %d %d", off, n)
			default:
				cmd = fmt.Sprintf("write -zu %d %d", off, n)
			}
			pending = append(pending, cmd)
			ops = append(ops, extent.Extent{Offset: off, Length: n})
		}
	}
	flush()
	views = append(views, view{ops: len(ops), size: size})

	// A small cache on some runs, so that eviction happens.
	opts := &Options{L2CacheBytes: w.cs * int64(2+rng.IntN(3))}
	if seed%2 == 0 {
		opts = nil
	}
	img := openFile(t, path, opts)
	h := &img.Header
	require.Equal(t, w.cs, h.ClusterSize())
	require.Equal(t, size, int64(h.Size))

	// Snapshot table against qemu-img info.
	info := imgInfo(t, path)
	snaps, err := img.Snapshots()
	require.NoError(t, err)
	require.Len(t, snaps, len(info.Snapshots))
	require.Len(t, snaps, len(views)-1)
	imgViews := map[string]View{"": img.ActiveView()}
	for i, s := range snaps {
		q := info.Snapshots[i]
		assert.Equal(t, q.ID, s.ID)
		assert.Equal(t, q.Name, s.Name)
		assert.Equal(t, views[i].name, s.Name)
		assert.Equal(t, q.DateSec, int64(s.DateSec))
		assert.Equal(t, q.DateNsec, int64(s.DateNsec))
		assert.Equal(t, q.VMClockSec*1e9+q.VMClockNsec, int64(s.VMClockNsec))
		assert.Equal(t, q.VMStateSize, int64(s.VMStateSize))
		if q.ICount != nil {
			require.True(t, s.HasICount)
			assert.Equal(t, *q.ICount, s.ICount)
		}
		require.True(t, s.HasDiskSize, "qemu-img writes the disk size, v2 included")
		assert.Equal(t, uint64(views[i].size), s.DiskSize)
		v, err := img.SnapshotView(&snaps[i])
		require.NoError(t, err)
		imgViews[s.Name] = v
	}

	// Ground truth: the contents of every view.
	raws := map[string][]byte{}
	for _, v := range views {
		raw := exportRaw(t, path, v.name)
		// obs: qemu-img convert -l (like qemu-nbd -l) exports a snapshot at the
		// image's current size, not the snapshot's; the bytes past the
		// snapshot's own size read as zeros. Cut them off.
		require.Equal(t, size, int64(len(raw)), "export of %q", nameOf(v))
		require.True(t, allZero(raw[v.size:]), "export of %q past its disk size %d is not zero", nameOf(v), v.size)
		raws[v.name] = raw[:v.size]
	}

	// Allocation of the active view against qemu-img map; of snapshots against
	// qemu-nbd's allocation depth.
	assert.Equal(t, qemuMapPresent(t, path), collect(t, img.Allocated(img.ActiveView())), "Allocated(active) vs qemu-img map")
	if haveTool(t, "nbdinfo") && haveTool(t, "qemu-nbd") {
		for _, v := range views[:len(views)-1] {
			local := func(typ int64) bool { return typ == 1 }
			// The export has the image's current size (see above): clip it to the
			// snapshot's own.
			want := extent.ClipSlice(nbdMapWhere(t, local, path, "qemu:allocation-depth", "-A", "-l", "snapshot.name="+v.name), 0, v.size)
			assert.Equal(t, want, collect(t, img.Allocated(imgViews[v.name])), "Allocated(%s) vs qemu-nbd allocation depth", v.name)
		}
		t.Logf("allocation of %d snapshot views matches qemu-nbd", len(views)-1)
	}

	// Diffs of every pair of views.
	for i := range views {
		for j := i + 1; j < len(views); j++ {
			a, b := views[i], views[j]
			diff := collect(t, img.Diff(imgViews[a.name], imgViews[b.name]))
			require.True(t, extent.IsNormalized(diff), "diff %s→%s not normalised: %v", a.name, b.name, diff)
			assert.Equal(t, diff, collect(t, img.Diff(imgViews[b.name], imgViews[a.name])), "diff not symmetric")

			changed := changedSectors(raws[a.name], raws[b.name])
			missed := extent.SubtractSlices(changed, diff)
			assert.Empty(t, missed, "%s→%s: bytes changed outside the diff %v", nameOf(a), nameOf(b), diff)

			var allowed []extent.Extent
			for _, op := range ops[a.ops:b.ops] {
				if e, ok := extent.AlignOut(op, w.cs, 0); ok {
					allowed = append(allowed, e)
				}
			}
			if a.size != b.size {
				allowed = append(allowed, extent.FromRange(min(a.size, b.size), max(a.size, b.size)))
			}
			extra := extent.SubtractSlices(diff, merge(allowed))
			assert.Empty(t, extra, "%s→%s: diff reports clusters no operation touched", nameOf(a), nameOf(b))
			t.Logf("%s→%s: %d ops, %d bytes changed, diff %d bytes in %d extents", nameOf(a), nameOf(b), b.ops-a.ops, extent.TotalSlice(changed), extent.TotalSlice(diff), len(diff))
		}
	}

	checkClusters(t, img, path, raws[""])
}

func nameOf(v view) string {
	if v.name == "" {
		return "active"
	}
	return v.name
}

// changedSectors returns the 512-byte sectors in which a and b differ; bytes
// present in only one of them count as changed.
func changedSectors(a, b []byte) []extent.Extent {
	var out []extent.Extent
	n := min(len(a), len(b))
	for off := 0; off < n; off += 512 {
		end := min(off+512, n)
		if !bytes.Equal(a[off:end], b[off:end]) {
			out = append(out, extent.Extent{Offset: int64(off), Length: int64(end - off)})
		}
	}
	if len(a) != len(b) {
		out = append(out, extent.FromRange(int64(n), int64(max(len(a), len(b)))))
	}
	return merge(out)
}

// checkClusters checks Clusters and Lookup of the active view against each
// other, and inflates every compressed cluster from its decoded place in the
// file to compare it with the exported contents.
func checkClusters(t *testing.T, img *Image, path string, raw []byte) {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	h := &img.Header
	cs := h.ClusterSize()
	v := img.ActiveView()
	compressed := 0
	for mc, err := range img.Clusters(v) {
		require.NoError(t, err)
		c, err := img.Lookup(v, min(mc.GuestOffset+cs/2, v.DiskSize-1))
		require.NoError(t, err)
		require.Equal(t, mc.Cluster, c)
		if mc.Kind != ClusterCompressed {
			continue
		}
		compressed++
		require.Equal(t, CompressionZlib, h.CompressionType)
		buf := make([]byte, mc.CompressedSize)
		_, err = f.ReadAt(buf, int64(mc.HostOffset))
		if err != io.EOF { // the last compressed cluster may end in a sector past EOF
			require.NoError(t, err)
		}
		out, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(buf)), cs))
		if err != nil && err != io.ErrUnexpectedEOF {
			require.NoError(t, err)
		}
		end := min(mc.GuestOffset+cs, int64(len(raw)))
		require.Equal(t, raw[mc.GuestOffset:end], out[:end-mc.GuestOffset], "compressed cluster at guest %#x", mc.GuestOffset)
	}
	if compressed > 0 {
		t.Logf("%d compressed clusters inflate to the exported contents", compressed)
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
