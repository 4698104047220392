package qemu

import (
	"fmt"
	"sync"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/internal/qcow2"
)

// Image is an opened qcow2 image and its backing chain, read-only. Its
// methods are safe for concurrent use. Disks opened from it hold their own
// reference to its files: closing the Image does not end them, and the files
// are closed when the Image and every Disk from it are closed.
type Image struct {
	c    *chain
	info Info

	mu     sync.Mutex
	closed bool
}

// OpenImage opens the qcow2 image at path and resolves its backing chain
// (names relative to the overlay's directory, or absolute; the backing format
// extension, else probed; raw bases). It never writes and never takes a lock.
// Errors: cbt.ErrNotFound for a missing image or backing file (named);
// cbt.ErrBusy when a running qemu holds a file of the chain for writing and
// opts.ForceShare is not set; cbt.ErrUnsupported for a file that is not qcow2
// at the top, an unsupported feature, a chain deeper than MaxChainDepth, or a
// backing name qemu would resolve by protocol (json:, nbd:, ...);
// cbt.ErrCorrupt for malformed metadata, an I/O error, or a chain that loops.
// Every error is a *cbt.Error naming the image.
func OpenImage(path string, opts *Options) (*Image, error) {
	if opts == nil {
		opts = &Options{}
	}
	c, err := openChain(path, opts)
	if err != nil {
		if !hasClass(err) {
			err = fmt.Errorf("%w: qemu: %s does not exist: %w", cbt.ErrNotFound, path, err)
		}
		return nil, &cbt.Error{Op: "open", Disk: path, Err: err}
	}
	im := &Image{c: c}
	im.info = c.info()
	return im, nil
}

// Close releases the image's files once no Disk opened from it is left.
// It is idempotent. Errors: cbt.ErrCorrupt when closing a file fails.
func (im *Image) Close() error {
	im.mu.Lock()
	if im.closed {
		im.mu.Unlock()
		return nil
	}
	im.closed = true
	im.mu.Unlock()
	return im.c.release()
}

// Info returns what `qemu-img info` shows of the image, and its chain.
func (im *Image) Info() Info {
	in := im.info
	in.Chain = append([]Layer(nil), in.Chain...)
	return in
}

// Chain returns the backing chain, the image itself first.
func (im *Image) Chain() []Layer { return append([]Layer(nil), im.info.Chain...) }

func (c *chain) info() Info {
	q := c.top().q
	h := &q.Header
	in := Info{
		Path:              c.path,
		Format:            "qcow2",
		Version:           int(h.Version),
		Compat:            "0.10",
		VirtualSize:       int64(h.Size),
		ClusterSize:       h.ClusterSize(),
		ExtendedL2:        h.ExtendedL2(),
		LazyRefcounts:     h.LazyRefcounts(),
		Dirty:             h.Dirty(),
		Compression:       h.CompressionType.String(),
		RefcountBits:      h.RefcountBits(),
		BackingFile:       q.BackingFile,
		BackingFormat:     q.BackingFormat,
		DataFile:          q.DataFile,
		BitmapsConsistent: q.BitmapsExt == nil || q.BitmapsConsistent(),
		Snapshots:         int(h.NbSnapshots),
	}
	if h.Version >= 3 {
		in.Compat = "1.1"
	}
	switch h.CryptMethod {
	case qcow2.CryptAES:
		in.Encryption = "aes"
	case qcow2.CryptLUKS:
		in.Encryption = "luks"
	}
	if q.BitmapsExt != nil {
		in.Bitmaps = int(q.BitmapsExt.NbBitmaps)
	}
	for i, l := range c.layers {
		pt := Active()
		if i > 0 {
			pt, _ = c.layerPoint(i)
		}
		in.Chain = append(in.Chain, Layer{Path: l.path, Name: l.name, Format: l.format, VirtualSize: l.size, Depth: i, Point: pt})
	}
	return in
}

// Snapshots lists the internal snapshots in table order. Errors:
// cbt.ErrCorrupt for a malformed snapshot table or an I/O error;
// cbt.ErrClosed after Close.
func (im *Image) Snapshots() ([]Snapshot, error) {
	if err := im.check(); err != nil {
		return nil, err
	}
	snaps, err := im.c.top().q.Snapshots()
	if err != nil {
		return nil, wrap(err, "snapshot table of %s", im.c.path)
	}
	out := make([]Snapshot, len(snaps))
	for i := range snaps {
		s := &snaps[i]
		size := int64(im.c.top().size)
		if v, err := im.c.top().q.SnapshotView(s); err == nil {
			size = v.DiskSize
		}
		icount := int64(-1)
		if s.HasICount {
			icount = s.ICount
		}
		out[i] = Snapshot{
			ID:          s.ID,
			Name:        s.Name,
			Date:        s.Date(),
			VMClock:     clockDuration(s.VMClockNsec),
			VMStateSize: clampInt64(s.VMStateSize),
			DiskSize:    size,
			ICount:      icount,
			Point:       im.c.snapshotPoint(s),
		}
	}
	return out, nil
}

// Bitmaps lists the persistent dirty bitmaps with whether each can serve as a
// base (see Bitmap.Usable). Errors: cbt.ErrCorrupt for a malformed bitmap
// directory or an I/O error; cbt.ErrUnsupported for a bitmap type or flag
// this package does not know; cbt.ErrClosed after Close.
func (im *Image) Bitmaps() ([]Bitmap, error) {
	if err := im.check(); err != nil {
		return nil, err
	}
	top := im.c.top()
	bms, err := top.q.Bitmaps()
	if err != nil {
		return nil, wrap(err, "bitmap directory of %s", im.c.path)
	}
	out := make([]Bitmap, len(bms))
	for i := range bms {
		b := &bms[i]
		var flags []string
		if b.InUse() {
			flags = append(flags, "in-use")
		}
		if b.Auto() {
			flags = append(flags, "auto")
		}
		reason := bitmapUnusable(top, b)
		out[i] = Bitmap{
			Name:        b.Name,
			Granularity: int64(b.Granularity()),
			Flags:       flags,
			InUse:       b.InUse(),
			Enabled:     b.Auto(),
			Usable:      reason == "",
			Reason:      reason,
		}
	}
	return out, nil
}

// check returns cbt.ErrClosed after Close.
func (im *Image) check() error {
	im.mu.Lock()
	defer im.mu.Unlock()
	if im.closed {
		return fmt.Errorf("%w: qemu: image %s", cbt.ErrClosed, im.c.path)
	}
	return nil
}

// Open returns the disk at a point of the image (active, a snapshot of the
// top image, or a layer of the chain; a bitmap is a base only and gives
// cbt.ErrInvalidArgument). The disk's name is the image path, its capacity
// the disk size of that point, its granularity the top image's allocation
// unit (the subcluster size with extended L2 entries, else the cluster size).
// The disk keeps the files open until it is closed, even after the Image is.
// Errors (a *cbt.Error): cbt.ErrNotFound for a snapshot or layer the image
// does not have, or a snapshot deleted and re-created since its Point was
// handed out; cbt.ErrInvalidArgument for a malformed point or a bitmap;
// cbt.ErrCorrupt for a malformed snapshot table; cbt.ErrClosed after Close.
func (im *Image) Open(at Point) (*cbt.Disk, error) {
	fail := func(err error) (*cbt.Disk, error) {
		return nil, &cbt.Error{Op: "open", Disk: im.c.path, Err: err}
	}
	if err := im.check(); err != nil {
		return fail(err)
	}
	if err := at.check(); err != nil {
		return fail(err)
	}
	pt, err := im.c.resolveAt(at)
	if err != nil {
		return fail(err)
	}
	if !im.c.acquire() {
		return fail(fmt.Errorf("%w: qemu: image %s", cbt.ErrClosed, im.c.path))
	}
	return cbt.NewDisk(newDisk(im.c, pt))
}

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

// OpenSnapshot is Open at the internal snapshot of the given name or id (or
// the Point.Name of a Snapshot, which also guards against re-creation).
// Errors as Open.
func OpenSnapshot(path, snapshot string, opts *Options) (*cbt.Disk, error) {
	return Open(path, SnapshotPoint(snapshot), opts)
}

// OpenActive is Open at the active state of the image. Errors as Open.
func OpenActive(path string, opts *Options) (*cbt.Disk, error) {
	return Open(path, Active(), opts)
}
