package oci

import (
	"context"
	"fmt"
	"sync"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/internal/scsi"
)

// Device sends SCSI commands to the attached delta volume: Exec sends one
// CDB and reads up to len(dataIn) bytes, returning the count read; a CHECK
// CONDITION is an error. The default opens the block device for SG_IO; a
// caller may supply another transport (a user-space iSCSI initiator, say)
// through Options.OpenDevice.
type Device interface {
	Exec(ctx context.Context, cdb []byte, dataIn []byte) (int, error)
	Close() error
}

// openSGIO opens a block device for SG_IO.
func openSGIO(path string) (Device, error) {
	dev, err := scsi.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: oci: opening %s for SG_IO (root or CAP_SYS_RAWIO is needed for GET LBA STATUS(32)): %w", cbt.ErrUnsupported, path, err)
	}
	return dev, nil
}

// serialDevice sends the commands of concurrent listings to one device one
// at a time: a Device need not be safe for concurrent use.
type serialDevice struct {
	mu  sync.Mutex
	dev Device
}

func (d *serialDevice) Exec(ctx context.Context, cdb []byte, dataIn []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dev.Exec(ctx, cdb, dataIn)
}

// Close is never called: the disk closes the device itself.
func (d *serialDevice) Close() error { return nil }
