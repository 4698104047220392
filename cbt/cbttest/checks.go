package cbttest

import (
	"context"
	"fmt"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/extent"
)

// list collects a listing and checks the invariants every listing keeps:
// ascending, non-overlapping, non-adjacent, non-empty, inside the capacity
// and inside the range asked for.
func list(ctx context.Context, d *cbt.Disk, since cbt.ChangeID, o *cbt.ChangesOptions) ([]extent.Extent, error) {
	exts, err := cbt.Collect(d.Changes(ctx, since, o))
	if err != nil {
		return exts, err
	}
	lo, hi := int64(0), d.Capacity()
	if o != nil {
		lo = o.StartOffset
		if o.Length > 0 && o.Length < hi-lo {
			hi = lo + o.Length
		}
	}
	if err := checkShape(exts, lo, hi); err != nil {
		return exts, fmt.Errorf("listing of %s since %q: %w", d.Name(), since, err)
	}
	return exts, nil
}

// checkShape checks that exts are sorted, disjoint, non-adjacent, non-empty
// and inside [lo, hi).
func checkShape(exts []extent.Extent, lo, hi int64) error {
	prevEnd := int64(-1)
	for i, e := range exts {
		switch {
		case e.Length <= 0:
			return fmt.Errorf("extent %d %v is empty", i, e)
		case e.Offset < lo || e.End() > hi || !e.Valid():
			return fmt.Errorf("extent %d %v lies outside [%d, %d)", i, e, lo, hi)
		case e.Offset < prevEnd:
			return fmt.Errorf("extent %d %v overlaps or precedes the one before, which ends at %d", i, e, prevEnd)
		case e.Offset == prevEnd:
			return fmt.Errorf("extent %d %v touches the one before: adjacent extents must be merged", i, e)
		}
		prevEnd = e.End()
	}
	return nil
}

// uncovered returns the first part of want that no extent of got covers.
func uncovered(got, want []extent.Extent) (extent.Extent, bool) {
	miss := extent.SubtractSlices(extent.Normalize(append([]extent.Extent(nil), want...)), got)
	if len(miss) == 0 {
		return extent.Extent{}, false
	}
	return miss[0], true
}

// beyond returns the first part of got outside bound.
func beyond(got, bound []extent.Extent) (extent.Extent, bool) {
	extra := extent.SubtractSlices(got, bound)
	if len(extra) == 0 {
		return extent.Extent{}, false
	}
	return extra[0], true
}

// equal reports whether two normalized listings are the same.
func equal(a, b []extent.Extent) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// clipAll returns the parts of exts inside [lo, hi).
func clipAll(exts []extent.Extent, lo, hi int64) []extent.Extent {
	var out []extent.Extent
	for _, e := range exts {
		if c, ok := extent.ClipTo(e, lo, hi); ok {
			out = append(out, c)
		}
	}
	return out
}
