package driver

import (
	"context"

	"github.com/changedblocks/sdk/extent"
)

// Zeroer is an optional interface of a Disk that knows, without reading
// data, which areas read as zeros at its point: qcow2 zero clusters,
// unallocated areas with nothing below them, holes of a raw file, an NBD
// server's zero extents.
type Zeroer interface {
	// ZeroExtents answers one page of "which areas of [req.Offset,
	// req.End) read as zeros", under the rules of Disk.ChangedExtents
	// (req.Since is empty). An area reported must read as zeros at the
	// disk's point: a copy engine writes zeros there without reading, so a
	// wrong one loses data. An area not reported may read as zeros too.
	ZeroExtents(ctx context.Context, req Request, buf []extent.Extent) (exts []extent.Extent, next int64, err error)
}
