package hostfile

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// Kind is a set of file kinds a caller accepts.
type Kind uint8

// File kinds.
const (
	Regular     Kind = 1 << iota // a regular file
	BlockDevice                  // a block device (a logical volume, a disk)
	Directory                    // a directory
)

func (k Kind) String() string {
	var names []string
	for _, n := range []struct {
		k    Kind
		name string
	}{{Regular, "regular file"}, {BlockDevice, "block device"}, {Directory, "directory"}} {
		if k&n.k != 0 {
			names = append(names, n.name)
		}
	}
	if len(names) == 0 {
		return "nothing"
	}
	return strings.Join(names, " or ")
}

// kindOf returns the Kind of a file mode, 0 for kinds this package never
// accepts (FIFOs, sockets, character devices, irregular files).
func kindOf(m fs.FileMode) Kind {
	switch {
	case m.IsRegular():
		return Regular
	case m.IsDir():
		return Directory
	case m&fs.ModeDevice != 0 && m&fs.ModeCharDevice == 0:
		return BlockDevice
	}
	return 0
}

// Describe names the kind of a file mode as a person would: "a named pipe
// (FIFO)", "a socket", "a character device", "a directory", ...
func Describe(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "a regular file"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "an irregular file (" + m.Type().String() + ")"
}

// KindError is a file of a kind the caller did not allow.
type KindError struct {
	Path    string
	Mode    fs.FileMode // the file's mode, as fstat reported it
	Allowed Kind
}

func (e *KindError) Error() string {
	return fmt.Sprintf("%s is %s, not a %s", e.Path, Describe(e.Mode), e.Allowed)
}

// Open opens path read-only without blocking in the open, and returns the
// file, what fstat says of it and, for a block device, its size (a regular
// file's size is in the FileInfo; a directory's is 0). A file of a kind
// allow does not hold is closed again and refused with a *KindError;
// anything else is the error of os.OpenFile or fstat (a *fs.PathError:
// fs.ErrNotExist, fs.ErrPermission, ...). The file returned reads in
// blocking mode, as an ordinary os.Open would.
func Open(path string, allow Kind) (*os.File, fs.FileInfo, int64, error) {
	f, err := openNonblock(path)
	if err != nil {
		// A socket cannot be opened at all (ENXIO): say what it is.
		if st, serr := os.Stat(path); serr == nil {
			if k := kindOf(st.Mode()); k == 0 || allow&k == 0 {
				return nil, nil, 0, &KindError{Path: path, Mode: st.Mode(), Allowed: allow}
			}
		}
		return nil, nil, 0, err
	}
	fi, size, err := accept(f, path, allow)
	if err != nil {
		_ = f.Close()
		return nil, nil, 0, err
	}
	return f, fi, size, nil
}

// accept checks the kind of an open file, puts it back in blocking mode and
// returns what fstat says of it and its size.
func accept(f *os.File, path string, allow Kind) (fs.FileInfo, int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	k := kindOf(fi.Mode())
	if k == 0 || allow&k == 0 {
		return nil, 0, &KindError{Path: path, Mode: fi.Mode(), Allowed: allow}
	}
	if err := setBlocking(f); err != nil {
		return nil, 0, &fs.PathError{Op: "fcntl", Path: path, Err: err}
	}
	size := fi.Size()
	if k == BlockDevice {
		if size, err = f.Seek(0, io.SeekEnd); err != nil {
			return nil, 0, err
		}
	}
	return fi, size, nil
}

// Check reports, without opening it, whether path is of a kind allow holds:
// a *KindError when it is not, the error of os.Stat when it cannot tell. It
// is for paths handed on to another program (which opens them itself); a
// path read here goes through Open, which checks the open file.
func Check(path string, allow Kind) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if k := kindOf(fi.Mode()); k == 0 || allow&k == 0 {
		return &KindError{Path: path, Mode: fi.Mode(), Allowed: allow}
	}
	return nil
}
