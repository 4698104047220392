package driver

import (
	"context"

	"github.com/changedblocks/sdk/extent"
)

// Lister is an optional interface of a Disk whose listing holds a resource
// across pages: a backup job and its NBD connection, a volume made for the
// listing. For such a driver cbt calls BeginListing once per run of Changes,
// before the first page, and asks the returned Listing for the pages of that
// run instead of the Disk. Disk.ChangedExtents is then not called by cbt.
type Lister interface {
	// BeginListing starts one run: req.Since is the base and [req.Offset,
	// req.End) the whole window the run will ask pages of. Errors carry one
	// of this package's classes; context errors are returned as they are.
	BeginListing(ctx context.Context, req Request) (Listing, error)
}

// Listing answers the pages of one run of Changes, under the rules of
// Disk.ChangedExtents.
type Listing interface {
	ChangedExtents(ctx context.Context, req Request, buf []extent.Extent) (exts []extent.Extent, next int64, err error)
	// End releases what the run holds. cbt calls it exactly once, on every
	// path: after the last page, after an error, when the caller stops
	// iterating early or panics, or when the context is cancelled. complete
	// is true only when the caller received the whole listing and no error:
	// the run reached the point the disk's change ID names (a driver that
	// made that point for the run may take it back otherwise). The run's
	// context may be done by then, so End bounds its own cleanup. An error
	// from End reaches the caller when the run had no other error and the
	// caller had not stopped.
	End(complete bool) error
}
