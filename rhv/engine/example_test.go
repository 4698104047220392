package engine_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/rhv/engine"
	"github.com/changedblocks/sdk/rhv/internal/ovirtfake"
)

// A full backup, then an incremental one from its checkpoint. The engine and
// imageio here are the SDK's test fake (an httptest server speaking the
// documented JSON); against a real engine, pass
// https://engine.example.com/ovirt-engine/api with the engine CA in
// engine.Options.RootCAs and the credentials (or call LoginSSO).
func ExampleOpenBackup() {
	fake := ovirtfake.Start(false)
	defer fake.Server.Close()
	vmID, diskID := fake.AddVM(1 << 30)
	fake.Write(vmID, 0, 1<<20)

	ctx := context.Background()
	client, err := engine.NewClient(fake.Server.URL+"/ovirt-engine/api", &engine.Options{
		Username: "admin@internal", Password: "secret", PollInterval: time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}

	// backup lists what changed since `since` (a zero since: everything) and
	// returns the change ID to store for the next run.
	backup := func(since cbt.ChangeID) cbt.ChangeID {
		d, err := engine.OpenBackup(ctx, client, vmID, diskID, &engine.BackupOptions{
			Since: since,
			// OnReady hands over the transfer URL to read the data from.
			OnReady: func(i engine.BackupInfo) { fmt.Println("backup mode:", i.Mode) },
		})
		if err != nil {
			log.Fatal(err)
		}
		defer d.Close() // finalizes the transfer and the backup
		for e, err := range d.Changes(ctx, since, nil) {
			if errors.Is(err, cbt.ErrChangeIDInvalid) {
				fmt.Println("take a full backup:", err)
				break
			}
			if err != nil {
				log.Fatal(err)
			}
			fmt.Printf("copy %d bytes at %d\n", e.Length, e.Offset)
		}
		id, err := d.ChangeID()
		if err != nil {
			log.Fatal(err)
		}
		return id
	}

	first := backup(cbt.ChangeID{})
	fake.Write(vmID, 64<<20, 4096)
	second := backup(first)
	fmt.Println(first.Scheme(), second.Scheme(), first != second)
	// Output:
	// backup mode: full
	// copy 1048576 bytes at 0
	// backup mode: incremental
	// copy 4096 bytes at 67108864
	// rhv rhv true
}
