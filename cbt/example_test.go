package cbt_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/memcbt"
)

// A backup application: a full backup, then an incremental since the change
// ID the full backup stored.
func Example() {
	ctx := context.Background()
	vol, _ := memcbt.NewVolume(1<<20, &memcbt.Options{Name: "disk0", Granularity: 4096})

	// The guest writes; the platform takes a point in time (a snapshot).
	_ = vol.Write(0, 10000)
	p1, _ := vol.ChangePoint()

	// Full backup: a zero since lists everything allocated.
	d, _ := vol.Open(p1)
	for e, err := range d.Changes(ctx, cbt.ChangeID{}, nil) {
		if err != nil {
			panic(err)
		}
		fmt.Println("full: copy", e)
	}
	id, err := d.ChangeID()
	if err != nil {
		panic(err) // this point can be no base: open the disk at a snapshot instead
	}
	stored := id.String() // kept in the backup catalog
	_ = d.Close()

	// More writes, a new point, an incremental since the stored change ID.
	_ = vol.Write(65536, 100)
	_ = vol.Write(500000, 8192)
	p2, _ := vol.ChangePoint()
	d, _ = vol.Open(p2)
	defer d.Close()
	since, _ := cbt.ParseChangeID(stored)
	for e, err := range d.Changes(ctx, since, nil) {
		if err != nil {
			panic(err)
		}
		fmt.Println("incremental: copy", e)
	}
	// Output:
	// full: copy [0, 12288)
	// incremental: copy [65536, 69632)
	// incremental: copy [499712, 512000)
}

// When the base is no longer valid (tracking was reset, the snapshot was
// deleted), Changes says so with ErrChangeIDInvalid: take a full backup.
func Example_fullBackupRequired() {
	ctx := context.Background()
	vol, _ := memcbt.NewVolume(1<<20, nil)
	_ = vol.Write(0, 512)
	p1, _ := vol.ChangePoint()
	vol.ResetTracking()
	_ = vol.Write(4096, 512)
	p2, _ := vol.ChangePoint()

	d, _ := vol.Open(p2)
	defer d.Close()
	_, err := cbt.Collect(d.Changes(ctx, p1, nil))
	if errors.Is(err, cbt.ErrChangeIDInvalid) {
		fmt.Println("full backup required")
		exts, _ := cbt.Collect(d.Changes(ctx, cbt.ChangeID{}, nil))
		fmt.Println("copy", exts)
	}
	// Output:
	// full backup required
	// copy [[0, 512) [4096, 4608)]
}

// Listing options: resume at an offset, align to the copy engine's block
// size, merge extents separated by small gaps.
func ExampleDisk_Changes_options() {
	ctx := context.Background()
	vol, _ := memcbt.NewVolume(1<<20, nil)
	_ = vol.Write(1000, 10)
	_ = vol.Write(5000, 10)
	_ = vol.Write(70000, 10)
	p, _ := vol.ChangePoint()
	d, _ := vol.Open(p)
	defer d.Close()

	o := &cbt.ChangesOptions{Alignment: 4096, CoalesceGap: 65536}
	exts, _ := cbt.Collect(d.Changes(ctx, cbt.ChangeID{}, o))
	fmt.Println("aligned and merged:", exts)

	exts, _ = cbt.Collect(d.Changes(ctx, cbt.ChangeID{}, &cbt.ChangesOptions{StartOffset: 5005}))
	fmt.Println("resumed at 5005:", exts)
	// Output:
	// aligned and merged: [[0, 73728)]
	// resumed at 5005: [[5005, 5010) [70000, 70010)]
}

func ExampleParseChangeID() {
	id, err := cbt.ParseChangeID("vsphere:52 3c 9e 21 5b 3b 4a 6e-9b 2f 2d 4c 51 0e 3a 7f/4512")
	fmt.Println(id.Scheme(), err)
	_, err = cbt.ParseChangeID("no-scheme")
	fmt.Println(errors.Is(err, cbt.ErrInvalidArgument))
	// Output:
	// vsphere <nil>
	// true
}
