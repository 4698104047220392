package rhv

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"path/filepath"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/driver"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/imagelayer"
)

// OpenVolume returns the disk at a volume of a chain (volumeID; "" for the
// leaf): the guest disk as that volume and the volumes below it hold it.
// Its change IDs are of scheme "rhv", "volume:UUID#CHILD~GUARD" (see
// VolumePoint), and its Changes(since) reports:
//
//   - since a volume B below this one: the union of what every COW layer
//     above B, up to this volume, allocates in its own qcow2 tables (data,
//     zero and compressed clusters; a zero cluster is a change, it hides what
//     lies below), plus the bytes beyond the smallest disk size on the way
//     (a volume was extended);
//   - since this volume: nothing;
//   - with a zero since: every area allocated down the chain, from this
//     volume to the base (a RAW base counts as allocated all over).
//
// The files are found with opts.Path (or opts.Dir) and opened read-only, base
// first up to this volume; the volumes above it are not opened (the leaf of
// a running VM is held by qemu). Every opened qcow2 file's backing file name
// must name the metadata's parent volume (its last path element: "PARENT",
// "../IMAGE/PARENT" or an absolute path), and its backing format, when
// recorded, the parent's format; the names are never resolved as paths.
//
// The disk at an internal volume hands out the change ID
// "volume:UUID#CHILD~GUARD", the guard a digest of the volumes from the base
// up to it (see the package doc; computing it walks their qcow2 tables when
// the disk is opened); the disk at the leaf hands out none: the VM still
// writes to the leaf, so it is no fixed point; take a snapshot in RHV and
// open the volume that became internal. As a base, a volume that is no longer
// in the chain (a snapshot merged away), whose child is no longer the one its
// change ID names (the child was merged into it), that is now the leaf, whose
// guard differs (a volume up to it written, replaced, restored, rebased or
// merged) or that carries no guard gives cbt.ErrChangeIDInvalid: take a full
// backup.
//
// Errors (a *cbt.Error): cbt.ErrInvalidArgument for a nil chain or options
// without Path or Dir; cbt.ErrNotFound for a volume ID not in the chain or a
// missing file; cbt.ErrCorrupt for a chain that is not one ordered line from
// the base (validate it), a volume marked removed or half-created, or a qcow2
// backing file that disagrees with the metadata; cbt.ErrInvalidArgument for
// a volume path that is no image file (a FIFO, a socket, a character device,
// a directory: never opened in a way that could block) or a name too long;
// cbt.ErrUnsupported for a RAW volume above the base or a file qemu cannot
// read; cbt.ErrBusy when a running qemu holds a volume to open for writing
// (the leaf of a running VM: use the incremental backup API). Changes gives cbt.ErrChangeIDInvalid as above,
// cbt.ErrInvalidArgument for a base above this volume or a change ID that
// names no volume.
func OpenVolume(chain *Chain, volumeID string, opts *VolumeOptions) (*cbt.Disk, error) {
	name := volumeID
	if chain != nil && name == "" {
		if leaf, ok := chain.Leaf(); ok {
			name = leaf.ID
		}
	}
	d, err := openVolume(chain, volumeID, opts)
	if err != nil {
		return nil, &cbt.Error{Op: "open", Disk: name, Err: err}
	}
	return cbt.NewDisk(d)
}

func openVolume(chain *Chain, volumeID string, opts *VolumeOptions) (_ *volumeDisk, err error) {
	if chain == nil {
		return nil, fmt.Errorf("%w: rhv: nil chain", cbt.ErrInvalidArgument)
	}
	if opts == nil || (opts.Path == nil && opts.Dir == "") {
		return nil, fmt.Errorf("%w: rhv: VolumeOptions.Path or Dir is required to find the volumes of image %s", cbt.ErrInvalidArgument, chain.Image)
	}
	if err := checkChainLine(chain); err != nil {
		return nil, err
	}
	k := len(chain.Volumes) - 1
	if volumeID != "" {
		if k = chain.Index(volumeID); k < 0 {
			return nil, fmt.Errorf("%w: rhv: volume %s is not in the chain of image %s", cbt.ErrNotFound, volumeID, chain.Image)
		}
	}
	pathOf := opts.Path
	if pathOf == nil {
		pathOf = DirPath(opts.Dir)
	}
	log := opts.logger()
	d := &volumeDisk{image: chain.Image, log: log}
	for _, v := range chain.Volumes {
		d.ids = append(d.ids, v.ID)
	}
	defer func() {
		if err != nil {
			_ = d.closeFiles()
		}
	}()
	for j := 0; j <= k; j++ {
		v := chain.Volumes[j]
		if v.Image == "" {
			v.Image = chain.Image
		}
		l, err := openVolLayer(v, j, d.layers, pathOf, log)
		if err != nil {
			return nil, err
		}
		d.layers = append(d.layers, l)
	}
	d.at = k
	x := d.layers[k]
	d.capacity = x.size
	d.gran = x.f.Granularity()
	if k+1 < len(chain.Volumes) {
		g, err := d.guardAt(context.Background(), k)
		if err != nil {
			return nil, err
		}
		d.id = VolumePoint{Volume: chain.Volumes[k].ID, Child: chain.Volumes[k+1].ID, Guard: g}.String()
	}
	d.page = volPageFor(d.layers)
	d.name = x.f.Path()
	return d, nil
}

// checkChainLine checks that the chain is one line from the base: ordered, each
// volume's parent the one before it, no volume twice.
func checkChainLine(c *Chain) error {
	if len(c.Volumes) == 0 {
		return fmt.Errorf("%w: rhv: the chain of image %s has no volume", cbt.ErrNotFound, c.Image)
	}
	if !c.Ordered {
		return fmt.Errorf("%w: rhv: the chain of image %s is not one line from a base to a leaf (validate it: a fork, a loop, a missing parent); its changes cannot be listed", cbt.ErrCorrupt, c.Image)
	}
	seen := make(map[string]bool, len(c.Volumes))
	for i, v := range c.Volumes {
		if v.ID == "" {
			return fmt.Errorf("%w: rhv: volume %d of the chain of image %s has no ID", cbt.ErrCorrupt, i, c.Image)
		}
		if seen[v.ID] {
			return fmt.Errorf("%w: rhv: volume %s is twice in the chain of image %s", cbt.ErrCorrupt, v.ID, c.Image)
		}
		seen[v.ID] = true
		switch {
		case i == 0 && !v.IsBase():
			return fmt.Errorf("%w: rhv: the first volume %s of the chain of image %s has parent %s; the chain must start at its base", cbt.ErrCorrupt, v.ID, c.Image, v.Parent)
		case i > 0 && v.Parent != c.Volumes[i-1].ID:
			return fmt.Errorf("%w: rhv: volume %s of the chain of image %s has parent %q, but follows %s", cbt.ErrCorrupt, v.ID, c.Image, v.Parent, c.Volumes[i-1].ID)
		}
	}
	return nil
}

// volLayer is one opened volume of the chain.
type volLayer struct {
	vol  Volume
	f    imagelayer.Layer
	raw  bool // a RAW base: allocated all over
	size int64
}

// openVolLayer opens volume v, the j-th of the chain (below holds the volumes
// under it, opened), and checks it against the metadata.
func openVolLayer(v Volume, j int, below []*volLayer, pathOf func(Volume) (string, error), log *slog.Logger) (*volLayer, error) {
	switch {
	case v.Removed:
		return nil, fmt.Errorf("%w: rhv: volume %s of image %s is marked removed (_remove_me_): the chain is being deleted or a deletion failed; validate the chain", cbt.ErrCorrupt, v.ID, v.Image)
	case v.Initializing:
		return nil, fmt.Errorf("%w: rhv: volume %s of image %s is half-created (OVIRT_VOL_INITIALIZING): vdsm did not finish creating it; validate the chain", cbt.ErrCorrupt, v.ID, v.Image)
	case v.Format == FormatRAW && j > 0:
		return nil, fmt.Errorf("%w: rhv: volume %s of image %s is RAW above the base: only COW (qcow2) layers record what they changed", cbt.ErrUnsupported, v.ID, v.Image)
	}
	if v.Legality == LegalityIllegal {
		log.Warn("rhv: volume is ILLEGAL (an operation on it failed or is running, such as a merge); its layer is read as it is", "image", v.Image, "volume", v.ID)
	}
	p, err := pathOf(v)
	if err != nil {
		if driver.HasClass(err) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: rhv: path of volume %s: %w", cbt.ErrNotFound, v.ID, err)
	}
	format := "" // COW: probe, and checkVolLayer wants qcow2
	switch v.Format {
	case FormatRAW:
		format = "raw"
	case FormatCOW:
	default:
		log.Warn("rhv: volume format unknown in the chain metadata; probing the file", "volume", v.ID, "path", p, "format", string(v.Format))
	}
	// imagelayer.Open never blocks opening p, and refuses what is no image
	// file (a FIFO, a socket, a character device, a directory).
	f, err := imagelayer.Open(p, format, nil)
	if err != nil {
		return nil, volOpenError(v, err)
	}
	l := &volLayer{vol: v, f: f, size: f.VirtualSize(), raw: f.Format() == "raw"}
	if err := checkVolLayer(l, j, below); err != nil {
		_ = f.Close()
		return nil, err
	}
	if v.Capacity > 0 && v.Capacity != l.size {
		log.Warn("rhv: volume capacity in the metadata differs from its file's virtual size; using the file's", "volume", v.ID, "metadata", v.Capacity, "file", l.size)
	}
	log.Debug("rhv: volume opened", "volume", v.ID, "path", p, "format", f.Format(), "backing", f.BackingFile(), "size", l.size)
	return l, nil
}

// checkVolLayer checks an opened volume against the chain metadata.
func checkVolLayer(l *volLayer, j int, below []*volLayer) error {
	v, f := l.vol, l.f
	if l.raw {
		switch {
		case v.Format == FormatCOW:
			return fmt.Errorf("%w: rhv: volume %s of image %s is COW in the metadata, but %s holds no qcow2 header", cbt.ErrCorrupt, v.ID, v.Image, f.Path())
		case j > 0:
			return fmt.Errorf("%w: rhv: volume %s of image %s is raw above the base: only COW (qcow2) layers record what they changed", cbt.ErrUnsupported, v.ID, v.Image)
		}
		return nil
	}
	backing := f.BackingFile()
	if j == 0 {
		if backing != "" {
			return fmt.Errorf("%w: rhv: volume %s of image %s is the base of the chain in the metadata, but its qcow2 header names backing file %q", cbt.ErrCorrupt, v.ID, v.Image, backing)
		}
		return nil
	}
	parent := below[j-1]
	if backing == "" {
		return fmt.Errorf("%w: rhv: volume %s of image %s has parent %s in the metadata, but its qcow2 header names no backing file", cbt.ErrCorrupt, v.ID, v.Image, parent.vol.ID)
	}
	if got := filepath.Base(backing); got != parent.vol.ID {
		return fmt.Errorf("%w: rhv: volume %s of image %s has parent %s in the metadata, but its qcow2 header names backing file %q (volume %s): the metadata and the qcow2 chain disagree; validate the chain", cbt.ErrCorrupt, v.ID, v.Image, parent.vol.ID, backing, got)
	}
	if bf := f.BackingFormat(); bf != "" && bf != parent.f.Format() {
		return fmt.Errorf("%w: rhv: volume %s of image %s records backing format %q, but its parent %s is %s", cbt.ErrCorrupt, v.ID, v.Image, bf, parent.vol.ID, parent.f.Format())
	}
	return nil
}

// volOpenError classifies an error of imagelayer.Open of volume v's file
// (see layerClass), naming the volume and saying what to do: a path that
// names no image file is the path VolumeOptions gave.
func volOpenError(v Volume, err error) error {
	advice := ""
	switch {
	case errors.Is(err, imagelayer.ErrPath):
		advice = "; check VolumeOptions.Path or Dir: a volume is a file of a file domain, or a logical volume of a block domain"
	case errors.Is(err, imagelayer.ErrBusy):
		advice = ": the volume is in use: a running qemu holds it for writing (the leaf of a running VM); open the disk at a volume below it, or use OpenBackup (oVirt 4.4+ checkpoints)"
	}
	return driver.WithClass(layerClass(err), fmt.Errorf("rhv: volume %s of image %s: %w%s", v.ID, v.Image, err, advice))
}

// layerClasses sorts the errors of package imagelayer about a volume's file
// (its own, the file system's or package qcow2's) into cbt's classes: a
// path that names no image file is cbt.ErrInvalidArgument, a file held for
// writing cbt.ErrBusy, a missing file cbt.ErrNotFound, an unsupported
// format or qcow2 feature or a file the process may not read
// cbt.ErrUnsupported, and anything else (malformed metadata, an I/O error)
// cbt.ErrCorrupt.
var layerClasses = imagelayer.Classes{Path: cbt.ErrInvalidArgument, Busy: cbt.ErrBusy, NotFound: cbt.ErrNotFound,
	Unsupported: cbt.ErrUnsupported, Corrupt: cbt.ErrCorrupt}

// layerClass returns the cbt class of such an error (layerClasses).
func layerClass(err error) error { return layerClasses.Of(err) }

// allocated yields what the volume's own layer allocates in [off, end) (see
// imagelayer.Layer.Allocated), checking ctx before the walk and between
// extents; its errors are classed (see layerClass).
func (l *volLayer) allocated(ctx context.Context, off, end int64) iter.Seq2[extent.Extent, error] {
	return func(yield func(extent.Extent, error) bool) {
		if err := ctx.Err(); err != nil {
			yield(extent.Extent{}, err)
			return
		}
		for e, err := range l.f.Allocated(off, end) {
			if err != nil {
				err = driver.WithClass(layerClass(err), fmt.Errorf("rhv: volume %s: %w", l.vol.ID, err))
			} else {
				err = ctx.Err()
			}
			if err != nil {
				yield(extent.Extent{}, err)
				return
			}
			if !yield(e, nil) {
				return
			}
		}
	}
}
