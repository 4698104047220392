//go:build linux

package imagelayer

import (
	"errors"
	"os"
	"syscall"
)

// Linux lseek whence values.
const (
	seekData = 3
	seekHole = 4
)

// dataAfter returns the start of the first data region at or after off and
// the start of the hole after it: SEEK_DATA and SEEK_HOLE. ok is false when
// the file system cannot tell (then treat all of the file as data); a data
// start at or beyond the file's end means there is no data left.
func dataAfter(f *os.File, off int64) (start, end int64, ok bool) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, 0, false
	}
	var serr error
	var d, h int64
	cerr := rc.Control(func(fd uintptr) {
		d, serr = seek(fd, off, seekData)
		if serr != nil {
			return
		}
		h, serr = seek(fd, d, seekHole)
	})
	if cerr != nil {
		return 0, 0, false
	}
	if serr != nil {
		if isENXIO(serr) {
			return 1<<63 - 1, 1<<63 - 1, true
		}
		return 0, 0, false
	}
	return d, h, true
}

func seek(fd uintptr, off int64, whence int) (int64, error) {
	return syscall.Seek(int(fd), off, whence)
}

func isENXIO(err error) bool { return errors.Is(err, syscall.ENXIO) }
