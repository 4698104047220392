package qemu_test

import (
	"context"
	"fmt"
	"log"

	"github.com/changedblocks/sdk/qemu"
)

// testdata/example.qcow2 is made by testdata/make-example.sh: 4 KiB written
// at 0, snapshot "monday", bitmap "since-monday", 4 KiB written at 1 MiB,
// snapshot "tuesday", 512 bytes written at 3 MiB.
const exampleImage = "testdata/example.qcow2"

// An incremental backup between two internal snapshots: the change ID stored
// by the previous backup is the base, and the snapshot's own change ID is what
// this backup stores for the next one.
func Example() {
	img := exampleImage

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
	// Output:
	// copy 4096 bytes at 1048576
	// next base: qcow2
}

// What an image offers as bases: its snapshots and its persistent dirty
// bitmaps, and the changes of the active layer since a bitmap (every write
// since it was added, at its granularity). A bare bitmap name carries no
// guard against a bitmap deleted and made again under it: this image's names
// are never reused, which TrustUnguarded says.
func ExampleImage() {
	im, err := qemu.OpenImage(exampleImage, &qemu.Options{TrustUnguarded: true})
	if err != nil {
		log.Fatal(err)
	}
	defer im.Close()
	snaps, err := im.Snapshots()
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range snaps {
		fmt.Println("snapshot", s.Name)
	}
	bms, err := im.Bitmaps()
	if err != nil {
		log.Fatal(err)
	}
	for _, b := range bms {
		fmt.Printf("bitmap %s: granularity %d, usable %t\n", b.Name, b.Granularity, b.Usable)
	}

	since, err := qemu.BitmapPoint("since-monday").ChangeID()
	if err != nil {
		log.Fatal(err)
	}
	d, err := im.Open(qemu.Active())
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	for e, err := range d.Changes(context.Background(), since, nil) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("changed [%d, %d)\n", e.Offset, e.End())
	}
	// Output:
	// snapshot monday
	// snapshot tuesday
	// bitmap since-monday: granularity 4096, usable true
	// changed [1048576, 1052672)
	// changed [3145728, 3149824)
}
