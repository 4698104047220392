package memcbt_test

import (
	"context"
	"fmt"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/memcbt"
)

func Example() {
	v, _ := memcbt.NewVolume(1<<30, &memcbt.Options{Granularity: 65536})
	_ = v.Write(0, 4096)
	p1, _ := v.ChangePoint()
	_ = v.Write(1<<20, 100)
	_ = v.Discard(0, 65536)
	p2, _ := v.ChangePoint()

	d, _ := v.Open(p2)
	defer d.Close()
	changed, _ := cbt.Collect(d.Changes(context.Background(), p1, nil))
	allocated, _ := cbt.Collect(d.Changes(context.Background(), cbt.ChangeID{}, nil))
	fmt.Println("changed:", changed)
	fmt.Println("allocated:", allocated)
	id, _ := d.ChangeID()
	fmt.Println("change ID:", id.Scheme())
	// Output:
	// changed: [[0, 65536) [1048576, 1114112)]
	// allocated: [[1048576, 1114112)]
	// change ID: mem
}

// A backup reads what it lists from the same Disk: the data at the disk's
// point, whatever the volume holds by now.
func Example_read() {
	ctx := context.Background()
	v, _ := memcbt.NewVolume(1<<20, nil)
	_ = v.WriteData(4096, []byte("point one"))
	p1, _ := v.ChangePoint()
	_ = v.WriteData(4096, []byte("point two"))

	d, _ := v.Open(p1)
	defer d.Close()
	for e, err := range d.Changes(ctx, cbt.ChangeID{}, nil) {
		if err != nil {
			fmt.Println(err)
			return
		}
		buf := make([]byte, e.Length)
		if _, err := d.ReadAt(ctx, buf, e.Offset); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%v %q\n", e, buf)
	}
	// Output:
	// [4096, 4105) "point one"
}
