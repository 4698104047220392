//go:build unix

package hostfile

import (
	"os"
	"syscall"
)

// openNonblock opens path with O_NONBLOCK, so that opening a FIFO with no
// writer returns at once instead of waiting for one, and with O_NOCTTY, so
// that a terminal never becomes the controlling one.
func openNonblock(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
}

// setBlocking clears O_NONBLOCK on an accepted file.
func setBlocking(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = syscall.SetNonblock(int(fd), false) }); err != nil {
		return err
	}
	return serr
}
