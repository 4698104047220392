package imagelayer

import (
	"io/fs"
	"iter"
	"os"
	"sync"

	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/qcow2"
)

// Formats a layer can have.
const (
	FormatRaw   = "raw"
	FormatQcow2 = "qcow2"
)

// Layer is one opened file of a backing chain, raw or qcow2. It is
// read-only and safe for concurrent use.
type Layer interface {
	// Path returns the path the file was opened with.
	Path() string
	// Format returns FormatRaw or FormatQcow2.
	Format() string
	// Stat returns what fstat said of the open file when it was opened.
	Stat() fs.FileInfo
	// BackingFile returns the backing file name the qcow2 header records,
	// as it records it ("" for none, and for a raw file).
	BackingFile() string
	// BackingFormat returns the backing format the qcow2 header extension
	// records ("" when absent, and for a raw file).
	BackingFormat() string
	// VirtualSize returns the disk size in bytes: the qcow2 header's, or
	// the size of a raw file or device.
	VirtualSize() int64
	// Granularity returns the allocation unit: a qcow2 file's subcluster
	// size with extended L2 entries, else its cluster size; 512 for raw.
	Granularity() int64
	// MappingSpan returns the guest bytes one L2 table of a qcow2 file
	// maps (a good window for walking Allocated page by page), 0 for raw.
	MappingSpan() int64
	// Busy reports whether another process held the file for writing
	// when it was opened (possible only with Options.ForceShare).
	Busy() bool
	// Allocated yields the guest ranges in [off, end) that the file itself
	// describes, ascending (see the package doc). Like a format reader it
	// takes no context: the caller checks its own between extents. Errors,
	// yielded once at the end: ErrBusy for a busy qcow2 layer; package
	// qcow2's for malformed tables, or an I/O error.
	Allocated(off, end int64) iter.Seq2[extent.Extent, error]
	// ReadAt fills p with the guest bytes [off, off+len(p)) the layer
	// itself holds and returns, ascending, the ranges it leaves to the
	// layer below (zeros in p): a qcow2 layer's unallocated clusters and
	// subclusters; none for a raw layer. Bytes past the end of a raw file
	// read as zeros. It is safe for concurrent use. Errors: ErrBusy for a
	// busy qcow2 layer (as Allocated); package qcow2's (ErrUnsupported for
	// an encrypted image, ErrCorrupt); those of opening an external data
	// file (ErrPath, fs errors); I/O errors.
	ReadAt(p []byte, off int64) ([]extent.Extent, error)
	// Zeros yields, ascending, the ranges of [off, end) that the layer
	// itself says read as zeros without reading them: a qcow2 layer's zero
	// clusters and subclusters, and its data clusters stored in holes of
	// the file (preallocation=metadata); a raw file's holes. Its own unallocated
	// ranges are not in it (they read from the layer below), nor is what
	// lies past the layer's end. Errors: those of Allocated.
	Zeros(off, end int64) iter.Seq2[extent.Extent, error]
	// Close closes the file. It is idempotent: the error of the close, if
	// any, is returned by the first call.
	Close() error
}

// Qcow2Layer is a Layer of format qcow2, which also hands out its decoded
// image (snapshots, bitmaps, views). The image reads the layer's file: it
// serves until Close.
type Qcow2Layer interface {
	Layer
	Image() *qcow2.Image
	// ReadViewAt is ReadAt for a view of the image (an internal
	// snapshot's): the view's own tables, whatever the file's write lock
	// (a snapshot's clusters are never written in place).
	ReadViewAt(v qcow2.View, p []byte, off int64) ([]extent.Extent, error)
	// AllocatedView and ZerosView are Allocated and Zeros for a view.
	AllocatedView(v qcow2.View, off, end int64) iter.Seq2[extent.Extent, error]
	ZerosView(v qcow2.View, off, end int64) iter.Seq2[extent.Extent, error]
}

// file is what every layer holds: the open file and what was seen of it
// when it was opened.
type file struct {
	path string
	f    *os.File
	fi   fs.FileInfo
	size int64 // of the file, or of the device
	busy bool

	once sync.Once
}

func (b *file) Path() string      { return b.path }
func (b *file) Stat() fs.FileInfo { return b.fi }
func (b *file) Busy() bool        { return b.busy }

func (b *file) Close() error {
	var err error
	b.once.Do(func() { err = b.f.Close() })
	return err
}
