package scsi_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/scsi"
	"github.com/changedblocks/sdk/internal/scsi/scsimodel"
)

// Scan a delta volume: the byte ranges of the blocks that differ between
// the two backups. On Linux, scsi.Open("/dev/sdX") gives the real device.
func ExampleScan() {
	dev, err := scsimodel.New(2<<30, 4096, []extent.Extent{{Offset: 8192, Length: 4096}, {Offset: 1<<30 - 4096, Length: 8192}})
	if err != nil {
		panic(err)
	}
	defer dev.Close()
	for e, err := range scsi.Scan(context.Background(), dev, nil) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(e)
	}
	// Output:
	// [8192, 12288)
	// [1073737728, 1073745920)
}

// The 32-byte command with its scan length, byte for byte.
func ExampleGetLBAStatus32CDB() {
	cdb := scsi.GetLBAStatus32CDB(scsi.LBAStatusRequest{StartLBA: 96, AllocLen: 32768, ScanLen: 2097152, ReportType: scsi.ReportNonZero})
	fmt.Printf("% x\n", cdb)
	// Output:
	// 7f 00 00 00 00 00 00 18 00 12 01 00 00 00 00 00 00 00 00 60 00 20 00 00 00 00 00 00 00 00 80 00
}

// Errors wrap the package's sentinels; the SCSI sense stays reachable.
func ExampleSenseError() {
	dev, _ := scsimodel.New(1<<20, 512, nil)
	dev.No32, dev.No16 = true, true
	for _, err := range scsi.Scan(context.Background(), dev, nil) {
		var se *scsi.SenseError
		fmt.Println(errors.Is(err, scsi.ErrUnsupported), errors.As(err, &se) && se.Sense.ASC == scsi.ASCInvalidOpcode)
	}
	// Output:
	// true true
}
