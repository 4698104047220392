package driver

import "context"

// Reader is an optional interface of a Disk whose data can be read at its
// point: the point every listing of the Disk ends at, for as long as the
// Disk is open. A driver holds whatever serves that point (an open image, a
// backup job, an attached volume) from its construction to Close, so that a
// listing and the reads of what it listed can never describe two different
// points.
type Reader interface {
	// ReadAt fills p with the bytes [off, off+len(p)) of the disk at its
	// point. cbt calls it with 0 <= off, 0 < len(p), off+len(p) <= Capacity
	// and len(p) <= Info.MaxRead when that is set, from several goroutines
	// at once, and never once Close has begun. It returns nil only when p is
	// filled. Errors carry one of this package's classes (ErrBusy for a
	// failure that a retry may cure, ErrCorrupt for data or metadata that
	// cannot be read, ErrUnsupported for an area the platform cannot serve,
	// such as an encrypted image); context errors are returned as they are.
	ReadAt(ctx context.Context, p []byte, off int64) error
}
