//go:build !linux

package scsi

import (
	"fmt"
	"runtime"

	"github.com/changedblocks/sdk/cbt/driver"
)

// Open needs the Linux SG_IO ioctl; on other systems it returns ErrUnsupported.
func Open(path string) (Device, error) {
	return nil, fmt.Errorf("%w: scsi: %s: SCSI pass-through (SG_IO) is only available on Linux, not %s", driver.ErrUnsupported, path, runtime.GOOS)
}
