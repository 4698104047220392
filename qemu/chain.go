package qemu

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/internal/qcow2"
)

// MaxChainDepth bounds the number of backing files below an image; a deeper
// chain is refused with cbt.ErrUnsupported.
const MaxChainDepth = 64

// layerFile is one opened file of a backing chain.
type layerFile struct {
	path   string // absolute
	name   string // as the overlay records it ("" for the top image)
	format string // "qcow2" or "raw"
	f      *os.File
	fi     os.FileInfo
	q      *qcow2.Image // nil for a raw file
	size   int64        // virtual size
	// busy: a process holds the file for writing (opened with ForceShare).
	busy bool
}

// chain is the opened files of an image's backing chain, shared by the Image
// and every Disk opened from it: the files are closed when the last of them
// lets go.
type chain struct {
	path   string // absolute path of the top image
	layers []*layerFile
	log    *slog.Logger
	trust  bool // Options.TrustUnguarded

	mu   sync.Mutex
	refs int
}

// acquire takes a reference; false when the files are already closed.
func (c *chain) acquire() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.refs == 0 {
		return false
	}
	c.refs++
	return true
}

// release drops a reference and closes the files with the last one.
func (c *chain) release() error {
	c.mu.Lock()
	c.refs--
	last := c.refs == 0
	c.mu.Unlock()
	if !last {
		return nil
	}
	return c.closeFiles()
}

func (c *chain) closeFiles() error {
	var first error
	for _, l := range c.layers {
		if err := l.f.Close(); err != nil && first == nil {
			first = fmt.Errorf("%w: qemu: close %s: %w", cbt.ErrCorrupt, l.path, err)
		}
	}
	return first
}

func (c *chain) top() *layerFile { return c.layers[0] }

// openChain opens the image at path and its backing chain. On error every file
// opened so far is closed.
func openChain(path string, o *Options) (_ *chain, err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, errf(cbt.ErrInvalidArgument, "image path %q: %v", path, err)
	}
	c := &chain{path: abs, log: o.logger(), refs: 1, trust: o.TrustUnguarded}
	defer func() {
		if err != nil {
			_ = c.closeFiles()
		}
	}()
	top, err := openLayer(abs, "", "", o)
	if err != nil {
		return nil, err
	}
	c.layers = append(c.layers, top)
	if top.format != "qcow2" {
		return nil, errf(cbt.ErrUnsupported, "not a qcow2 image: %s has no change tracking metadata", abs)
	}
	for cur := top; cur.q != nil && cur.q.BackingFile != ""; {
		if len(c.layers) > MaxChainDepth {
			return nil, errf(cbt.ErrUnsupported, "backing chain of %s is deeper than %d files", abs, MaxChainDepth)
		}
		name := cur.q.BackingFile
		if hasProtocol(name) {
			return nil, errf(cbt.ErrUnsupported, "backing file %q of %s names a protocol (json:, nbd:, ...), not a local file; only local files are read", name, cur.path)
		}
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(cur.path), p)
		}
		p = filepath.Clean(p)
		next, err := openBacking(p, name, cur, o)
		if err != nil {
			return nil, err
		}
		for _, l := range c.layers {
			if os.SameFile(l.fi, next.fi) {
				_ = next.f.Close()
				return nil, errf(cbt.ErrCorrupt, "backing chain of %s loops: %s (backing file %q of %s) is %s again", abs, p, name, cur.path, l.path)
			}
		}
		c.layers = append(c.layers, next)
		c.log.Debug("qemu: backing file", "overlay", cur.path, "name", name, "path", p, "format", next.format, "depth", len(c.layers)-1)
		cur = next
	}
	return c, nil
}

// hasProtocol reports whether qemu would read a backing file name as a
// protocol: a colon before the first slash ("json:{...}", "nbd:host:port",
// "file:x").
func hasProtocol(name string) bool {
	i := strings.IndexByte(name, ':')
	return i > 0 && !strings.Contains(name[:i], "/")
}

// openBacking opens the backing file p that overlay names name, with the
// format the overlay records, else the probed one.
func openBacking(p, name string, overlay *layerFile, o *Options) (*layerFile, error) {
	l, err := openLayer(p, overlay.q.BackingFormat, fmt.Sprintf("backing file %q of %s", name, overlay.path), o)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("%w: qemu: backing file %q of %s does not exist (looked for %s): %w", cbt.ErrNotFound, name, overlay.path, p, err)
		}
		return nil, wrap(err, "backing file %q of %s (%s)", name, overlay.path, p)
	}
	l.name = name
	return l, nil
}

// openLayer opens one file of the chain as format ("qcow2", "raw", or "" to
// probe), checking qemu's write lock; backing names a backing file and its
// overlay for messages, "" for a path the caller passed (see openFile). The
// top image (format "") that is not qcow2 is returned as "raw" for the
// caller to refuse. A missing file is the error of the file system
// (os.IsNotExist), for the caller to name.
func openLayer(p, format, backing string, o *Options) (l *layerFile, err error) {
	f, fi, size, err := openFile(p, backing)
	if err != nil {
		if os.IsNotExist(err) || hasClass(err) {
			return nil, err
		}
		return nil, wrap(err, "open %s", p)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
		}
	}()
	l = &layerFile{path: p, f: f, fi: fi}
	switch format {
	case "":
		magic := make([]byte, len(qcow2.Magic))
		if _, err := f.ReadAt(magic, 0); err != nil && err != io.EOF {
			return nil, wrap(err, "read %s", p)
		}
		format = "raw"
		if bytes.Equal(magic, []byte(qcow2.Magic)) {
			format = "qcow2"
		}
	case "qcow2", "raw":
	default:
		return nil, errf(cbt.ErrUnsupported, "%s has format %q; only qcow2 and raw backing files are read", p, format)
	}
	l.format = format
	if format == "qcow2" {
		q, err := qcow2.Open(f, size, &qcow2.Options{L2CacheBytes: o.L2CacheBytes})
		if err != nil {
			return nil, wrap(err, "%s", p)
		}
		l.q = q
		l.size = int64(q.Header.Size)
	} else {
		l.size = size
	}
	held, err := writeHeld(f)
	if err != nil {
		return nil, wrap(err, "check the locks of %s", p)
	}
	o.logger().Debug("qemu: lock check", "path", p, "format", format, "held_for_writing", held)
	if held {
		if !o.ForceShare {
			return nil, errf(cbt.ErrBusy, "%s is in use: a running qemu (or qemu-nbd, qemu-img) holds it for writing; stop the VM, use the libvirt checkpoint path for a running VM, or set Options.ForceShare to read its snapshot tables", p)
		}
		l.busy = true
		o.logger().Warn("qemu: image is held for writing by another process; opened with ForceShare: its active tables and bitmaps are not reliable and will be refused", "path", p)
	}
	return l, nil
}

// logger returns the logger to use; silent when none is set.
func (o *Options) logger() *slog.Logger {
	if o != nil && o.Logger != nil {
		return o.Logger
	}
	return slog.New(slog.DiscardHandler)
}
