//go:build linux

package imagelayer

import (
	"errors"
	"os"
	"syscall"
)

// fOFDGetLK is F_OFD_GETLK on Linux: test for a conflicting open file
// description lock, the kind qemu takes on its images.
const fOFDGetLK = 36

// qemu's lock bytes: a process that holds permission bit b of an image keeps a
// shared lock on byte permLockBase+b; BLK_PERM_WRITE is bit 1.
const (
	permLockBase  = 100
	permWriteBit  = 1
	writeLockByte = permLockBase + permWriteBit
)

// writeHeld reports whether another process (a running qemu, qemu-nbd or
// qemu-img) holds the image file for writing: it has a lock on byte 101, which
// a write lock of ours there would conflict with. It never takes a lock. A file
// system without OFD locks reports false.
func writeHeld(f *os.File) (bool, error) {
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: writeLockByte, Len: 1}
	rc, err := f.SyscallConn()
	if err != nil {
		return false, err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		ferr = syscall.FcntlFlock(fd, fOFDGetLK, &lk)
	}); err != nil {
		return false, err
	}
	if ferr != nil {
		if errors.Is(ferr, syscall.EINVAL) || errors.Is(ferr, syscall.ENOLCK) || errors.Is(ferr, syscall.EOPNOTSUPP) {
			return false, nil // no OFD locks here: qemu could not have taken any either
		}
		return false, ferr
	}
	return lk.Type != syscall.F_UNLCK, nil
}
