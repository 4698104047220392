//go:build unix

package qemu_test

// Benchmarks against a prepared 2 TiB image (scripts/bench-qemu.sh builds it
// and names it in CBT_BENCH_QCOW2; without that variable every benchmark here
// skips). The image has an internal snapshot "s1", an enabled bitmap "b1" and
// writes after both. One op is one whole operation; the diffs and listings
// open the image in every op, the floor only reads tables:
//
//   - Qcow2Floor/all reads every L1 table of the image (the active one and
//     every snapshot's) and then every distinct L2 table any of them points
//     to, once, in ascending file offset order, with ReadAt: the image's
//     tables read sequentially once, the physical floor of a diff (which must
//     read the L2 tables of both views wherever their L1 entries differ).
//     Qcow2Floor/active reads only the active L1 table and its L2 tables.
//   - Qcow2Diff lists the changes from snapshot s1 to the active state, through
//     the internal/qcow2 decoder (decoder) and the public API (sdk).
//   - Qcow2Bitmap lists the dirty extents of bitmap b1, likewise.
//
// Every benchmark reports peak-RSS-MiB, the process's peak resident set
// (getrusage): meaningful only when the benchmark runs alone in a fresh
// process with -benchtime=1x, and only when the test binary is started
// directly, as the script does for the diff: Linux keeps ru_maxrss across
// execve, so under `go test` it starts at the go command's own peak (~30 MiB).
// The file is for unix systems only, where getrusage exists.

import (
	"context"
	"encoding/binary"
	"fmt"
	"iter"
	"os"
	"runtime"
	"slices"
	"syscall"
	"testing"

	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/qcow2"
	"github.com/changedblocks/sdk/qemu"
)

// benchImageEnv names the prepared image.
const benchImageEnv = "CBT_BENCH_QCOW2"

func benchImage(b *testing.B) string {
	b.Helper()
	p := os.Getenv(benchImageEnv)
	if p == "" {
		b.Skipf("%s is not set: scripts/bench-qemu.sh prepares the image", benchImageEnv)
	}
	return p
}

func reportPeakRSS(b *testing.B) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return
	}
	unit := 1024.0 // ru_maxrss is in KiB on Linux and the BSDs
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		unit = 1 << 20 // in bytes
	}
	b.ReportMetric(float64(ru.Maxrss)/unit, "peak-RSS-MiB")
}

// openDecoder opens the image with the internal decoder and returns the
// view of snapshot s1.
func openDecoder(b *testing.B, path string) (*os.File, *qcow2.Image, qcow2.View) {
	f, img, _, s1 := openViews(b, path)
	return f, img, s1
}

// openViews opens the image with the internal decoder and returns the views of
// all its snapshots and the view of snapshot s1.
func openViews(b *testing.B, path string) (*os.File, *qcow2.Image, []qcow2.View, qcow2.View) {
	b.Helper()
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	st, err := f.Stat()
	if err != nil {
		b.Fatal(err)
	}
	img, err := qcow2.Open(f, st.Size(), nil)
	if err != nil {
		b.Fatal(err)
	}
	snaps, err := img.Snapshots()
	if err != nil {
		b.Fatal(err)
	}
	var views []qcow2.View
	s1 := -1
	for i := range snaps {
		v, err := img.SnapshotView(&snaps[i])
		if err != nil {
			b.Fatal(err)
		}
		if snaps[i].Name == "s1" {
			s1 = len(views)
		}
		views = append(views, v)
	}
	if s1 < 0 {
		b.Fatalf("%s has no snapshot s1", path)
	}
	return f, img, views, views[s1]
}

// floorReader reads L1 tables and the L2 tables they point to, reusing its
// buffers.
type floorReader struct {
	f       *os.File
	cluster int64
	l1      []byte
	l2      []byte
	offs    []uint64
}

// read reads every L1 table of views, then each distinct L2 table they point
// to once, in ascending file offset order. It returns the number of L2 tables
// and the bytes read.
func (fr *floorReader) read(views []qcow2.View) (int, int64, error) {
	fr.offs = fr.offs[:0]
	var n int64
	for _, v := range views {
		size := int(v.L1Size) * 8
		if cap(fr.l1) < size {
			fr.l1 = make([]byte, size)
		}
		buf := fr.l1[:size]
		if _, err := fr.f.ReadAt(buf, int64(v.L1TableOffset)); err != nil {
			return 0, 0, fmt.Errorf("L1 of %v: %w", v, err)
		}
		n += int64(size)
		for i := 0; i < size; i += 8 {
			if off := binary.BigEndian.Uint64(buf[i:]) & qcow2.L1OffsetMask; off != 0 {
				fr.offs = append(fr.offs, off)
			}
		}
	}
	slices.Sort(fr.offs)
	fr.offs = slices.Compact(fr.offs)
	for _, off := range fr.offs {
		if _, err := fr.f.ReadAt(fr.l2, int64(off)); err != nil {
			return 0, 0, fmt.Errorf("L2 table at %d: %w", off, err)
		}
		n += fr.cluster
	}
	return len(fr.offs), n, nil
}

func BenchmarkQcow2Floor(b *testing.B) {
	path := benchImage(b)
	f, img, snaps, _ := openViews(b, path)
	defer f.Close()
	cluster := img.Header.ClusterSize()
	for _, bc := range []struct {
		name  string
		views []qcow2.View
	}{
		{"active", []qcow2.View{img.ActiveView()}},
		{"all", append([]qcow2.View{img.ActiveView()}, snaps...)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			fr := &floorReader{f: f, cluster: cluster, l2: make([]byte, cluster)}
			var tables int
			var bytes int64
			for b.Loop() {
				var err error
				if tables, bytes, err = fr.read(bc.views); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(bc.views)), "L1-tables/op")
			b.ReportMetric(float64(tables), "L2-tables/op")
			b.ReportMetric(float64(bytes)/(1<<20), "MiB/op")
			reportPeakRSS(b)
		})
	}
}

// drain consumes a sequence of extents and returns their number and total
// length.
func drain(b *testing.B, seq iter.Seq2[extent.Extent, error]) (int, int64) {
	b.Helper()
	var n int
	var total int64
	for e, err := range seq {
		if err != nil {
			b.Fatal(err)
		}
		n++
		total += e.Length
	}
	return n, total
}

func reportExtents(b *testing.B, n int, total int64) {
	b.ReportMetric(float64(n), "extents/op")
	b.ReportMetric(float64(total)/(1<<20), "changed-MiB/op")
	reportPeakRSS(b)
}

func BenchmarkQcow2Diff(b *testing.B) {
	path := benchImage(b)
	b.Run("decoder", func(b *testing.B) {
		var n int
		var total int64
		for b.Loop() {
			f, img, s1 := openDecoder(b, path)
			n, total = drain(b, img.Diff(s1, img.ActiveView()))
			f.Close()
		}
		reportExtents(b, n, total)
	})
	b.Run("sdk", func(b *testing.B) { benchSDKListing(b, path, qemu.SnapshotPoint("s1")) })
}

func BenchmarkQcow2Bitmap(b *testing.B) {
	path := benchImage(b)
	b.Run("decoder", func(b *testing.B) {
		var n int
		var total int64
		for b.Loop() {
			f, img, _ := openDecoder(b, path)
			bms, err := img.Bitmaps()
			if err != nil {
				b.Fatal(err)
			}
			i := slices.IndexFunc(bms, func(bm qcow2.Bitmap) bool { return bm.Name == "b1" })
			if i < 0 {
				b.Fatalf("%s has no bitmap b1", path)
			}
			n, total = drain(b, img.DirtyExtents(&bms[i], int64(img.Header.Size)))
			f.Close()
		}
		reportExtents(b, n, total)
	})
	b.Run("sdk", func(b *testing.B) { benchSDKListing(b, path, qemu.BitmapPoint("b1")) })
}

// benchSDKListing measures the public API: open the image at its active
// state, list everything since the point, close.
func benchSDKListing(b *testing.B, path string, point qemu.Point) {
	since, err := point.ChangeID()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var n int
	var total int64
	for b.Loop() {
		d, err := qemu.Open(path, qemu.Active(), nil)
		if err != nil {
			b.Fatal(err)
		}
		n, total = drain(b, d.Changes(ctx, since, nil))
		if err := d.Close(); err != nil {
			b.Fatal(err)
		}
	}
	reportExtents(b, n, total)
}
