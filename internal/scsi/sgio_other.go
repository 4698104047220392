//go:build !linux

package scsi

import (
	"fmt"
	"runtime"
)

// Open needs the Linux SG_IO ioctl; on other systems it returns ErrUnsupported.
func Open(path string) (Device, error) {
	return nil, fmt.Errorf("%w: %s: SCSI pass-through (SG_IO) is only available on Linux, not %s", ErrUnsupported, path, runtime.GOOS)
}
