package qemu

import (
	"context"
	"fmt"

	"github.com/changedblocks/sdk/cbt/driver"
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

// ZeroExtents answers a page of the areas the disk reads as zeros at its
// point without reading data (imagelayer.ChainZeros over the point's
// layer, at its snapshot when the point is one, and the layers below): one
// window of the listing's page size at a time.
func (d *qdisk) ZeroExtents(ctx context.Context, req driver.Request, buf []extent.Extent) ([]extent.Extent, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	end := min(req.End, req.Offset+d.page)
	layers := make([]imagelayer.ChainLayer, 0, len(d.c.layers)-d.at.depth)
	for i, l := range d.c.layers[d.at.depth:] {
		if i == 0 && d.at.snap != nil {
			layers = append(layers, imagelayer.ChainView(l.Layer.(imagelayer.Qcow2Layer), d.at.view))
			continue
		}
		layers = append(layers, imagelayer.Chain(l.Layer))
	}
	z, err := imagelayer.ChainZeros(layers, req.Offset, end)
	if err != nil {
		return nil, 0, wrap(err, "zero areas of %s in [%d, %d)", d.c.path, req.Offset, end)
	}
	return append(buf[:0], z...), end, nil
}
