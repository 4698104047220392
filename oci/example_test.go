package oci_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/oracle/oci-go-sdk/v65/common"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/oci"
)

// An incremental backup of a block volume between two of its backups, run
// on the Linux instance the delta volume is attached to (as root, for
// iscsiadm and SG_IO).
func Example() {
	ctx := context.Background()
	clients, err := oci.NewClients(common.DefaultConfigProvider())
	if err != nil {
		log.Fatal(err)
	}
	d, err := oci.Open(ctx, clients, "ocid1.volumebackup.oc1.phx.second", &oci.Options{
		CompartmentID:      "ocid1.compartment.oc1..example",
		AvailabilityDomain: "Uocm:PHX-AD-1",
		InstanceID:         "ocid1.instance.oc1.phx.this-one",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		// Close reports a delta volume that could not be deleted.
		if err := d.Close(); err != nil {
			log.Print(err)
		}
	}()
	since, _ := cbt.ParseChangeID("oci:ocid1.volumebackup.oc1.phx.first") // stored by the last backup
	for e, err := range d.Changes(ctx, since, nil) {
		if errors.Is(err, cbt.ErrChangeIDInvalid) {
			log.Fatal("take a full backup: ", err)
		}
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("copy", e)
	}
	next, err := d.ChangeID()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("store", next)
}

func ExampleBackupKindOf() {
	for _, id := range []string{
		"ocid1.volumebackup.oc1.phx.aaaa",
		"ocid1.bootvolumebackup.oc1.phx.bbbb",
		"ocid1.volume.oc1.phx.cccc",
	} {
		k, err := oci.BackupKindOf(id)
		fmt.Println(k, errors.Is(err, cbt.ErrInvalidArgument))
	}
	// Output:
	// block volume backup false
	// boot volume backup false
	// unknown backup kind true
}
