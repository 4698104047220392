//go:build cgo

package libvirt_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/qemu/libvirt"
)

// An incremental backup of disk vda of a running domain: list what changed
// since the checkpoint the last backup stored, copy it from the job's
// export, and store the new checkpoint's change ID for the next run.
func Example() {
	c, err := libvirt.Connect("qemu:///system", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	var data io.ReaderAt
	d, err := c.OpenDisk("vm1", "vda", &libvirt.DiskOptions{
		NewCheckpoint: "backup-2026-11-30",
		OnExport:      func(r io.ReaderAt) { data = r },
	})
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()

	since, _ := cbt.ParseChangeID("libvirt:checkpoint:backup-2026-11-29#t1764460800") // from the catalog
	buf := make([]byte, 1<<20)
	for e, err := range d.Changes(context.Background(), since, nil) {
		if errors.Is(err, cbt.ErrChangeIDInvalid) {
			log.Fatal("take a full backup: ", err) // Changes with a zero ChangeID
		}
		if err != nil {
			log.Fatal(err)
		}
		for off := e.Offset; off < e.End(); off += int64(len(buf)) {
			n := min(int64(len(buf)), e.End()-off)
			if _, err := data.ReadAt(buf[:n], off); err != nil {
				log.Fatal(err)
			}
			// write buf[:n] at off to the backup
		}
	}
	next, err := d.ChangeID() // the checkpoint the job made
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("store:", next)
}

// A change ID a backup catalog stored, read back without a connection: the
// checkpoint it names and the guards that tell it from a later checkpoint of
// the same name. It round-trips through its string form.
func ExampleParseCheckpointRef() {
	id, err := cbt.ParseChangeID("libvirt:checkpoint:backup-2026-11-29#t1764460800")
	if err != nil {
		log.Fatal(err)
	}
	ref, err := libvirt.ParseCheckpointRef(id.Value())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("checkpoint:", ref.Name)
	fmt.Println("created at:", ref.Time)
	fmt.Println("round trip:", ref.ChangeID() == id)
	// Output:
	// checkpoint: backup-2026-11-29
	// created at: 1764460800
	// round trip: true
}
