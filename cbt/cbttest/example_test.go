package cbttest_test

import (
	"context"
	"fmt"
	"log"
	"testing"

	"github.com/changedblocks/sdk/cbt/cbttest"
	"github.com/changedblocks/sdk/cbt/memcbt"
)

// A platform's test wires its harness into the suite. memHarness (in
// memcbt_test.go of this package) makes memcbt volumes; a real platform's
// harness creates an image or a VM disk, writes with the platform's own tools
// and takes snapshots, bitmaps or checkpoints.
func ExampleRunConformanceTests() {
	h := memHarness{capacity: 1 << 20, opts: memcbt.Options{Granularity: 4096},
		cfg: cbttest.Config{WriteAlign: 512}}
	// In a test function:
	//	func TestConformance(t *testing.T) { cbttest.RunConformanceTests(t, h) }
	var _ func(*testing.T, cbttest.Harness) = cbttest.RunConformanceTests
	_ = h
}

// One round of a workload, as the suite runs it on a Target: write, take a
// point, write again, take the next point, and list at it since the first.
// The suite then checks the listing against what it wrote (here [64K, 68K)
// and [1M-512, 1M), in 4 KiB granules).
func ExampleTarget() {
	ctx := context.Background()
	v, err := memcbt.NewVolume(1<<20, &memcbt.Options{Granularity: 4096})
	if err != nil {
		log.Fatal(err)
	}
	var tgt cbttest.Target = memTarget{v: v}
	must := func(err error) {
		if err != nil {
			log.Fatal(err)
		}
	}
	must(tgt.Write(ctx, 0, 8192))
	first, err := tgt.ChangePoint(ctx)
	must(err)
	must(tgt.Write(ctx, 64<<10, 4096))
	must(tgt.Write(ctx, 1<<20-512, 512))
	second, err := tgt.ChangePoint(ctx)
	must(err)
	d, err := tgt.Open(ctx, second)
	must(err)
	defer d.Close()
	for e, err := range d.Changes(ctx, first, nil) {
		must(err)
		fmt.Printf("[%d, %d)\n", e.Offset, e.End())
	}
	// Output:
	// [65536, 69632)
	// [1044480, 1048576)
}
