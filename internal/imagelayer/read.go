package imagelayer

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/hostfile"
	"github.com/changedblocks/sdk/internal/qcow2"
)

// ReadAt fills p with the bytes of a raw file: the guest disk byte for
// byte, zeros past its end. A raw layer leaves nothing to a layer below.
func (r *rawLayer) ReadAt(p []byte, off int64) ([]extent.Extent, error) {
	if off < 0 {
		return nil, fmt.Errorf("%s: read at negative offset %d", r.path, off)
	}
	n, err := r.f.ReadAt(p, off)
	if n < len(p) {
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("read %s at %d: %w", r.path, off+int64(n), err)
		}
		clear(p[n:])
	}
	return nil, nil
}

// ReadAt reads the active tables' data; a busy file's tables on disk are
// stale, so it is refused as Allocated is.
func (l *qcow2Layer) ReadAt(p []byte, off int64) ([]extent.Extent, error) {
	if l.busy {
		return nil, l.staleErr()
	}
	return l.ReadViewAt(l.q.ActiveView(), p, off)
}

// ReadViewAt reads a view (the active one, or an internal snapshot's),
// its data from the file or from the external data file the header names
// (opened on the first read, relative to the image's directory as qemu
// opens it, through package hostfile).
func (l *qcow2Layer) ReadViewAt(v qcow2.View, p []byte, off int64) ([]extent.Extent, error) {
	var data io.ReaderAt = l.f
	if l.q.Header.ExternalDataFile() {
		df, err := l.dataFile()
		if err != nil {
			return nil, err
		}
		data = df
	}
	un, err := l.q.ReadView(v, p, off, data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", l.path, err)
	}
	return un, nil
}

// dataFile opens the external data file once.
func (l *qcow2Layer) dataFile() (*os.File, error) {
	l.dataOnce.Do(func() {
		name := l.q.DataFile
		if name == "" {
			l.dataErr = fmt.Errorf("%s: %w: the header says the data is in an external file but names none", l.path, qcow2.ErrCorrupt)
			return
		}
		if !filepath.IsAbs(name) {
			name = filepath.Join(filepath.Dir(l.path), name)
		}
		f, _, _, err := hostfile.Open(name, hostfile.Regular|hostfile.BlockDevice)
		if err != nil {
			l.dataErr = fmt.Errorf("%s: external data file: %w", l.path, asPathError(err))
			return
		}
		l.data = f
	})
	return l.data, l.dataErr
}

// Close closes the external data file, if it was opened, and the file.
func (l *qcow2Layer) Close() error {
	err := l.file.Close()
	l.closeData.Do(func() {
		l.dataOnce.Do(func() { l.dataErr = fmt.Errorf("%s: %w", l.path, os.ErrClosed) })
		if l.data != nil {
			if cerr := l.data.Close(); err == nil {
				err = cerr
			}
		}
	})
	return err
}

// dataState is the external data file of a qcow2 layer.
type dataState struct {
	dataOnce  sync.Once
	data      *os.File
	dataErr   error
	closeData sync.Once
}

// ReadFunc reads a layer's own bytes as Layer.ReadAt does.
type ReadFunc func(p []byte, off int64) ([]extent.Extent, error)

// ReadChain fills p with the guest bytes [off, off+len(p)) of a backing
// chain as qemu reads it: top's own bytes, what top leaves unallocated from
// below[0], what that leaves from below[1], and so on; zeros where the
// bottom layer leaves a range, and past a layer's end. top is usually a
// Layer's ReadAt, or a Qcow2Layer's ReadViewAt for an internal snapshot.
// Errors: those of the layers' reads, as they are.
func ReadChain(top ReadFunc, below []Layer, p []byte, off int64) error {
	un, err := top(p, off)
	if err != nil || len(below) == 0 {
		return err
	}
	for _, e := range un {
		if err := ReadChain(below[0].ReadAt, below[1:], p[e.Offset-off:e.End()-off], e.Offset); err != nil {
			return err
		}
	}
	return nil
}
