package nbd_test

import (
	"context"
	"fmt"
	"log"

	"github.com/changedblocks/sdk/internal/nbd"
)

// List the dirty ranges of a persistent bitmap exported by
// `qemu-nbd -r -f qcow2 -B bm1 -k /run/disk.sock disk.qcow2`, resuming
// after dropped connections.
func Example() {
	ctx := context.Background()
	const bitmap = nbd.ContextDirtyBitmapPrefix + "bm1"
	dial := func(ctx context.Context) (*nbd.Conn, error) {
		return nbd.Dial(ctx, "unix", "/run/disk.sock", &nbd.Options{MetaContexts: []string{bitmap}})
	}
	c, err := dial(ctx)
	if err != nil {
		log.Fatal(err)
	}
	size := c.Size()
	_ = c.Close()
	for e, err := range nbd.Walk(ctx, dial, bitmap, 0, size, nil) {
		if err != nil {
			log.Fatal(err)
		}
		if e.Flags&nbd.StateDirty != 0 {
			fmt.Printf("dirty %d+%d\n", e.Offset, e.Length)
		}
	}
}
