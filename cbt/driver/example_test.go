package driver_test

import (
	"context"
	"fmt"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/driver"
	"github.com/changedblocks/sdk/extent"
)

// tableDisk is a toy platform whose change record is a fixed table, answered
// in windows of at most 1 MiB, as a paging API would.
type tableDisk struct {
	capacity int64
	changed  map[string][]extent.Extent // by base change ID
}

func (t *tableDisk) Info() driver.Info {
	return driver.Info{Name: "table0", Scheme: "table", Capacity: t.capacity, Granularity: 512, ChangeID: "t2"}
}

func (t *tableDisk) ChangedExtents(ctx context.Context, req driver.Request, buf []extent.Extent) ([]extent.Extent, int64, error) {
	set, ok := t.changed[req.Since]
	if !ok {
		return nil, 0, fmt.Errorf("%w: table: unknown base %q", driver.ErrChangeIDInvalid, req.Since)
	}
	next := min(req.End, req.Offset+1<<20)
	out := buf[:0]
	for _, e := range set {
		if e.End() > req.Offset && e.Offset < next {
			out = append(out, e) // whole extents: cbt clips and merges
		}
	}
	return out, next, nil
}

func (t *tableDisk) Close() error { return nil }

// A platform implements driver.Disk and wraps it with cbt.NewDisk; cbt does
// the paging, validation and merging.
func Example() {
	drv := &tableDisk{capacity: 4 << 20, changed: map[string][]extent.Extent{
		"":   {{Offset: 0, Length: 3 << 20}},
		"t1": {{Offset: 1<<20 - 512, Length: 1024}, {Offset: 3 << 20, Length: 512}},
	}}
	d, err := cbt.NewDisk(drv)
	if err != nil {
		panic(err)
	}
	defer d.Close()
	since, _ := cbt.ParseChangeID("table:t1")
	for e, err := range d.Changes(context.Background(), since, nil) {
		fmt.Println(e, err)
	}
	stale, _ := cbt.ParseChangeID("table:t0")
	for _, err := range d.Changes(context.Background(), stale, nil) {
		fmt.Println(err)
	}
	// Output:
	// [1048064, 1049088) <nil>
	// [3145728, 3146240) <nil>
	// changes table0: cbt: change ID is not valid for this disk (take a full backup): table: unknown base "t0"
}
