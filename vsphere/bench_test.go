package vsphere

import (
	"context"
	"testing"
	"time"

	"github.com/changedblocks/sdk/cbt"
	"github.com/vmware/govmomi/vim25/types"
)

// BenchmarkChanges measures the SDK's own work per extent (this package's
// page handling plus cbt's validation and merging) over 1,000,000 changed
// extents of a 2 TiB disk, answered as ESXi would (2 GiB windows, 2000 areas
// per answer) from answers prepared beforehand, so that no server time counts.
func BenchmarkChanges(b *testing.B) {
	const (
		capacity = int64(2) << 40
		n        = 1_000_000
		stride   = capacity / n // 2 MiB apart: 1000 extents per 2 GiB window
		window   = int64(2) << 30
		perPage  = 2000
	)
	answers := map[int64]*types.DiskChangeInfo{}
	var areas []types.DiskChangeExtent
	for i := range int64(n) {
		areas = append(areas, types.DiskChangeExtent{Start: i * stride, Length: 65536})
	}
	for off, i := int64(0), 0; off < capacity; {
		end := min(off+window, capacity)
		info := &types.DiskChangeInfo{StartOffset: off, Length: end - off}
		j := i
		for j < len(areas) && areas[j].Start < end && j-i < perPage {
			j++
		}
		if j-i == perPage && j < len(areas) && areas[j].Start < end {
			info.Length = areas[j-1].Start + areas[j-1].Length - off
		}
		info.ChangedArea = areas[i:j]
		answers[off] = info
		off, i = info.StartOffset+info.Length, j
	}
	own, err := ParseChangeID(realID1)
	if err != nil {
		b.Fatal(err)
	}
	own.capacity = capacity
	calls := 0
	d, err := cbt.NewDisk(&pager{name: "bench", method: "QueryChangedDiskAreas", capacity: capacity, own: own,
		call: newCaller(&Options{Backoff: time.Millisecond}),
		query: func(_ context.Context, off int64, _ string) (*types.DiskChangeInfo, error) {
			calls++
			return answers[off], nil
		}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		calls = 0
		got := 0
		for _, err := range d.Changes(ctx, cbt.ChangeID{}, nil) {
			if err != nil {
				b.Fatal(err)
			}
			got++
		}
		if got != n || calls != len(answers) {
			b.Fatalf("%d extents in %d calls, want %d in %d", got, calls, n, len(answers))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/extent")
	b.ReportMetric(float64(len(answers)), "calls/listing")
}
