package qemu

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/internal/qcow2"
)

// resolved is a point of the chain, found: the layer it is in, the view of
// that layer (for a qcow2 layer) and what the disk at it hands out.
type resolved struct {
	point    Point
	depth    int             // index of the layer in the chain
	snap     *qcow2.Snapshot // a snapshot of the top image, else nil
	view     qcow2.View      // the qcow2 view (zero for a raw layer)
	capacity int64
	id       string // the change-ID value the disk hands out; "" for active
	noID     string // why id is empty, and what to do instead
}

// noActiveID says why the active state of an image hands out no change ID.
func noActiveID(path string) string {
	return fmt.Sprintf("the active state of %s is still written, so it names no fixed point: make a snapshot or a bitmap for the backup (qemu-img snapshot -c, qemu-img bitmap --add) and open the disk at it, or open it with a new bitmap", path)
}

// active reports whether the point reads the active tables of its layer.
func (r *resolved) active() bool { return r.snap == nil }

// guardRE matches the re-creation guard "#<date-sec>.<date-nsec>" a snapshot's
// change ID ends with.
var guardRE = regexp.MustCompile(`^(.*)#([0-9]{1,10})\.([0-9]{1,9})$`)

// snapshotPointOf is the point a snapshot hands out: its name (its id when
// the name is empty) and its creation date, which a later snapshot of the
// same name does not share.
func snapshotPointOf(s *qcow2.Snapshot) Point {
	guard := fmt.Sprintf("#%d.%09d", s.DateSec, s.DateNsec)
	p := SnapshotPoint(s.Name + guard)
	if _, err := p.ChangeID(); s.Name == "" || err != nil {
		// No name, or one a change ID cannot hold (control characters, invalid
		// UTF-8): the id names the snapshot.
		p = SnapshotPoint(s.ID + guard)
	}
	return p
}

// snapLookup is the outcome of looking a snapshot reference up.
type snapLookup int

const (
	snapFound     snapLookup = iota
	snapMissing              // no snapshot of that name or id
	snapRecreated            // the name exists, but with another date
	snapAmbiguous            // several snapshots have that name
)

// findSnapshot resolves a snapshot reference in the top image: the exact
// name first, then the id; failing both, a reference ending in the guard
// "#SEC.NSEC" is resolved without it, and the date must match.
func (c *chain) findSnapshot(ref string) (*qcow2.Snapshot, snapLookup, string, error) {
	snaps, err := c.snapshotsNamed(ref)
	if err != nil {
		return nil, 0, "", wrap(err, "snapshot table of %s", c.path)
	}
	match := func(ref string, date func(*qcow2.Snapshot) bool) (*qcow2.Snapshot, snapLookup, int) {
		var byName []*qcow2.Snapshot
		for i := range snaps {
			if snaps[i].Name == ref {
				byName = append(byName, &snaps[i])
			}
		}
		cands := byName
		if len(cands) == 0 {
			for i := range snaps {
				if snaps[i].ID == ref {
					cands = append(cands, &snaps[i])
				}
			}
		}
		if len(cands) == 0 {
			return nil, snapMissing, 0
		}
		var ok []*qcow2.Snapshot
		for _, s := range cands {
			if date == nil || date(s) {
				ok = append(ok, s)
			}
		}
		switch len(ok) {
		case 0:
			return cands[0], snapRecreated, len(cands)
		case 1:
			return ok[0], snapFound, 1
		}
		return nil, snapAmbiguous, len(ok)
	}
	s, res, n := match(ref, nil)
	switch res {
	case snapFound:
		return s, snapFound, "", nil
	case snapAmbiguous:
		return nil, snapAmbiguous, fmt.Sprintf("%d snapshots of %s are named %q; name the snapshot by its id", n, c.path, ref), nil
	}
	m := guardRE.FindStringSubmatch(ref)
	if m == nil {
		return nil, snapMissing, fmt.Sprintf("%s has no snapshot named %q (nor with that id)", c.path, ref), nil
	}
	sec, _ := strconv.ParseUint(m[2], 10, 32)
	nsec, _ := strconv.ParseUint(m[3], 10, 32)
	s, res, n = match(m[1], func(s *qcow2.Snapshot) bool { return uint64(s.DateSec) == sec && uint64(s.DateNsec) == nsec })
	want := time.Unix(int64(sec), int64(nsec)).UTC().Format(time.RFC3339Nano)
	switch res {
	case snapFound:
		return s, snapFound, "", nil
	case snapAmbiguous:
		return nil, snapAmbiguous, fmt.Sprintf("%d snapshots of %s are named %q and dated %s", n, c.path, m[1], want), nil
	case snapRecreated:
		return nil, snapRecreated, fmt.Sprintf("snapshot %q of %s was deleted and re-created since %q was handed out (that one was taken at %s, the snapshot now has date %s)",
			m[1], c.path, ref, want, s.Date().UTC().Format(time.RFC3339Nano)), nil
	}
	return nil, snapMissing, fmt.Sprintf("%s has no snapshot %q (it was deleted)", c.path, m[1]), nil
}

// findLayer returns the index of the layer a layer point names: by absolute
// path, by the same file as the given path, or by the name the overlay
// records; -1 when none matches.
func (c *chain) findLayer(name string) int {
	if abs, err := filepath.Abs(name); err == nil {
		for i, l := range c.layers {
			if l.path == abs {
				return i
			}
		}
	}
	if fi, err := os.Stat(name); err == nil {
		for i, l := range c.layers {
			if os.SameFile(fi, l.fi) {
				return i
			}
		}
	}
	for i, l := range c.layers {
		if i > 0 && l.name == name {
			return i
		}
	}
	return -1
}

// lookupLayer resolves a layer reference as findLayer does; failing that, a
// reference ending in the guard "#SEC.NSEC" is resolved without it, and the
// file's modification time must match: a layer that was written to since (a
// commit into it, a rebase, a replaced file) no longer holds the state its
// change ID named.
func (c *chain) lookupLayer(ref string) (int, snapLookup, string) {
	if k := c.findLayer(ref); k >= 0 {
		return k, snapFound, ""
	}
	m := guardRE.FindStringSubmatch(ref)
	if m == nil {
		return -1, snapMissing, fmt.Sprintf("%q is not a file of the backing chain of %s", ref, c.path)
	}
	k := c.findLayer(m[1])
	if k < 0 {
		return -1, snapMissing, fmt.Sprintf("%q is not a file of the backing chain of %s", m[1], c.path)
	}
	sec, _ := strconv.ParseInt(m[2], 10, 64)
	nsec, _ := strconv.ParseInt(m[3], 10, 64)
	if mt := c.layers[k].fi.ModTime(); mt.Unix() != sec || int64(mt.Nanosecond()) != nsec {
		return k, snapRecreated, fmt.Sprintf("layer %s was modified since %q was handed out (modification time %s then, %s now: committed into, rebased or replaced)",
			c.layers[k].path, ref, time.Unix(sec, nsec).UTC().Format(time.RFC3339Nano), c.layers[k].fi.ModTime().UTC().Format(time.RFC3339Nano))
	}
	return k, snapFound, ""
}

// layerGuard is the guard of a layer's change ID: its modification time when
// opened.
func layerGuard(l *layerFile) string {
	t := l.fi.ModTime()
	return fmt.Sprintf("#%d.%09d", t.Unix(), t.Nanosecond())
}

// layerPoint is the point a layer hands out: its absolute path and its
// modification time.
func layerPoint(l *layerFile) Point { return LayerPoint(l.path + layerGuard(l)) }

// resolveAt resolves the point a disk is opened at.
func (c *chain) resolveAt(at Point) (*resolved, error) {
	top := c.top()
	switch at.Kind {
	case PointActive:
		return &resolved{point: at, view: top.q.ActiveView(), capacity: top.size, noID: noActiveID(c.path)}, nil
	case PointSnapshot:
		s, res, msg, err := c.findSnapshot(at.Name)
		if err != nil {
			return nil, err
		}
		switch res {
		case snapMissing, snapRecreated:
			return nil, errf(cbt.ErrNotFound, "%s", msg)
		case snapAmbiguous:
			return nil, errf(cbt.ErrInvalidArgument, "%s", msg)
		}
		v, err := top.q.SnapshotView(s)
		if err != nil {
			return nil, wrap(err, "snapshot %q of %s", at.Name, c.path)
		}
		p := snapshotPointOf(s)
		return &resolved{point: p, snap: s, view: v, capacity: v.DiskSize, id: p.String()}, nil
	case PointLayer:
		k, res, msg := c.lookupLayer(at.Name)
		if res != snapFound {
			return nil, errf(cbt.ErrNotFound, "%s", msg)
		}
		l := c.layers[k]
		r := &resolved{point: layerPoint(l), depth: k, capacity: l.size, id: layerPoint(l).String()}
		if k == 0 {
			// The top image is the active state: still written, no fixed point.
			r.id, r.noID = "", noActiveID(c.path)
		}
		if l.q != nil {
			r.view = l.q.ActiveView()
		}
		return r, nil
	case PointBitmap:
		return nil, errf(cbt.ErrInvalidArgument, "bitmap %q is a base only: it records the writes since it was created and names no state of the disk; open the active image and pass the bitmap as since", at.Name)
	}
	return nil, at.check()
}

// bitmapUnusable returns why a bitmap of the top image cannot serve as a base,
// "" when it can.
func bitmapUnusable(top *layerFile, b *qcow2.Bitmap) string {
	switch {
	case top.busy:
		return "a running qemu holds the image for writing: the bitmap on disk is stale (qemu keeps it in memory and marks it in-use); take a full backup, or use the libvirt checkpoint path for a running VM"
	case !top.q.BitmapsConsistent():
		return "the image's bitmaps are inconsistent (the bitmaps-consistent autoclear bit is clear: a program without bitmap support wrote to the image), so they may miss writes; take a full backup and create a new bitmap"
	case b.InUse():
		return "the bitmap is in-use: qemu crashed or still has the image open and did not save it, so it may miss writes; take a full backup and create a new bitmap (qemu-img bitmap --remove, then --add)"
	case !b.Auto():
		return "the bitmap is disabled (not auto): it stopped recording, so it cannot tell what changed since it was created; merge it with the bitmaps enabled after it (qemu-img bitmap --merge) or use an enabled bitmap, else take a full backup"
	}
	return ""
}

func clockDuration(ns uint64) time.Duration {
	if ns > math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(ns)
}

func clampInt64(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}
