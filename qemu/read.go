package qemu

import (
	"context"
	"fmt"

	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/imagelayer"
)

// maxRead is the most bytes one driver read asks for (cbt cuts longer
// reads): a qcow2 read decompresses at most a few clusters per call.
const maxRead = 8 << 20

// ReadAt reads the disk at its point: the point's layer through its active
// tables (or the snapshot's tables), what it leaves unallocated from the
// layers below, zeros past a layer's end and below the bottom one, as qemu
// reads the chain (imagelayer.ReadChain). It is what cbt.Disk.ReadAt calls.
func (d *qdisk) ReadAt(ctx context.Context, p []byte, off int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l := d.c.layers[d.at.depth]
	top := imagelayer.ReadFunc(l.ReadAt)
	if d.at.snap != nil {
		q := l.Layer.(imagelayer.Qcow2Layer)
		top = func(p []byte, off int64) ([]extent.Extent, error) { return q.ReadViewAt(d.at.view, p, off) }
	}
	below := make([]imagelayer.Layer, 0, len(d.c.layers)-d.at.depth-1)
	for _, b := range d.c.layers[d.at.depth+1:] {
		below = append(below, b.Layer)
	}
	if err := imagelayer.ReadChain(top, below, p, off); err != nil {
		return wrap(err, "read %s at [%d, +%d)", d.c.path, off, len(p))
	}
	return nil
}

// noRead checks that every layer a point at depth reads can be read; it
// returns why not, or "".
func (c *chain) noRead(depth int) string {
	for _, l := range c.layers[depth:] {
		if q, ok := l.Layer.(imagelayer.Qcow2Layer); ok && q.Image().Header.CryptMethod != 0 {
			return fmt.Sprintf("%s is encrypted (%v): the SDK reads no encrypted image; read it with qemu-img or qemu-nbd given the key", l.Path(), q.Image().Header.CryptMethod)
		}
	}
	return ""
}
