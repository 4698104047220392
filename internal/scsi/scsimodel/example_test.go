package scsimodel_test

import (
	"context"
	"fmt"

	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/scsi"
	"github.com/changedblocks/sdk/internal/scsi/scsimodel"
)

// A delta volume of 8 GiB in 4 KiB blocks where two ranges differ between
// the backups, on a target that knows only GET LBA STATUS(16) and raises
// UNIT ATTENTION on the first command: READ CAPACITY twice, GET LBA STATUS(32)
// refused, one GET LBA STATUS(16) answering up to the capacity.
func Example() {
	lun, err := scsimodel.New(8<<30, 4096, []extent.Extent{
		{Offset: 1 << 20, Length: 64 << 10},
		{Offset: 5 << 30, Length: 100},
	})
	if err != nil {
		panic(err)
	}
	lun.No32 = true
	lun.UnitAttentions = 1
	for e, err := range scsi.Scan(context.Background(), lun, nil) {
		if err != nil {
			panic(err)
		}
		fmt.Println(e)
	}
	fmt.Println(len(lun.Commands()), "commands")
	// Output:
	// [1048576, 1114112)
	// [5368709120, 5368713216)
	// 4 commands
}
