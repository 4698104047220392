package qemu

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/internal/imagelayer"
	"github.com/changedblocks/sdk/internal/qcow2"
)

// MaxChainDepth bounds the number of backing files below an image; a deeper
// chain is refused with cbt.ErrUnsupported.
const MaxChainDepth = 64

// layerFile is one opened file of a backing chain: its Path is absolute.
type layerFile struct {
	imagelayer.Layer
	name string // as the overlay records it ("" for the top image)
}

// chain is the opened files of an image's backing chain, shared by the Image
// and every Disk opened from it: the files are closed when the last of them
// lets go.
type chain struct {
	path   string // absolute path of the top image
	layers []*layerFile
	q      *qcow2.Image // the top image's metadata (the top is qcow2)
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
		if err := l.Close(); err != nil && first == nil {
			first = closeError(l.Path(), err)
		}
	}
	return first
}

// closeError is the error of closing the file at p.
func closeError(p string, err error) error {
	return fmt.Errorf("%w: qemu: close %s: %w", cbt.ErrCorrupt, p, err)
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
	q, ok := top.Layer.(imagelayer.Qcow2Layer)
	if !ok {
		return nil, errf(cbt.ErrUnsupported, "not a qcow2 image: %s has no change tracking metadata", abs)
	}
	c.q = q.Image()
	for cur := top; cur.BackingFile() != ""; {
		if len(c.layers) > MaxChainDepth {
			return nil, errf(cbt.ErrUnsupported, "backing chain of %s is deeper than %d files", abs, MaxChainDepth)
		}
		name := cur.BackingFile()
		if hasProtocol(name) {
			return nil, errf(cbt.ErrUnsupported, "backing file %q of %s names a protocol (json:, nbd:, ...), not a local file; only local files are read", name, cur.Path())
		}
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(cur.Path()), p)
		}
		p = filepath.Clean(p)
		next, err := openBacking(p, name, cur, o)
		if err != nil {
			return nil, err
		}
		for _, l := range c.layers {
			if os.SameFile(l.Stat(), next.Stat()) {
				_ = next.Close()
				return nil, errf(cbt.ErrCorrupt, "backing chain of %s loops: %s (backing file %q of %s) is %s again", abs, p, name, cur.Path(), l.Path())
			}
		}
		c.layers = append(c.layers, next)
		c.log.Debug("qemu: backing file", "overlay", cur.Path(), "name", name, "path", p, "format", next.Format(), "depth", len(c.layers)-1)
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
	l, err := openLayer(p, overlay.BackingFormat(), fmt.Sprintf("backing file %q of %s", name, overlay.Path()), o)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: qemu: backing file %q of %s does not exist (looked for %s): %w", cbt.ErrNotFound, name, overlay.Path(), p, err)
		}
		return nil, wrap(err, "backing file %q of %s (%s)", name, overlay.Path(), p)
	}
	l.name = name
	return l, nil
}

// logger returns the logger to use; silent when none is set.
func (o *Options) logger() *slog.Logger {
	if o != nil && o.Logger != nil {
		return o.Logger
	}
	return slog.New(slog.DiscardHandler)
}
