package qemu

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/driver"
	"github.com/changedblocks/sdk/extent"
)

// dropTimeout bounds removing a point when its disk closes.
const dropTimeout = time.Minute

// madePoint is a point OpenNext made.
type madePoint struct {
	path     string
	name     string // of the bitmap or snapshot
	snapshot bool
	tool     string
}

// make runs qemu-img to make the point: a snapshot, or a bitmap of
// granularity gran with its tail canary (see canary.go) on a disk of size
// bytes.
func (m *madePoint) make(ctx context.Context, size, gran int64) error {
	if m.snapshot {
		return runQemuImg(ctx, m.tool, "snapshot", "-c", m.name, "--image-opts", qcow2Opts(m.path))
	}
	return m.makeBitmap(ctx, size, gran)
}

// drop removes the point, within dropTimeout. Its error says how to remove
// the point by hand.
func (m *madePoint) drop() error {
	ctx, cancel := context.WithTimeout(context.Background(), dropTimeout)
	defer cancel()
	if err := m.dropCtx(ctx); err != nil {
		return fmt.Errorf("%w (remove it by hand: %s)", err, m.byHand())
	}
	return nil
}

func (m *madePoint) byHand() string {
	if m.snapshot {
		return fmt.Sprintf("qemu-img snapshot -d %s %s", m.name, m.path)
	}
	return fmt.Sprintf("qemu-img bitmap --remove %s %s", m.path, m.name)
}

// nextDisk is the driver of a disk OpenNext made the point of. It is a
// driver.Lister only to learn whether a listing ran to its end: when none
// did by Close, the point is removed (a failed backup leaves nothing).
type nextDisk struct {
	*qdisk
	made *madePoint
	kept atomic.Bool // a listing ran to its end: the point is the backup's
}

func (d *nextDisk) BeginListing(ctx context.Context, _ driver.Request) (driver.Listing, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return nextListing{d}, nil
}

// nextListing pages through the qdisk and records a complete run.
type nextListing struct{ d *nextDisk }

func (l nextListing) ChangedExtents(ctx context.Context, req driver.Request, buf []extent.Extent) ([]extent.Extent, int64, error) {
	return l.d.qdisk.ChangedExtents(ctx, req, buf)
}

func (l nextListing) End(complete bool) error {
	if complete {
		l.d.kept.Store(true)
	}
	return nil
}

func (d *nextDisk) Close() error {
	err := d.qdisk.Close()
	if !d.kept.Load() {
		if derr := d.made.drop(); derr != nil {
			err = errors.Join(err, fmt.Errorf("qemu: no listing of %s ran to its end, so the point made for it was to be removed: %w", d.made.path, derr))
		}
	}
	return err
}

// DropPoint removes the bitmap or deletes the internal snapshot a change ID
// names, with qemu-img, from an image no running qemu holds: the rotation's
// last step, once a later point is stored (see OpenNext). A snapshot is
// deleted by its id, and only when its date guard matches (a snapshot made
// again under the same name is not the one named). Errors:
// cbt.ErrInvalidArgument for a change ID of another scheme or kind;
// cbt.ErrNotFound when the point is gone already; cbt.ErrBusy when a running
// qemu holds the image; cbt.ErrUnsupported when qemu-img is missing; those
// of OpenImage.
func DropPoint(ctx context.Context, path string, id cbt.ChangeID, next *NextOptions, opts *Options) error {
	fail := func(err error) error { return &cbt.Error{Op: "drop point", Disk: path, Err: err} }
	pt, err := PointOf(id)
	if err != nil {
		return fail(err)
	}
	if pt.Kind != PointBitmap && pt.Kind != PointSnapshot {
		return fail(errf(cbt.ErrInvalidArgument, "%s names no bitmap or snapshot to drop", id))
	}
	m, err := findDroppable(path, pt, next.tool(), opts)
	if err != nil {
		return fail(err)
	}
	if err := m.dropCtx(ctx); err != nil {
		return fail(err)
	}
	return nil
}

// findDroppable resolves the bitmap or snapshot a point names in the image.
func findDroppable(path string, pt Point, tool string, opts *Options) (*madePoint, error) {
	im, err := OpenImage(path, opts)
	if err != nil {
		return nil, err
	}
	defer im.Close()
	c := im.c
	if pt.Kind == PointSnapshot {
		r, err := c.existingSnapshot(pt.Name)
		if err != nil {
			return nil, err
		}
		// qemu-img deletes a snapshot by name: the name must be the one.
		snaps, err := c.snapshotsNamed(r.s.Name)
		if err != nil {
			return nil, wrap(err, "snapshot table of %s", c.path)
		}
		n := 0
		for _, s := range snaps {
			if s.Name == r.s.Name {
				n++
			}
		}
		if r.s.Name == "" || n > 1 {
			return nil, errf(cbt.ErrInvalidArgument, "snapshot id %s of %s has no name of its own (%d snapshots are named %q): qemu-img deletes snapshots by name; delete it with qemu (savevm/delvm by id) instead", r.s.ID, c.path, n, r.s.Name)
		}
		return &madePoint{path: c.path, name: r.s.Name, snapshot: true, tool: tool}, nil
	}
	name, g := splitGuards(pt.Name)
	bms, err := c.bitmapsNamed(name, pt.Name)
	if err != nil {
		return nil, wrap(err, "bitmap directory of %s", c.path)
	}
	for _, try := range []string{name, pt.Name} {
		for _, b := range bms {
			if b.Name == try && (try == pt.Name || g.hasSize) {
				return &madePoint{path: c.path, name: b.Name, tool: tool}, nil
			}
		}
	}
	return nil, errf(cbt.ErrNotFound, "%s has no bitmap %q (removed already?)", c.path, name)
}

// dropCtx removes the point under ctx.
func (m *madePoint) dropCtx(ctx context.Context) error {
	if m.snapshot {
		return runQemuImg(ctx, m.tool, "snapshot", "-d", m.name, "--image-opts", qcow2Opts(m.path))
	}
	return runQemuImg(ctx, m.tool, "bitmap", "-f", "qcow2", "--remove", m.path, m.name)
}

// PrunePoints removes the bitmaps and internal snapshots that OpenNext made
// under next's prefix (names of the form PREFIX-YYYYMMDDTHHMMSSZ-XXXXXXXX)
// but those the change IDs in keep name: after a backup stored its change
// ID, PrunePoints(ctx, path, []cbt.ChangeID{stored}, nil, nil) drops the
// previous point and any a failed run left. Points of other names (the
// user's own) are never touched. It returns the names removed, also when an
// error stops it. Errors: those of DropPoint.
func PrunePoints(ctx context.Context, path string, keep []cbt.ChangeID, next *NextOptions, opts *Options) ([]string, error) {
	fail := func(err error) error { return &cbt.Error{Op: "prune points", Disk: path, Err: err} }
	if err := next.check(); err != nil {
		return nil, fail(err)
	}
	kept := map[string]bool{}
	for _, id := range keep {
		pt, err := PointOf(id)
		if err != nil {
			return nil, fail(err)
		}
		name, _ := splitGuards(pt.Name)
		kept[pt.Kind.String()+":"+name] = true
	}
	im, err := OpenImage(path, opts)
	if err != nil {
		return nil, err
	}
	re := madeNameRE(next.prefix())
	drop, err := prunable(im, re, kept, next.tool())
	_ = im.Close()
	if err != nil {
		return nil, fail(err)
	}
	var removed []string
	for _, m := range drop {
		if err := m.dropCtx(ctx); err != nil {
			return removed, fail(err)
		}
		removed = append(removed, m.name)
	}
	return removed, nil
}

// prunable streams the bitmaps and snapshots of an image and returns those
// named as re matches and not kept.
func prunable(im *Image, re *regexp.Regexp, kept map[string]bool, tool string) ([]*madePoint, error) {
	var drop []*madePoint
	for b, err := range im.c.q.AllBitmaps() {
		if err != nil {
			return nil, wrap(err, "bitmap directory of %s", im.c.path)
		}
		if re.MatchString(b.Name) && !kept["bitmap:"+b.Name] {
			drop = append(drop, &madePoint{path: im.c.path, name: b.Name, tool: tool})
		}
	}
	for s, err := range im.c.q.AllSnapshots() {
		if err != nil {
			return nil, wrap(err, "snapshot table of %s", im.c.path)
		}
		if re.MatchString(s.Name) && !kept["snapshot:"+s.Name] {
			drop = append(drop, &madePoint{path: im.c.path, name: s.Name, snapshot: true, tool: tool})
		}
	}
	return drop, nil
}
