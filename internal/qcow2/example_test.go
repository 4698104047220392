package qcow2_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"

	"github.com/changedblocks/sdk/internal/qcow2"
)

// Example lists the snapshots of an image and what changed between the first
// one and the active image.
func Example() {
	f, _ := os.Open("testdata/seeds/v3-512.qcow2.gz") // made by testdata/mkseeds.sh
	defer f.Close()
	zr, _ := gzip.NewReader(f)
	b, _ := io.ReadAll(zr)

	img, err := qcow2.Open(bytes.NewReader(b), int64(len(b)), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	snaps, err := img.Snapshots()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range snaps {
		fmt.Printf("snapshot %s %q, disk size %d\n", s.ID, s.Name, s.DiskSize)
	}
	first, _ := img.SnapshotView(&snaps[0])
	for e, err := range img.Diff(first, img.ActiveView()) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println("changed", e)
	}
	// Output:
	// snapshot 1 "s1", disk size 49152
	// snapshot 3 "s3", disk size 65536
	// changed [0, 512)
	// changed [1024, 2560)
	// changed [40960, 65536)
}
