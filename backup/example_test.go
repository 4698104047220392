package backup_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/changedblocks/sdk/backup"
	"github.com/changedblocks/sdk/cbt/memcbt"
)

// A full backup, then an incremental on top of it; the newest file restores
// the disk with `qemu-img convert -O raw 0002.qcow2 disk.raw`.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "backups")
	defer os.RemoveAll(dir)

	v, _ := memcbt.NewVolume(1<<30, nil)
	_ = v.Write(0, 1<<20)
	p1, _ := v.ChangePoint()
	d1, _ := v.Open(p1)
	m1, err := backup.Full(ctx, d1, filepath.Join(dir, "0001.qcow2"), nil)
	d1.Close()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("full:", m1.Bytes, "bytes; store", m1.ChangeID == p1.String())

	_ = v.Write(512<<20, 4096)
	p2, _ := v.ChangePoint()
	d2, _ := v.Open(p2)
	m2, err := backup.Incremental(ctx, d2, p1, filepath.Join(dir, "0002.qcow2"), filepath.Join(dir, "0001.qcow2"), nil)
	d2.Close()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("incremental:", m2.Bytes, "bytes on", m2.Backing)
	// Output:
	// full: 1048576 bytes; store true
	// incremental: 65536 bytes on 0001.qcow2
}
