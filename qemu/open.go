package qemu

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/internal/hostfile"
)

// Files are opened through hostfile.Open: never blocking in the open (a
// FIFO opened the ordinary way waits for a writer, forever if none comes),
// and only regular files and block devices (a qcow2 image on a logical
// volume) are read. Who named the path decides the class of a path that
// cannot be served:
//
//   - a path the caller passed (OpenImage, Open, OpenLayerFile): a FIFO, a
//     socket, a character device or a directory, a name too long for the
//     system (ENAMETOOLONG), a symbolic link loop (ELOOP), a path through a
//     file that is no directory (ENOTDIR) or one the system refuses
//     (EINVAL: a NUL byte) is cbt.ErrInvalidArgument: the argument is wrong;
//   - a backing file an image names: the same is cbt.ErrUnsupported: the
//     image is well formed, but names a file that cannot be read as an
//     image here;
//
// and in both cases a missing file is cbt.ErrNotFound, one the process may
// not read cbt.ErrUnsupported, any other error cbt.ErrCorrupt.

// openFile opens the file at p for a chain without blocking: a regular file
// or a block device. backing is empty for a path the caller passed, else it
// names the backing file and its overlay for messages ("backing file
// \"base.qcow2\" of /images/top.qcow2"). It returns the file, its FileInfo
// and its size (a block device's from its end). Errors for a file of another
// kind or a malformed path carry a class (see above) and say what to do;
// others are those of the file system, for the caller to classify
// (os.IsNotExist).
func openFile(p, backing string) (*os.File, os.FileInfo, int64, error) {
	f, fi, size, err := hostfile.Open(p, hostfile.Regular|hostfile.BlockDevice)
	if err == nil {
		return f, fi, size, nil
	}
	cls, what, advice := cbt.ErrInvalidArgument, "", "give the path of a qcow2 image file (or of a block device holding one)"
	if backing != "" {
		cls, what = cbt.ErrUnsupported, backing+": "
		advice = "only image files (regular files, block devices) are read as backing files; point the overlay at its backing image (qemu-img rebase -u -b IMAGE -F FORMAT OVERLAY)"
	}
	var ke *hostfile.KindError
	switch {
	case errors.As(err, &ke):
		return nil, nil, 0, fmt.Errorf("%w: qemu: %s%w: %s", cls, what, err, advice)
	case errors.Is(err, syscall.ENAMETOOLONG):
		return nil, nil, 0, fmt.Errorf("%w: qemu: %s%s: the file name is too long for this system (%w): %s", cls, what, cut(p, 64), syscall.ENAMETOOLONG, advice)
	case errors.Is(err, syscall.ELOOP), errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.EINVAL):
		return nil, nil, 0, fmt.Errorf("%w: qemu: %s%w: %s", cls, what, err, advice)
	}
	return nil, nil, 0, err
}

// cut returns s, cut to n bytes and "..." when longer.
func cut(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
