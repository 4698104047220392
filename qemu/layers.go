package qemu

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/driver"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/imagelayer"
)

// LayerFile is one file of a backing chain opened on its own: its backing
// file name is read from its header but not followed. It serves callers that
// know the chain from elsewhere and find each file themselves, such as an RHV
// block domain, whose overlays name their backing files "../IMAGE/VOLUME"
// relative to a directory of links the host may not have (package rhv opens
// the logical volumes by path and checks each backing name against its own
// chain metadata). A LayerFile is read-only and safe for concurrent use.
type LayerFile struct {
	l *layerFile
}

// OpenLayerFile opens the image file at path (a regular file or a block
// device) as format: "qcow2", "raw", or "" to probe (a file starting with
// the qcow2 magic is qcow2, anything else raw). Its backing file is not
// opened. It checks qemu's write lock as OpenImage does, and never blocks
// opening the file (a FIFO is refused before anything is read). Errors (each
// a *cbt.Error naming path): cbt.ErrNotFound for a missing file;
// cbt.ErrInvalidArgument for a file of another kind (a FIFO, a socket, a
// character device, a directory: the message says which) or a path too long
// for the system (ENAMETOOLONG) or otherwise malformed; cbt.ErrBusy when a
// running qemu holds it for writing and opts.ForceShare is not set;
// cbt.ErrUnsupported for a format other than qcow2 and raw, a qcow2 feature
// this package does not read, one the process may not read, or (with format
// "qcow2") a file that is not qcow2; cbt.ErrCorrupt for malformed qcow2
// metadata or an I/O error.
func OpenLayerFile(path, format string, opts *Options) (*LayerFile, error) {
	if opts == nil {
		opts = &Options{}
	}
	fail := func(err error) (*LayerFile, error) {
		return nil, &cbt.Error{Op: "open", Disk: path, Err: err}
	}
	switch format {
	case "", "qcow2", "raw":
	default:
		return fail(errf(cbt.ErrUnsupported, "%s: format %q; only qcow2 and raw files are read", path, format))
	}
	l, err := openLayer(path, format, "", opts)
	if err != nil {
		return fail(driver.WithClass(cbt.ErrNotFound, fmt.Errorf("qemu: %s does not exist: %w", path, err)))
	}
	return &LayerFile{l: l}, nil
}

// Path returns the path the file was opened with.
func (f *LayerFile) Path() string { return f.l.Path() }

// Format returns "qcow2" or "raw".
func (f *LayerFile) Format() string { return f.l.Format() }

// BackingFile returns the backing file name the qcow2 header records, as it
// records it ("" for none, and for a raw file).
func (f *LayerFile) BackingFile() string { return f.l.BackingFile() }

// BackingFormat returns the backing format the qcow2 header extension
// records ("" when absent, and for a raw file).
func (f *LayerFile) BackingFormat() string { return f.l.BackingFormat() }

// VirtualSize returns the disk size in bytes: the qcow2 header's size, or the
// size of a raw file or device.
func (f *LayerFile) VirtualSize() int64 { return f.l.VirtualSize() }

// Granularity returns the allocation unit of a qcow2 file (the subcluster
// size with extended L2 entries, else the cluster size), 512 for a raw file.
func (f *LayerFile) Granularity() int64 { return f.l.Granularity() }

// MappingSpan returns the guest bytes one L2 table of a qcow2 file maps (a
// good window for walking Allocated page by page), 0 for a raw file.
func (f *LayerFile) MappingSpan() int64 { return f.l.MappingSpan() }

// Busy reports whether another process held the file for writing when it
// was opened (possible only with Options.ForceShare).
func (f *LayerFile) Busy() bool { return f.l.Busy() }

// Allocated yields the guest ranges in [off, end) that the file itself
// describes, ascending: for a qcow2 file, its active tables' data, zero and
// compressed clusters (what `qemu-img map` reports present at depth 0; a
// zero cluster counts: it hides what the backing file holds there); for a
// raw file, its data regions as the file system reports them, in 512-byte
// sectors, or all of it when the file system cannot tell. The context is
// checked between extents. Errors, yielded once at the end: the context's
// own error; cbt.ErrBusy for a qcow2 file another process holds for writing
// (its tables on disk are stale); cbt.ErrCorrupt for malformed tables or an
// I/O error.
func (f *LayerFile) Allocated(ctx context.Context, off, end int64) iter.Seq2[extent.Extent, error] {
	return func(yield func(extent.Extent, error) bool) {
		if err := ctx.Err(); err != nil {
			yield(extent.Extent{}, err)
			return
		}
		for e, err := range f.l.Allocated(off, end) {
			switch {
			case errors.Is(err, imagelayer.ErrBusy):
				err = errBusyActive(f.l)
			case err != nil:
				err = wrap(err, "%s", f.l.Path())
			default:
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

// Close closes the file. It is idempotent. Errors: cbt.ErrCorrupt when the
// close fails.
func (f *LayerFile) Close() error {
	if err := f.l.Close(); err != nil {
		return closeError(f.l.Path(), err)
	}
	return nil
}
