package vsphere_test

import (
	"context"
	"fmt"
	"log"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/vsphere"
	"github.com/changedblocks/sdk/vsphere/vcsimcbt"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"
)

// An incremental backup of a VM's disk: enable change tracking, take a
// snapshot for the full backup and keep its change ID, take the next snapshot
// later and list what changed since the stored change ID. It runs on an
// in-process vcsim whose change tracking vcsimcbt models; against a real
// vCenter, pass a logged-in *vim25.Client and drop the Tracker.
func Example() {
	simulator.Test(func(ctx context.Context, c *vim25.Client) {
		tr, err := vcsimcbt.New(simulator.Map(ctx), nil)
		if err != nil {
			log.Fatal(err)
		}
		defer tr.Close()
		tr.Install(c)
		vm := simulator.Map(ctx).Any("VirtualMachine").Reference() // powered on, one 10 GiB disk
		const key = 204

		// A powered-on VM needs a stun/unstun cycle for tracking to start.
		r, err := vsphere.EnableCBT(ctx, c, vm, &vsphere.EnableOptions{StunWithSnapshot: true})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("enabled:", r.Enabled, "stunned:", r.Stunned)

		// The full backup: everything in use at the first snapshot.
		_ = tr.Write(vm, key, 0, 1<<20) // the guest writes (simulated)
		full := backup(ctx, c, vm, key, cbt.ChangeID{})

		// The incremental: what changed since the change ID the full backup stored.
		_ = tr.Write(vm, key, 5<<30, 4096)
		_ = tr.Write(vm, key, 9<<30+100, 1)
		backup(ctx, c, vm, key, full)
	})
	// Output:
	// enabled: true stunned: true
	// copy [0, 1048576)
	// copy [5368709120, 5368774656)
	// copy [9663676416, 9663741952)
}

// backup takes a snapshot, copies what changed since base, removes the
// snapshot and returns the change ID to store for the next backup.
func backup(ctx context.Context, c *vim25.Client, vm types.ManagedObjectReference, key int32, base cbt.ChangeID) cbt.ChangeID {
	s, err := vsphere.CreateSnapshot(ctx, c, vm, "backup", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		if err := vsphere.RemoveSnapshot(ctx, c, s.Ref); err != nil {
			log.Fatal(err)
		}
	}()
	d, err := vsphere.OpenDisk(ctx, c, s.Ref, key, &vsphere.Options{
		// Relogin: func(ctx context.Context) error { return session.NewManager(c).Login(ctx, userinfo) },
	})
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	for e, err := range d.Changes(ctx, base, nil) {
		if err != nil {
			// errors.Is(err, cbt.ErrChangeIDInvalid): take a full backup instead.
			log.Fatal(err)
		}
		fmt.Printf("copy [%d, %d)\n", e.Offset, e.End()) // read these bytes from the snapshot (VDDK, NBD)
	}
	id, err := d.ChangeID() // the snapshot's change ID: what the catalog stores
	if err != nil {
		log.Fatal(err)
	}
	return id
}
