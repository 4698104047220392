package qemu

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/internal/hostfile"
	"github.com/changedblocks/sdk/internal/qcow2"
)

// resolved is a point of the chain, found: the layer it is in, the snapshot
// and its view for a snapshot of the top image, and what the disk at it
// hands out.
type resolved struct {
	point    Point
	depth    int             // index of the layer in the chain
	snap     *qcow2.Snapshot // a snapshot of the top image, else nil
	view     qcow2.View      // the snapshot's view (zero unless snap is set)
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

// snapshotPointOf is the point a snapshot hands out: its name (its id when
// the name is empty), its creation date, which a later snapshot of the same
// name does not share, and the guard of the files below the top image. It
// returns why the point has no change ID when the chain cannot be guarded.
func (c *chain) snapshotPointOf(s *qcow2.Snapshot) (Point, string) {
	cg, why := c.guardBelow(0)
	return snapshotPointGuarded(s, cg), why
}

// snapshotPointGuarded is the point of a snapshot with the chain guard cg.
func snapshotPointGuarded(s *qcow2.Snapshot, cg string) Point {
	guard := dateGuard(int64(s.DateSec), int64(s.DateNsec))
	p := SnapshotPoint(s.Name + guard + cg)
	if _, err := p.ChangeID(); s.Name == "" || err != nil {
		// No name, or one a change ID cannot hold (control characters, invalid
		// UTF-8): the id names the snapshot.
		p = SnapshotPoint(s.ID + guard + cg)
	}
	return p
}

// guardBelow returns the chain guard of the files below layer k, or "" and
// why there is none (a block device below, unless TrustUnguarded).
func (c *chain) guardBelow(k int) (string, string) {
	g, err := c.chainGuard(k, c.trust)
	if err != nil {
		return "", err.Error()
	}
	return g, ""
}

// snapLookup is the outcome of looking a snapshot reference up.
type snapLookup int

const (
	snapFound     snapLookup = iota
	snapMissing              // no snapshot of that name or id
	snapRecreated            // the name exists, but with another date
	snapAmbiguous            // several snapshots have that name
)

// snapRef is a snapshot reference, resolved.
type snapRef struct {
	s       *qcow2.Snapshot
	res     snapLookup
	msg     string // what went wrong, for res != snapFound
	name    string // the reference without its guards
	g       guards // the guards it carried (none: a bare name or id)
	guarded bool
}

// findSnapshot resolves a snapshot reference in the top image. A reference
// with guards ("NAME#SEC.NSEC#cCHAIN") is resolved by name (then id) without
// them, and the snapshot's date must match; a reference without (or whose
// guarded form names nothing, for a name that ends in '#' and digits) is an
// exact name, then an id, and is unguarded.
func (c *chain) findSnapshot(ref string) (snapRef, error) {
	snaps, err := c.snapshotsNamed(ref)
	if err != nil {
		return snapRef{}, wrap(err, "snapshot table of %s", c.path)
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
	name, g := splitGuards(ref)
	if g.hasDate && !g.hasSize {
		s, res, n := match(name, func(s *qcow2.Snapshot) bool { return int64(s.DateSec) == g.sec && int64(s.DateNsec) == g.nsec })
		r := snapRef{s: s, res: res, name: name, g: g, guarded: true}
		want := dateText(g.sec, g.nsec)
		switch res {
		case snapFound:
			return r, nil
		case snapAmbiguous:
			r.s, r.msg = nil, fmt.Sprintf("%d snapshots of %s are named %q and dated %s", n, c.path, name, want)
			return r, nil
		case snapRecreated:
			r.s, r.msg = nil, fmt.Sprintf("snapshot %q of %s was deleted and re-created since %q was handed out (that one was taken at %s, the snapshot now has date %s)",
				name, c.path, ref, want, s.Date().UTC().Format(time.RFC3339Nano))
			return r, nil
		}
		// A name that merely looks guarded is tried whole below.
		if s, res, _ := match(ref, nil); res == snapMissing {
			r.msg = fmt.Sprintf("%s has no snapshot %q (it was deleted)", c.path, name)
			return r, nil
		} else if res == snapFound {
			return snapRef{s: s, res: res, name: ref}, nil
		}
	}
	s, res, n := match(ref, nil)
	r := snapRef{s: s, res: res, name: ref}
	switch res {
	case snapAmbiguous:
		r.msg = fmt.Sprintf("%d snapshots of %s are named %q; name the snapshot by its id", n, c.path, ref)
	case snapMissing:
		r.msg = fmt.Sprintf("%s has no snapshot named %q (nor with that id)", c.path, ref)
	}
	return r, nil
}

// existingSnapshot resolves a reference to a snapshot that must exist:
// cbt.ErrNotFound when it does not (or was made again),
// cbt.ErrInvalidArgument when it names several.
func (c *chain) existingSnapshot(ref string) (snapRef, error) {
	r, err := c.findSnapshot(ref)
	if err != nil {
		return r, err
	}
	switch r.res {
	case snapMissing, snapRecreated:
		return r, errf(cbt.ErrNotFound, "%s", r.msg)
	case snapAmbiguous:
		return r, errf(cbt.ErrInvalidArgument, "%s", r.msg)
	}
	return r, nil
}

// findLayer returns the index of the layer a layer point names: by absolute
// path, by the same file as the given path, or by the name the overlay
// records; -1 when none matches.
func (c *chain) findLayer(name string) int {
	if abs, err := filepath.Abs(name); err == nil {
		for i, l := range c.layers {
			if l.Path() == abs {
				return i
			}
		}
	}
	if fi, err := os.Stat(name); err == nil {
		for i, l := range c.layers {
			if os.SameFile(fi, l.Stat()) {
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

// layerRef is a layer reference, resolved.
type layerRef struct {
	k       int // index in the chain, -1 when missing
	res     snapLookup
	msg     string
	g       guards
	guarded bool
}

// lookupLayer resolves a layer reference. A reference with guards
// ("PATH#SEC.NSEC#cCHAIN") is resolved as findLayer does without them, and
// the file's modification time must match: a layer that was written to since
// (a commit into it, a rebase, a replaced file) no longer holds the state its
// change ID named. A reference without guards is resolved whole and is
// unguarded.
func (c *chain) lookupLayer(ref string) layerRef {
	name, g := splitGuards(ref)
	if g.hasDate && !g.hasSize {
		if k := c.findLayer(name); k >= 0 {
			r := layerRef{k: k, res: snapFound, g: g, guarded: true}
			if mt := c.layers[k].Stat().ModTime(); mt.Unix() != g.sec || int64(mt.Nanosecond()) != g.nsec {
				r.res = snapRecreated
				r.msg = fmt.Sprintf("layer %s was modified since %q was handed out (modification time %s then, %s now: committed into, rebased or replaced)",
					c.layers[k].Path(), ref, dateText(g.sec, g.nsec), mt.UTC().Format(time.RFC3339Nano))
			}
			return r
		}
	}
	if k := c.findLayer(ref); k >= 0 {
		return layerRef{k: k, res: snapFound}
	}
	if g.hasDate {
		ref = name
	}
	return layerRef{k: -1, res: snapMissing, msg: fmt.Sprintf("%q is not a file of the backing chain of %s", ref, c.path)}
}

// layerPoint is the point a layer hands out: its absolute path, its
// modification time and the guard of the files below it; and why it has no
// change ID when those cannot be guarded.
func (c *chain) layerPoint(k int) (Point, string) {
	l := c.layers[k]
	t := l.Stat().ModTime()
	cg, why := c.guardBelow(k)
	if why == "" && !l.Stat().Mode().IsRegular() && !c.trust {
		why = fmt.Sprintf("layer %s is %s: it has no modification time that a commit into it would change", l.Path(), hostfile.Describe(l.Stat().Mode()))
	}
	return LayerPoint(l.Path() + dateGuard(t.Unix(), int64(t.Nanosecond())) + cg), why
}

// checkBase checks the guards of a base reference that was found: a bare
// reference is refused unless the caller trusts it, and the chain below
// layer k must be the one the reference was handed out on.
func (c *chain) checkBase(kind, ref string, guarded bool, g guards, k int) error {
	if !guarded {
		if c.trust {
			return nil
		}
		return errf(cbt.ErrChangeIDInvalid, "%s %q carries no guard: a bare name names whatever has that name now, which may have been deleted and made again since the backup (hiding every write before it); pass the change ID a disk handed out (it carries the guards), or set Options.TrustUnguarded if names are never reused; else take a full backup", kind, ref)
	}
	return c.checkChain(kind, ref, g, k)
}

// checkChain checks the chain guard of a reference against the files below
// layer k now. A reference handed out before chain guards existed is
// accepted only when nothing is below layer k (or the caller trusts it).
func (c *chain) checkChain(kind, ref string, g guards, k int) error {
	if g.chain == "" {
		if k == len(c.layers)-1 || c.trust {
			return nil
		}
		return errf(cbt.ErrChangeIDInvalid, "%s %q has no guard of the backing files below it (an older change ID): a commit into one of them or a rebase since would go unseen; take a full backup", kind, ref)
	}
	now, err := c.chainGuard(k, c.trust)
	if err != nil {
		return errf(cbt.ErrChangeIDInvalid, "%s %q: %v; take a full backup", kind, ref, err)
	}
	if now != "#c"+g.chain {
		return errf(cbt.ErrChangeIDInvalid, "the backing files below %s %q of %s changed since its change ID was handed out (a commit into one of them, a rebase, or a file replaced or copied): the point no longer reads as it did; take a full backup", kind, ref, c.path)
	}
	return nil
}

// resolveAt resolves the point a disk is opened at. A guarded reference
// whose point was made again, or whose files below changed, is gone:
// cbt.ErrNotFound.
func (c *chain) resolveAt(at Point) (*resolved, error) {
	top := c.top()
	switch at.Kind {
	case PointActive:
		return &resolved{point: at, capacity: top.VirtualSize(), noID: noActiveID(c.path)}, nil
	case PointSnapshot:
		r, err := c.existingSnapshot(at.Name)
		if err != nil {
			return nil, err
		}
		if r.guarded {
			if err := c.checkChain("snapshot", at.Name, r.g, 0); err != nil {
				return nil, asNotFound(err)
			}
		}
		v, err := c.q.SnapshotView(r.s)
		if err != nil {
			return nil, wrap(err, "snapshot %q of %s", at.Name, c.path)
		}
		p, why := c.snapshotPointOf(r.s)
		res := &resolved{point: p, snap: r.s, view: v, capacity: v.DiskSize, id: p.String(), noID: why}
		if why != "" {
			res.id = ""
		}
		return res, nil
	case PointLayer:
		lr := c.lookupLayer(at.Name)
		if lr.res != snapFound {
			return nil, errf(cbt.ErrNotFound, "%s", lr.msg)
		}
		if lr.guarded {
			if err := c.checkChain("layer", at.Name, lr.g, lr.k); err != nil {
				return nil, asNotFound(err)
			}
		}
		k := lr.k
		l := c.layers[k]
		p, why := c.layerPoint(k)
		r := &resolved{point: p, depth: k, capacity: l.VirtualSize(), id: p.String(), noID: why}
		if k == 0 {
			// The top image is the active state: still written, no fixed point.
			why = noActiveID(c.path)
		}
		if why != "" {
			r.id, r.noID = "", why
		}
		return r, nil
	case PointBitmap:
		return nil, errf(cbt.ErrInvalidArgument, "bitmap %q is a base only: it records the writes since it was made and names no state of the disk; open the active image (or use OpenNext, which makes a bitmap for this backup) and pass the bitmap as since", at.Name)
	}
	return nil, at.check()
}

// asNotFound turns a refused guard into the error of a point to open: the
// point it named is gone.
func asNotFound(err error) error {
	msg := strings.TrimPrefix(err.Error(), cbt.ErrChangeIDInvalid.Error()+": ")
	msg = strings.TrimSuffix(strings.TrimSuffix(msg, "; take a full backup"), "qemu: ")
	return fmt.Errorf("%w: %s", cbt.ErrNotFound, msg)
}

// bitmapUnusable returns why a bitmap of the top image cannot serve as a base,
// "" when it can.
func (c *chain) bitmapUnusable(b *qcow2.Bitmap) string {
	switch {
	case c.top().Busy():
		return "a running qemu holds the image for writing: the bitmap on disk is stale (qemu keeps it in memory and marks it in-use); take a full backup, or use the libvirt checkpoint path for a running VM"
	case !c.q.BitmapsConsistent():
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
