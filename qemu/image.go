package qemu

import (
	"fmt"
	"iter"
	"strings"
	"sync"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/driver"
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
// It reads regular files and block devices only, and never blocks opening
// one: a FIFO, a socket, a character device or a directory is refused
// before anything is read from it, saying what it is. The snapshot table and
// the bitmap directory are not read here (Snapshots, Bitmaps and Open do).
// Errors: cbt.ErrNotFound for a missing image or backing file (named);
// cbt.ErrInvalidArgument when path is a FIFO, socket, character device or
// directory, or a name too long for the system (ENAMETOOLONG) or otherwise
// malformed; cbt.ErrBusy when a running qemu holds a file of the chain for
// writing and opts.ForceShare is not set; cbt.ErrUnsupported for a file that
// is not qcow2 at the top, an unsupported feature, a chain deeper than
// MaxChainDepth, a backing name qemu would resolve by protocol (json:, nbd:,
// ...), or a backing file that is of such a kind or whose name is too long
// (the image names a file that cannot be read as an image); cbt.ErrCorrupt
// for malformed metadata, an I/O error, or a chain that loops. Every error is
// a *cbt.Error naming the image.
func OpenImage(path string, opts *Options) (*Image, error) {
	if opts == nil {
		opts = &Options{}
	}
	c, err := openChain(path, opts)
	if err != nil {
		err = driver.WithClass(cbt.ErrNotFound, fmt.Errorf("qemu: %s does not exist: %w", path, err))
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
	q := c.q
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
		in.Chain = append(in.Chain, Layer{Path: l.Path(), Name: l.name, Format: l.Format(), VirtualSize: l.VirtualSize(), Depth: i, Point: pt})
	}
	return in
}

// Snapshots lists the internal snapshots in table order (AllSnapshots,
// collected): it returns them only when the whole table is well formed. It
// holds the list, about the table's size (at most 64 MiB, the format's
// limit) plus 150 bytes per snapshot. Errors as AllSnapshots.
func (im *Image) Snapshots() ([]Snapshot, error) {
	// Open checked that the file holds nb_snapshots entries of 40 bytes.
	out := make([]Snapshot, 0, im.c.q.Header.NbSnapshots)
	for s, err := range im.AllSnapshots() {
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// AllSnapshots yields the internal snapshots in table order, one at a time,
// reading the table as it goes: it holds one snapshot, not the table (a
// caller that prints them holds what it prints). Errors, yielded once at
// the end (after the snapshots before the fault): cbt.ErrCorrupt for a
// malformed snapshot table (an entry out of bounds, two entries with one id,
// a disk size its L1 table does not map) or an I/O error; cbt.ErrClosed
// after Close.
func (im *Image) AllSnapshots() iter.Seq2[Snapshot, error] {
	return func(yield func(Snapshot, error) bool) {
		if err := im.check(); err != nil {
			yield(Snapshot{}, err)
			return
		}
		cg, _ := im.c.guardBelow(0)
		for s, err := range im.c.q.AllSnapshots() {
			if err != nil {
				yield(Snapshot{}, wrap(err, "snapshot table of %s", im.c.path))
				return
			}
			if !yield(im.c.snapshotOf(&s, cg), nil) {
				return
			}
		}
	}
}

// snapshotOf describes an entry of the snapshot table of the top image,
// whose point carries the chain guard cg. The name shares its bytes with the
// point's, which starts with it.
func (c *chain) snapshotOf(s *qcow2.Snapshot, cg string) Snapshot {
	size := c.top().VirtualSize()
	if v, err := c.q.SnapshotView(s); err == nil {
		size = v.DiskSize
	}
	icount := int64(-1)
	if s.HasICount {
		icount = s.ICount
	}
	pt := snapshotPointGuarded(s, cg)
	name := s.Name
	if strings.HasPrefix(pt.Name, name) {
		name = pt.Name[:len(name)]
	}
	return Snapshot{
		ID:          s.ID,
		Name:        name,
		Date:        s.Date(),
		VMClock:     clockDuration(s.VMClockNsec),
		VMStateSize: clampInt64(s.VMStateSize),
		DiskSize:    size,
		ICount:      icount,
		Point:       pt,
	}
}

// Bitmaps lists the persistent dirty bitmaps (AllBitmaps, collected): it
// returns them only when the whole directory is well formed. It holds the
// list, about the directory's size (at most 64 MiB, the format's limit) plus
// 100 bytes per bitmap. Errors as AllBitmaps.
func (im *Image) Bitmaps() ([]Bitmap, error) {
	out := []Bitmap{}
	for b, err := range im.AllBitmaps() {
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// AllBitmaps yields the persistent dirty bitmaps in directory order, one at
// a time, with whether each can serve as a base (see Bitmap.Usable), reading
// the directory as it goes: it holds one bitmap, not the directory. Errors,
// yielded once at the end (after the bitmaps before the fault):
// cbt.ErrCorrupt for a malformed bitmap directory or an I/O error;
// cbt.ErrUnsupported for a bitmap type, flag or size this package does not
// read; cbt.ErrClosed after Close.
func (im *Image) AllBitmaps() iter.Seq2[Bitmap, error] {
	return func(yield func(Bitmap, error) bool) {
		if err := im.check(); err != nil {
			yield(Bitmap{}, err)
			return
		}
		for b, err := range im.c.q.AllBitmaps() {
			if err != nil {
				yield(Bitmap{}, wrap(err, "bitmap directory of %s", im.c.path))
				return
			}
			var flags []string
			if b.InUse() {
				flags = append(flags, "in-use")
			}
			if b.Auto() {
				flags = append(flags, "auto")
			}
			reason := im.c.bitmapUnusable(&b)
			if !yield(Bitmap{
				Name:        b.Name,
				Granularity: int64(b.Granularity()),
				Flags:       flags,
				InUse:       b.InUse(),
				Enabled:     b.Auto(),
				Usable:      reason == "",
				Reason:      reason,
			}, nil) {
				return
			}
		}
	}
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
