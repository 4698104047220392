package qemu_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/qemu"
)

// The backup rotation on a VM's image (the VM shut down): each backup makes
// its point with OpenNext, lists since what the last backup stored, stores
// its own change ID, and prunes the previous point. It needs qemu-img and
// qemu-io (Debian: qemu-utils).
func ExampleOpenNext() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "qemu-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	img := filepath.Join(dir, "vm.qcow2")
	run := func(args ...string) {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			log.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	run("qemu-img", "create", "-q", "-f", "qcow2", img, "64M")
	run("qemu-io", "-f", "qcow2", "-c", "write 0 64k", img)

	stored := "" // the backup catalog: empty before the first backup
	backup := func() {
		d, err := qemu.OpenNext(ctx, img, nil, nil) // a new bitmap, for the next backup
		if err != nil {
			log.Fatal(err) // cbt.ErrBusy: the VM runs; use qemu/libvirt
		}
		defer d.Close() // without a complete listing, this removes the new bitmap
		since, err := cbt.ParseChangeID(stored)
		if err != nil {
			log.Fatal(err)
		}
		for e, err := range d.Changes(ctx, since, nil) {
			if errors.Is(err, cbt.ErrChangeIDInvalid) {
				log.Fatal("take a full backup: ", err) // list again with a zero since
			}
			if err != nil {
				log.Fatal(err)
			}
			fmt.Printf("copy [%d, %d)\n", e.Offset, e.End()) // read it from the image
		}
		next, err := d.ChangeID()
		if err != nil {
			log.Fatal(err)
		}
		stored = next.String() // "qcow2:bitmap:cbt-...#s67108864#c..."
		if err := d.Close(); err != nil {
			log.Fatal(err)
		}
		dropped, err := qemu.PrunePoints(ctx, img, []cbt.ChangeID{next}, nil, nil)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("stored a", next.Scheme(), "change ID; dropped", len(dropped), "older point(s)")
	}

	backup() // full: everything allocated
	run("qemu-io", "-f", "qcow2", "-c", "write 1M 4k", img)
	backup() // incremental: the write, and the bitmap's last granule (its canary)
	// Output:
	// copy [0, 65536)
	// stored a qcow2 change ID; dropped 0 older point(s)
	// copy [1048576, 1114112)
	// copy [67043328, 67108864)
	// stored a qcow2 change ID; dropped 1 older point(s)
}
