package nbd

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/changedblocks/sdk/internal/qemutools"
)

// benchExtents is the number of dirty ranges in the benchmark's bitmap;
// with the clean ranges between them the walk yields twice as many extents.
const benchExtents = 200000

// benchImage returns a qcow2 image whose bitmap bm1 has benchExtents dirty
// 64 KiB ranges with clean 64 KiB between them (zero writes: no data
// clusters). Building it takes about a minute; NBD_BENCH_IMAGE names an
// image built the same way to reuse.
func benchImage(b *testing.B) string {
	if img := os.Getenv("NBD_BENCH_IMAGE"); img != "" {
		return img
	}
	qemutools.Need(b, "qemu-img", "qemu-io")
	img := filepath.Join(b.TempDir(), "big.qcow2")
	qemutools.Create(b, img, "", fmt.Sprint(benchExtents*128<<10))
	qemutools.QemuImg(b, "bitmap", "--add", "--enable", img, "bm1")
	var cmds strings.Builder
	for i := range benchExtents {
		fmt.Fprintf(&cmds, "write -z %d 65536\n", i*128<<10)
	}
	cmd := exec.Command("qemu-io", img)
	cmd.Stdin = strings.NewReader(cmds.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("qemu-io: %v: %.500s", err, out)
	}
	return img
}

// BenchmarkDirtyBitmapVsNbdinfo walks the dirty bitmap of a qemu-nbd
// export with 2*benchExtents extents and, in the same loop, times
// `nbdinfo --map=qemu:dirty-bitmap:bm1` on the same export; it reports both
// and their ratio (ours / nbdinfo; below 1 is faster).
func BenchmarkDirtyBitmapVsNbdinfo(b *testing.B) {
	qemutools.Need(b, "qemu-nbd", "nbdinfo")
	img := benchImage(b)
	srv := newServer(b, "unix", "qemu-nbd", "-r", "-f", "qcow2", "-B", "bm1", "-t", img)
	const bm = "qemu:dirty-bitmap:bm1"
	c := srv.dial(b, &Options{MetaContexts: []string{bm}})
	ctx := context.Background()
	var ours, theirs time.Duration
	for b.Loop() {
		start := time.Now()
		n, last := 0, ^uint32(0)
		for e, err := range c.BlockStatus(ctx, bm, 0, c.Size()) {
			if err != nil {
				b.Fatal(err)
			}
			if e.Flags != last { // extents split at request boundaries
				n, last = n+1, e.Flags
			}
		}
		ours += time.Since(start)
		if n != 2*benchExtents {
			b.Fatalf("%d runs of equal flags, expected %d", n, 2*benchExtents)
		}
		start = time.Now()
		if out, err := exec.Command("nbdinfo", "--map="+bm, srv.uri).CombinedOutput(); err != nil {
			b.Fatalf("nbdinfo: %v: %.500s", err, out)
		}
		theirs += time.Since(start)
	}
	b.ReportMetric(float64(ours.Milliseconds())/float64(b.N), "ms/walk")
	b.ReportMetric(float64(theirs.Milliseconds())/float64(b.N), "ms/nbdinfo")
	b.ReportMetric(float64(ours)/float64(theirs), "ratio")
}
