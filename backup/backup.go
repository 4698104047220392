package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/copier"
	"github.com/changedblocks/sdk/internal/qcow2write"
)

// Compression is how backup files compress their clusters.
type Compression string

// Compressions. Compressed clusters are read back by qemu as they are; a
// cluster that does not get smaller is stored as it is.
const (
	NoCompression Compression = ""
	Zlib          Compression = "zlib"
	Zstd          Compression = "zstd"
)

// Options tune a backup. A nil *Options means the defaults.
type Options struct {
	// ClusterSize of the backup file: a power of two from 512 bytes to
	// 2 MiB; default 64 KiB. Every copy is whole clusters of it.
	ClusterSize int64
	// Compression of the backup file's clusters; default none.
	Compression Compression
	// Workers, ChunkSize and Progress are the copy's (package copier).
	Workers   int
	ChunkSize int64
	Progress  func(copier.Progress)
	// NoChecksums leaves the per-chunk SHA-256 out of the manifest.
	NoChecksums bool
	// NoSync skips the syncs that make the file durable before its header
	// is written and before it is put in place: for callers that sync many
	// files at once themselves (and benchmarks against tools that do not
	// sync). Without a sync, a crash can leave a file at the backup's name
	// whose data did not reach the disk.
	NoSync bool
}

// Full writes everything allocated on d at its point into a new standalone
// qcow2 file at path, and its manifest beside it; it returns the manifest,
// whose ChangeID is what to store for the next incremental.
//
// Errors: cbt.ErrInvalidArgument when path exists or an option is bad;
// cbt.ErrUnsupported when d cannot be read (cbt.Disk.Readable); the
// listing's and the copy's errors (package copier); file system errors.
// Nothing is left at path or beside it after an error.
func Full(ctx context.Context, d *cbt.Disk, path string, opts *Options) (*Manifest, error) {
	return write(ctx, d, cbt.ChangeID{}, path, "", opts)
}

// Incremental writes what changed on d since the base into a new qcow2
// overlay at path whose backing file is prev, the newest backup of the
// chain (recorded relative to path's directory), and its manifest. prev's
// manifest must say that prev holds the point since names (its ChangeID),
// so that the chain restores the disk at d's point.
//
// Errors: those of Full; cbt.ErrNotFound when prev or its manifest is
// missing; cbt.ErrInvalidArgument when prev holds another point than
// since; cbt.ErrChangeIDInvalid when the platform cannot list since the
// base (take a Full backup).
func Incremental(ctx context.Context, d *cbt.Disk, since cbt.ChangeID, path, prev string, opts *Options) (*Manifest, error) {
	if since.IsZero() {
		return nil, fmt.Errorf("%w: backup: an incremental needs a base; take a Full backup instead", cbt.ErrInvalidArgument)
	}
	pm, err := ReadManifest(prev)
	if err != nil {
		return nil, err
	}
	if pm.ChangeID != since.String() {
		held := pm.ChangeID
		if held == "" {
			held = "no point that can be a base (" + pm.NoChangeID + ")"
		}
		return nil, fmt.Errorf("%w: backup: %s holds %s, not %s: an overlay of changes since %s on it would not restore the disk (take the incremental since the point the newest backup holds, or a Full backup)",
			cbt.ErrInvalidArgument, prev, held, since, since)
	}
	rel, err := filepath.Rel(filepath.Dir(absPath(path)), absPath(prev))
	if err != nil {
		return nil, fmt.Errorf("%w: backup: %s cannot be named relative to %s: %w", cbt.ErrInvalidArgument, prev, path, err)
	}
	return write(ctx, d, since, path, rel, opts)
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// write makes one backup file: a temporary file beside path, the copy,
// the tables, a sync, then the file and its manifest put in place.
func write(ctx context.Context, d *cbt.Disk, since cbt.ChangeID, path, backing string, opts *Options) (m *Manifest, err error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	comp, err := compression(o.Compression)
	if err != nil {
		return nil, err
	}
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("%w: backup: %s exists; a backup never replaces a file", cbt.ErrInvalidArgument, path)
	}
	if err := d.Readable(); err != nil {
		return nil, err
	}
	started := time.Now().UTC()
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.partial")
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	tmp := f.Name()
	res, cs, err := fill(ctx, d, since, f, backing, &o, comp)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("backup: close %s: %w", tmp, cerr)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return nil, err
	}
	m = newManifest(d, since, path, backing, &o, started, cs, res)
	if err := place(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return nil, err
	}
	if err := writeManifest(path, m); err != nil {
		_ = os.Remove(path)
		return nil, err
	}
	if o.NoSync {
		return m, nil
	}
	return m, syncDir(filepath.Dir(path))
}

// fill writes the qcow2 image into f: the copy of what d lists since the
// base, then the tables. It returns what the copy did and the cluster size.
func fill(ctx context.Context, d *cbt.Disk, since cbt.ChangeID, f *os.File, backing string, o *Options, comp qcow2write.Compression) (*copier.Result, int64, error) {
	size := max((d.Capacity()+511)/512*512, 512)
	qo := &qcow2write.Options{ClusterSize: o.ClusterSize, Compression: comp}
	if backing != "" {
		qo.BackingFile, qo.BackingFormat = backing, "qcow2"
	}
	var out io.WriterAt = f
	if o.NoSync {
		out = noSync{f}
	}
	w, err := qcow2write.New(out, size, qo)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: backup: %w", cbt.ErrInvalidArgument, err)
	}
	dst := &qcowDest{w: w, overlay: backing != ""}
	res, err := copier.Copy(ctx, d, since, dst, &copier.Options{
		Workers: o.Workers, ChunkSize: o.ChunkSize, Progress: o.Progress, Checksums: !o.NoChecksums,
	})
	if err != nil {
		_ = w.Close()
		return nil, 0, err
	}
	if err := w.Close(); err != nil {
		return nil, 0, fmt.Errorf("backup: finish %s: %w", f.Name(), err)
	}
	return res, w.ClusterSize(), nil
}

// newManifest describes a backup file that fill wrote.
func newManifest(d *cbt.Disk, since cbt.ChangeID, path, backing string, o *Options, started time.Time, cs int64, res *copier.Result) *Manifest {
	m := &Manifest{
		Version: ManifestVersion, File: filepath.Base(path), Backing: backing,
		Source: d.Name(), Scheme: d.Scheme(), Capacity: d.Capacity(),
		Started: started, Finished: time.Now().UTC(),
		ClusterSize: cs, Compression: string(o.Compression),
		Bytes: res.Done, ZeroBytes: res.Zero, Extents: res.Extents, Sums: res.Sums,
	}
	if !since.IsZero() {
		m.Since = since.String()
	}
	if id, err := d.ChangeID(); err == nil {
		m.ChangeID = id.String()
	} else {
		m.NoChangeID = err.Error()
	}
	if m.Extents == nil {
		m.Extents = []cbt.Extent{}
	}
	return m
}

// noSync hides a file's Sync from the qcow2 writer (which still reads its
// L2 tables back through it).
type noSync struct{ f *os.File }

func (n noSync) WriteAt(p []byte, off int64) (int, error) { return n.f.WriteAt(p, off) }
func (n noSync) ReadAt(p []byte, off int64) (int, error)  { return n.f.ReadAt(p, off) }

// place puts the finished file tmp at path without replacing anything
// there (a hard link, then the temporary name removed).
func place(tmp, path string) error {
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%w: backup: %s appeared while the backup ran; a backup never replaces a file", cbt.ErrInvalidArgument, path)
		}
		return fmt.Errorf("backup: put %s in place: %w", path, err)
	}
	return os.Remove(tmp)
}

// syncDir makes the directory's new entries durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("backup: sync %s: %w", dir, err)
	}
	return nil
}

func compression(c Compression) (qcow2write.Compression, error) {
	switch c {
	case NoCompression:
		return qcow2write.NoCompression, nil
	case Zlib:
		return qcow2write.Zlib, nil
	case Zstd:
		return qcow2write.Zstd, nil
	}
	return 0, fmt.Errorf("%w: backup: compression %q: want %q, %q or none", cbt.ErrInvalidArgument, c, Zlib, Zstd)
}
