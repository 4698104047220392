package imagelayer_test

import (
	"fmt"

	"github.com/changedblocks/sdk/internal/imagelayer"
)

// Open a qcow2 overlay on its own (its backing file, base.raw, is not
// there: it is named, never followed) and list what the overlay itself
// holds: 8 KiB of data at 64 KiB and a zero cluster at 256 KiB, which hides
// what the backing file holds there. The image was made with
//
//	qemu-img create -f raw base.raw 1M
//	qemu-img create -f qcow2 -o cluster_size=4096 -b base.raw -F raw overlay.qcow2 1M
//	qemu-io -f qcow2 -c 'write -P 7 64k 8k' -c 'write -z 256k 4k' overlay.qcow2
func ExampleOpen() {
	l, err := imagelayer.Open("testdata/overlay.qcow2", "", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	fmt.Println(l.Format(), l.VirtualSize(), l.Granularity())
	fmt.Printf("backing %s (%s)\n", l.BackingFile(), l.BackingFormat())
	for e, err := range l.Allocated(0, l.VirtualSize()) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(e.Offset, e.Length)
	}
	// Output:
	// qcow2 1048576 4096
	// backing base.raw (raw)
	// 65536 8192
	// 262144 4096
}
