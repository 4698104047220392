package rhv_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/rhv"
)

// An incremental backup of an RHV disk from its snapshot chain, on a host
// that sees a file domain: take a snapshot in RHV first (the volume that was
// the leaf becomes internal and is no longer written), open that volume,
// list what changed since the volume the previous backup stored, copy it,
// and store the change ID the disk hands out.
func ExampleOpenVolume() {
	ctx := context.Background()
	const images = "/rhev/data-center/mnt/nfs.example.com:_export/2b5c7d41-83a4-4c6e-9a52-7d31e0b5f6a8/images"
	chain := &rhv.Chain{Image: "1f0e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b", Ordered: true, Volumes: []rhv.Volume{
		{ID: "a1b2c3d4-0000-4000-8000-000000000001", Parent: rhv.BlankUUID, Format: rhv.FormatCOW},
		{ID: "a1b2c3d4-0000-4000-8000-000000000002", Parent: "a1b2c3d4-0000-4000-8000-000000000001", Format: rhv.FormatCOW},
		{ID: "a1b2c3d4-0000-4000-8000-000000000003", Parent: "a1b2c3d4-0000-4000-8000-000000000002", Format: rhv.FormatCOW},
	}}
	disk, err := rhv.OpenVolume(chain, "a1b2c3d4-0000-4000-8000-000000000002", &rhv.VolumeOptions{Path: rhv.ImagesPath(images)})
	if err != nil {
		log.Fatal(err)
	}
	defer disk.Close()

	stored := "rhv:volume:a1b2c3d4-0000-4000-8000-000000000001#a1b2c3d4-0000-4000-8000-000000000002"
	since, err := cbt.ParseChangeID(stored)
	if err != nil {
		log.Fatal(err)
	}
	for e, err := range disk.Changes(ctx, since, nil) {
		if errors.Is(err, cbt.ErrChangeIDInvalid) {
			log.Printf("full backup needed: %v", err) // a snapshot was merged away
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("copy", e) // read e.Offset..e.End() of the disk at the volume
	}
	next, err := disk.ChangeID()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("store", next)
}

// The change ID a disk at an internal volume hands out names the volume,
// its child at the time and a guard of the volumes from the base up to it:
// a merge of the child into the volume (deleting a snapshot), or a volume up
// to it written, replaced or restored, is detected. A bare volume UUID is no
// base: a listing since it is refused.
func ExampleVolumePoint() {
	stored := "rhv:volume:a1b2c3d4-0000-4000-8000-000000000002#a1b2c3d4-0000-4000-8000-000000000003~g10123456789abcdef0123456789abcdef"
	id, err := cbt.ParseChangeID(stored)
	if err != nil {
		log.Fatal(err)
	}
	p, err := rhv.VolumePointOf(id)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.Volume, "under", p.Child, "guarded:", p.Guard != "")
	plain, _ := rhv.VolumeChangeID(p.Volume)
	fmt.Println(plain)
	// Output:
	// a1b2c3d4-0000-4000-8000-000000000002 under a1b2c3d4-0000-4000-8000-000000000003 guarded: true
	// rhv:volume:a1b2c3d4-0000-4000-8000-000000000002
}
