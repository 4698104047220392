package extent_test

import (
	"fmt"
	"slices"

	"github.com/changedblocks/sdk/extent"
)

func ExampleExtent() {
	e := extent.Extent{Offset: 4096, Length: 512}
	fmt.Println(e, e.End(), e.Contains(4607), e.Contains(4608))
	// Output: [4096, 4608) 4608 true false
}

func ExampleCoalesce() {
	changed := []extent.Extent{{Offset: 0, Length: 100}, {Offset: 50, Length: 100}, {Offset: 160, Length: 40}, {Offset: 1000, Length: 1}}
	for e := range extent.Coalesce(slices.Values(changed), 16) {
		fmt.Println(e)
	}
	// Output:
	// [0, 200)
	// [1000, 1001)
}

func ExampleCoalesceSlice() {
	es := []extent.Extent{{Offset: 0, Length: 10}, {Offset: 10, Length: 10}, {Offset: 30, Length: 0}, {Offset: 40, Length: 5}}
	es = extent.CoalesceSlice(es, 0)
	fmt.Println(es)
	// Output: [[0, 20) [40, 45)]
}

func ExampleAlign() {
	// Round dirty byte ranges out to 64 KiB clusters of a 1 MiB disk.
	dirty := []extent.Extent{{Offset: 100, Length: 10}, {Offset: 65530, Length: 10}, {Offset: 1040000, Length: 100000}}
	fmt.Println(slices.Collect(extent.Align(slices.Values(dirty), 65536, 1<<20)))
	// Output: [[0, 131072) [983040, 1048576)]
}

func ExampleClip() {
	es := []extent.Extent{{Offset: 0, Length: 100}, {Offset: 200, Length: 100}, {Offset: 400, Length: 100}}
	fmt.Println(slices.Collect(extent.Clip(slices.Values(es), 50, 250)))
	// Output: [[50, 100) [200, 250)]
}

func ExampleUnion() {
	a := []extent.Extent{{Offset: 0, Length: 10}, {Offset: 100, Length: 10}}
	b := []extent.Extent{{Offset: 5, Length: 10}, {Offset: 50, Length: 10}}
	c := []extent.Extent{{Offset: 15, Length: 5}}
	for e := range extent.Union(slices.Values(a), slices.Values(b), slices.Values(c)) {
		fmt.Println(e)
	}
	// Output:
	// [0, 20)
	// [50, 60)
	// [100, 110)
}

func ExampleIntersect() {
	dirty := []extent.Extent{{Offset: 0, Length: 8192}, {Offset: 16384, Length: 4096}}
	allocated := []extent.Extent{{Offset: 4096, Length: 16384}}
	fmt.Println(slices.Collect(extent.Intersect(slices.Values(dirty), slices.Values(allocated))))
	fmt.Println(extent.IntersectSlices(dirty, allocated))
	// Output:
	// [[4096, 8192) [16384, 20480)]
	// [[4096, 8192) [16384, 20480)]
}

func ExampleSubtract() {
	changed := []extent.Extent{{Offset: 0, Length: 100}}
	copied := []extent.Extent{{Offset: 10, Length: 10}, {Offset: 50, Length: 60}}
	fmt.Println(extent.SubtractSlices(changed, copied))
	// Output: [[0, 10) [20, 50)]
}

func ExampleSplit() {
	es := []extent.Extent{{Offset: 0, Length: 10}, {Offset: 20, Length: 3}}
	fmt.Println(slices.Collect(extent.Split(slices.Values(es), 4)))
	// Output: [[0, 4) [4, 8) [8, 10) [20, 23)]
}

func ExampleFromBitmap() {
	// Bits 1, 2, 3 and 8 of a bitmap with 64 KiB granularity, least-significant
	// bit first, as a qcow2 dirty bitmap stores them; the disk is 540 KiB.
	bitmap := []byte{0b0000_1110, 0b0000_0001}
	for e := range extent.FromBitmap(bitmap, 65536, 540<<10) {
		fmt.Println(e)
	}
	// Output:
	// [65536, 262144)
	// [524288, 552960)
}

func ExampleNormalize() {
	es := []extent.Extent{{Offset: 50, Length: 10}, {Offset: -5, Length: 10}, {Offset: 0, Length: 0}, {Offset: 55, Length: 20}, {Offset: 5, Length: 1}}
	es = extent.Normalize(es)
	fmt.Println(es, extent.IsNormalized(es), extent.TotalSlice(es))
	// Output: [[0, 6) [50, 75)] true 31
}
