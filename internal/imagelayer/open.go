package imagelayer

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/changedblocks/sdk/internal/hostfile"
	"github.com/changedblocks/sdk/internal/qcow2"
)

// Options tune Open; nil means the defaults.
type Options struct {
	// L2CacheBytes bounds the L2 table cache of a qcow2 layer (0: the
	// default of package qcow2).
	L2CacheBytes int64
	// ForceShare opens a file another process holds for writing; Busy
	// then reports it, and Allocated of a qcow2 layer refuses its stale
	// active tables.
	ForceShare bool
}

// Open opens the image file at path (a regular file or a block device) as
// format: FormatQcow2, FormatRaw, or "" to probe. Its backing file is not
// opened. It never blocks opening the file and never writes. Errors (see
// the package doc): ErrPath for a path that names no image file; the file
// system's error for one that cannot be opened (fs.ErrNotExist,
// fs.ErrPermission), as it is; ErrFormat for another format; qcow2's
// errors for a file that is not qcow2 (with format "qcow2"), malformed or
// unsupported metadata; ErrBusy when another process holds the file for
// writing and opts.ForceShare is not set; an I/O error, with what was
// being read.
func Open(path, format string, opts *Options) (_ Layer, err error) {
	if opts == nil {
		opts = &Options{}
	}
	f, fi, size, err := hostfile.Open(path, hostfile.Regular|hostfile.BlockDevice)
	if err != nil {
		return nil, asPathError(err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
		}
	}()
	if format == "" {
		if format, err = probe(f, path); err != nil {
			return nil, err
		}
	}
	base := &file{path: path, f: f, fi: fi, size: size}
	l, err := layerOf(base, format, opts)
	if err != nil {
		return nil, err
	}
	if base.busy, err = writeHeld(f); err != nil {
		return nil, fmt.Errorf("check the locks of %s: %w", path, err)
	}
	if base.busy && !opts.ForceShare {
		return nil, fmt.Errorf("%s: %w", path, ErrBusy)
	}
	return l, nil
}

// layerOf makes the layer of an open file of the given format, decoding a
// qcow2 file's metadata.
func layerOf(base *file, format string, opts *Options) (Layer, error) {
	switch format {
	case FormatRaw:
		return &rawLayer{file: base}, nil
	case FormatQcow2:
		q, err := qcow2.Open(base.f, base.size, &qcow2.Options{L2CacheBytes: opts.L2CacheBytes})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", base.path, err)
		}
		return &qcow2Layer{file: base, q: q}, nil
	}
	return nil, fmt.Errorf("%w %q of %s: only raw and qcow2 are read", ErrFormat, format, base.path)
}

// probe returns the format of a file: qcow2 when it starts with the qcow2
// magic, else raw.
func probe(f *os.File, path string) (string, error) {
	magic := make([]byte, len(qcow2.Magic))
	if _, err := f.ReadAt(magic, 0); err != nil && err != io.EOF {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	if bytes.Equal(magic, []byte(qcow2.Magic)) {
		return FormatQcow2, nil
	}
	return FormatRaw, nil
}
