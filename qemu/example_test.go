package qemu_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/changedblocks/sdk/qemu"
)

// An incremental backup between two internal snapshots: the change ID stored
// by the previous backup is the base, and the snapshot's own change ID is what
// this backup stores for the next one.
func Example() {
	if _, err := exec.LookPath("qemu-img"); err != nil {
		return // the example builds its image with qemu-img
	}
	dir, err := os.MkdirTemp("", "qemu-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	img := filepath.Join(dir, "disk.qcow2")
	for _, args := range [][]string{
		{"qemu-img", "create", "-q", "-f", "qcow2", img, "64M"},
		{"qemu-io", "-f", "qcow2", "-c", "write 0 64k", img},
		{"qemu-img", "snapshot", "-c", "monday", img},
		{"qemu-io", "-f", "qcow2", "-c", "write 1M 4k", img},
		{"qemu-img", "snapshot", "-c", "tuesday", img},
	} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			log.Fatalf("%v: %v\n%s", args, err, out)
		}
	}

	// What the Monday backup stored (Snapshot.Point of "monday").
	im, err := qemu.OpenImage(img, nil)
	if err != nil {
		log.Fatal(err)
	}
	snaps, err := im.Snapshots()
	if err != nil {
		log.Fatal(err)
	}
	stored, _ := snaps[0].Point.ChangeID()
	im.Close()

	d, err := qemu.OpenSnapshot(img, "tuesday", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	for e, err := range d.Changes(context.Background(), stored, nil) {
		if err != nil {
			log.Fatal(err) // errors.Is(err, cbt.ErrChangeIDInvalid): take a full backup
		}
		fmt.Printf("copy %d bytes at %d\n", e.Length, e.Offset)
	}
	// Store this for Wednesday's backup: "qcow2:snapshot:tuesday#SEC.NSEC".
	next, err := d.ChangeID()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("next base:", next.Scheme())
}
