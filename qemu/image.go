package qemu

import (
	"errors"

	"github.com/changedblocks/sdk/cbt"
)

// errTODO marks what the implementation fills in; nothing returns it once the
// package is done.
var errTODO = errors.New("qemu: not implemented yet")

// Image is an opened qcow2 image and its backing chain, read-only. Its
// methods are safe for concurrent use. Disks opened from it hold their own
// reference to its files: closing the Image does not end them, and the files
// are closed when the Image and every Disk from it are closed.
type Image struct {
}

// OpenImage opens the qcow2 image at path and resolves its backing chain
// (names relative to the overlay's directory, or absolute; the backing format
// extension, else probed; raw bases). Errors: cbt.ErrNotFound for a missing
// image or backing file (named); cbt.ErrBusy when a running qemu holds a file
// of the chain for writing and opts.ForceShare is not set; cbt.ErrUnsupported
// for a file that is not qcow2 at the top, an unsupported feature, or a
// backing name qemu would resolve by protocol (json:, nbd:, ...);
// cbt.ErrCorrupt for malformed metadata or a chain that loops. Every error is
// a *cbt.Error naming the image.
func OpenImage(path string, opts *Options) (*Image, error) {
	return nil, errTODO
}

// Close releases the image's files once no Disk opened from it is left.
// It is idempotent.
func (im *Image) Close() error { return errTODO }

// Info returns what `qemu-img info` shows of the image, and its chain.
func (im *Image) Info() Info { return Info{} }

// Chain returns the backing chain, the image itself first.
func (im *Image) Chain() []Layer { return nil }

// Snapshots lists the internal snapshots in table order. Errors:
// cbt.ErrCorrupt for a malformed snapshot table; I/O errors.
func (im *Image) Snapshots() ([]Snapshot, error) { return nil, errTODO }

// Bitmaps lists the persistent dirty bitmaps with whether each can serve as a
// base. Errors: cbt.ErrCorrupt for a malformed bitmap directory; I/O errors.
func (im *Image) Bitmaps() ([]Bitmap, error) { return nil, errTODO }

// Open returns the disk at a point of the image (active, a snapshot or a
// layer; a bitmap is a base only and gives cbt.ErrInvalidArgument). Errors:
// cbt.ErrNotFound for a snapshot or layer the image does not have;
// cbt.ErrInvalidArgument for a malformed point; cbt.ErrClosed after Close.
func (im *Image) Open(at Point) (*cbt.Disk, error) { return nil, errTODO }

// Open opens the image at path and returns the disk at a point; closing the
// disk closes the image. Errors as OpenImage and Image.Open.
func Open(path string, at Point, opts *Options) (*cbt.Disk, error) {
	im, err := OpenImage(path, opts)
	if err != nil {
		return nil, err
	}
	defer im.Close()
	return im.Open(at)
}

// OpenSnapshot is Open at the internal snapshot of the given name or id.
func OpenSnapshot(path, snapshot string, opts *Options) (*cbt.Disk, error) {
	return Open(path, SnapshotPoint(snapshot), opts)
}

// OpenActive is Open at the active state of the image.
func OpenActive(path string, opts *Options) (*cbt.Disk, error) {
	return Open(path, Active(), opts)
}
