package rhv

import (
	"context"
	"fmt"

	"github.com/changedblocks/sdk/cbt/driver"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/imagelayer"
)

// volMaxRead is the most bytes one driver read asks for (cbt cuts longer
// reads).
const volMaxRead = 8 << 20

// ReadAt reads the disk at its volume: that volume's own bytes, what it
// leaves unallocated from the volumes below it, zeros below the base and
// past a volume's end, as qemu reads the chain (imagelayer.ReadChain). A
// volume a running qemu holds for writing (the leaf of a running VM) is
// refused with cbt.ErrBusy. It is what cbt.Disk.ReadAt calls.
func (d *volumeDisk) ReadAt(ctx context.Context, p []byte, off int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	below := make([]imagelayer.Layer, 0, d.at)
	for j := d.at - 1; j >= 0; j-- {
		below = append(below, d.layers[j].f)
	}
	top := d.layers[d.at]
	if err := imagelayer.ReadChain(top.f.ReadAt, below, p, off); err != nil {
		return driver.WithClass(layerClass(err), fmt.Errorf("rhv: read volume %s of image %s at [%d, +%d): %w", top.vol.ID, top.vol.Image, off, len(p), err))
	}
	return nil
}

// ZeroExtents answers a page of the areas the disk reads as zeros at its
// volume without reading data (imagelayer.ChainZeros over the volume and
// those below it), one window of the listing's page size at a time.
func (d *volumeDisk) ZeroExtents(ctx context.Context, req driver.Request, buf []extent.Extent) ([]extent.Extent, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	end := req.End
	if d.page > 0 && d.page < end-req.Offset {
		end = req.Offset + d.page
	}
	layers := make([]imagelayer.ChainLayer, 0, d.at+1)
	for j := d.at; j >= 0; j-- {
		layers = append(layers, imagelayer.Chain(d.layers[j].f))
	}
	z, err := imagelayer.ChainZeros(layers, req.Offset, end)
	if err != nil {
		top := d.layers[d.at]
		return nil, 0, driver.WithClass(layerClass(err), fmt.Errorf("rhv: zero areas of volume %s of image %s in [%d, %d): %w", top.vol.ID, top.vol.Image, req.Offset, end, err))
	}
	return append(buf[:0], z...), end, nil
}
