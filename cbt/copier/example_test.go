package copier_test

import (
	"context"
	"fmt"
	"os"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/copier"
	"github.com/changedblocks/sdk/cbt/memcbt"
)

// A full copy and then an incremental onto the same raw file.
func Example() {
	ctx := context.Background()
	v, _ := memcbt.NewVolume(1<<20, nil)
	_ = v.WriteData(0, []byte("full backup"))
	p1, _ := v.ChangePoint()
	_ = v.WriteData(65536, []byte("incremental"))
	_ = v.WriteData(0, make([]byte, 4096)) // zeros where data was
	p2, _ := v.ChangePoint()

	f, _ := os.CreateTemp("", "disk-*.raw")
	defer os.Remove(f.Name())
	defer f.Close()
	_ = f.Truncate(1 << 20)
	dst := copier.ToWriterAt(f, nil)

	for _, step := range []struct{ since, at cbt.ChangeID }{{cbt.ChangeID{}, p1}, {p1, p2}} {
		d, _ := v.Open(step.at)
		res, err := copier.Copy(ctx, d, step.since, dst, nil)
		d.Close()
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("copied %d bytes (%d as zeros) in %d extents; store %v\n", res.Done, res.Zero, len(res.Extents), res.ChangeID.Scheme())
	}
	b := make([]byte, 11)
	_, _ = f.ReadAt(b, 65536)
	fmt.Printf("%q\n", b)
	// Output:
	// copied 4096 bytes (0 as zeros) in 1 extents; store mem
	// copied 8192 bytes (4096 as zeros) in 2 extents; store mem
	// "incremental"
}
