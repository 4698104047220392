package qemu

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/driver"
	"github.com/changedblocks/sdk/internal/imagelayer"
)

// Files are opened through imagelayer.Open: never blocking in the open (a
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

// openLayer opens one file of the chain as format ("qcow2", "raw", or "" to
// probe), checking qemu's write lock; backing names a backing file and its
// overlay for messages, "" for a path the caller passed. A file that is not
// qcow2 when probed is returned as "raw", for the caller to refuse or take.
// A missing file is the error of the file system (fs.ErrNotExist), for the
// caller to name; every other error carries a class (see above).
func openLayer(p, format, backing string, o *Options) (*layerFile, error) {
	l, err := imagelayer.Open(p, format, &imagelayer.Options{L2CacheBytes: o.L2CacheBytes, ForceShare: o.ForceShare})
	if err != nil {
		return nil, openError(p, format, backing, err, o)
	}
	o.logger().Debug("qemu: lock check", "path", p, "format", l.Format(), "held_for_writing", l.Busy())
	if l.Busy() {
		o.logger().Warn("qemu: image is held for writing by another process; opened with ForceShare: its active tables and bitmaps are not reliable and will be refused", "path", p)
	}
	return &layerFile{Layer: l}, nil
}

// openError classifies an error of imagelayer.Open of the file at p (see
// openLayer).
func openError(p, format, backing string, err error, o *Options) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return err
	case errors.Is(err, imagelayer.ErrPath):
		return pathError(p, backing, err)
	case errors.Is(err, imagelayer.ErrFormat):
		return errf(cbt.ErrUnsupported, "%s has format %q; only qcow2 and raw backing files are read", p, format)
	case errors.Is(err, imagelayer.ErrBusy):
		o.logger().Debug("qemu: lock check", "path", p, "format", format, "held_for_writing", true)
		return errf(cbt.ErrBusy, "%s is in use: a running qemu (or qemu-nbd, qemu-img) holds it for writing; stop the VM, use the libvirt checkpoint path for a running VM, or set Options.ForceShare to read its snapshot tables", p)
	}
	return driver.WithClass(classify(err), fmt.Errorf("qemu: %w", err))
}

// pathError is the error of a path p that names no image file (an
// imagelayer.ErrPath): its class depends on who named it (see above).
// backing is as for openLayer.
func pathError(p, backing string, err error) error {
	cls, what, advice := cbt.ErrInvalidArgument, "", "give the path of a qcow2 image file (or of a block device holding one)"
	if backing != "" {
		cls, what = cbt.ErrUnsupported, backing+": "
		advice = "only image files (regular files, block devices) are read as backing files; point the overlay at its backing image (qemu-img rebase -u -b IMAGE -F FORMAT OVERLAY)"
	}
	if errors.Is(err, syscall.ENAMETOOLONG) {
		return fmt.Errorf("%w: qemu: %s%s: the file name is too long for this system (%w): %s", cls, what, cut(p, 64), syscall.ENAMETOOLONG, advice)
	}
	return fmt.Errorf("%w: qemu: %s%w: %s", cls, what, err, advice)
}

// cut returns s, cut to n bytes and "..." when longer.
func cut(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
