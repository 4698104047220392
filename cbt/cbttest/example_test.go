package cbttest_test

import (
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
