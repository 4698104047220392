package qemu_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/changedblocks/sdk/cbt/cbttest"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/qemutools"
	"github.com/changedblocks/sdk/qemu"
	"github.com/stretchr/testify/require"
)

// gtSystem is what the ground truth checks: the public API, or (to prove the
// checks themselves) another lister.
type gtSystem interface {
	// snapshotID returns the change ID a backup taken at the snapshot stores.
	snapshotID(t testing.TB, path, name string) cbt.ChangeID
	// open returns the disk of the image at a point.
	open(t testing.TB, path string, at qemu.Point) gtDisk
}

type gtDisk interface {
	capacity() int64
	granularity() int64
	changes(since cbt.ChangeID) ([]extent.Extent, error)
	// changesIn lists [start, start+length) only (ChangesOptions.StartOffset
	// and Length).
	changesIn(since cbt.ChangeID, start, length int64) ([]extent.Extent, error)
	close()
}

// errGTSkip from a gtDisk means the lister does not serve that kind of base.
var errGTSkip = errors.New("not served by this lister")

// gtAPI is the system under test: qemu.Open and Disk.Changes.
type gtAPI struct{ opts *qemu.Options }

func (s gtAPI) snapshotID(t testing.TB, path, name string) cbt.ChangeID {
	t.Helper()
	d, err := qemu.Open(path, qemu.SnapshotPoint(name), s.opts)
	require.NoError(t, err, "open snapshot %s", name)
	defer d.Close()
	id := cbttest.MustChangeID(t, d)
	require.False(t, id.IsZero(), "snapshot %s hands out no change ID", name)
	require.Equal(t, qemu.Scheme, id.Scheme())
	return id
}

func (s gtAPI) open(t testing.TB, path string, at qemu.Point) gtDisk {
	t.Helper()
	d, err := qemu.Open(path, at, s.opts)
	require.NoError(t, err, "open %s at %s", path, at)
	return gtAPIDisk{d}
}

type gtAPIDisk struct{ d *cbt.Disk }

func (a gtAPIDisk) capacity() int64    { return a.d.Capacity() }
func (a gtAPIDisk) granularity() int64 { return a.d.Granularity() }
func (a gtAPIDisk) close()             { a.d.Close() }
func (a gtAPIDisk) changes(since cbt.ChangeID) ([]extent.Extent, error) {
	return a.changesIn(since, 0, 0)
}

func (a gtAPIDisk) changesIn(since cbt.ChangeID, start, length int64) ([]extent.Extent, error) {
	es, err := cbt.Collect(a.d.Changes(context.Background(), since, &cbt.ChangesOptions{StartOffset: start, Length: length}))
	if err == nil && !extent.IsNormalized(es) {
		err = fmt.Errorf("listing not normalised: %v", es)
	}
	return es, err
}

// gtReport collects the findings of one history: under a real test they are
// test errors; for the checks' own tests they are recorded.
type gtReport struct {
	t       testing.TB
	prefix  string
	record  bool
	fails   []string
	missed  int // findings of changed bytes left out
	extra   int // findings of bytes reported that no operation touched
	checked int // listings checked
	fpBytes int64
	repByte int64
}

func gtNewReport(t testing.TB, h *gtHistory) *gtReport {
	return &gtReport{t: t, prefix: fmt.Sprintf("workload %s seed %d (%s): ", h.w.name, h.seed, filepath.Base(h.path))}
}

func (r *gtReport) failf(format string, args ...any) {
	r.t.Helper()
	msg := r.prefix + fmt.Sprintf(format, args...)
	r.fails = append(r.fails, msg)
	if !r.record {
		r.t.Error(msg)
	}
}

func (r *gtReport) summary() {
	r.t.Logf("%d listings checked; %d bytes reported, of which %d unchanged (false positives); %d misses, %d out-of-bound findings",
		r.checked, r.repByte, r.fpBytes, r.missed, r.extra)
}

// gtFew formats at most four extents.
func gtFew(es []extent.Extent) string {
	if len(es) > 4 {
		return fmt.Sprintf("%v ... (%d extents, %d bytes)", es[:4], len(es), extent.TotalSlice(es))
	}
	return fmt.Sprintf("%v (%d bytes)", es, extent.TotalSlice(es))
}

// checkCovers reports the bytes of truth that the listing leaves out.
func (r *gtReport) checkCovers(h *gtHistory, what string, from, to int, rep, truth []extent.Extent) {
	r.t.Helper()
	missed := extent.SubtractSlices(truth, rep)
	if len(missed) == 0 {
		return
	}
	r.missed++
	msg := fmt.Sprintf("%s: UNDER-REPORT: changed bytes outside every reported extent: %s\n\treported %s", what, gtFew(missed), gtFew(rep))
	if from >= 0 {
		msg += fmt.Sprintf("\n\toperations touching %v:%s", missed[0], h.opsTouching(from, to, missed[0]))
	}
	r.failf("%s", msg)
}

// checkWithin reports the bytes of the listing outside bound.
func (r *gtReport) checkWithin(h *gtHistory, what string, from, to int, rep, bound []extent.Extent) {
	r.t.Helper()
	extra := extent.SubtractSlices(rep, bound)
	if len(extra) == 0 {
		return
	}
	r.extra++
	r.failf("%s: reported bytes outside the bound %s: %s", what, gtFew(bound), gtFew(extra))
}

// gtTouched returns the ranges the operations [from, to) touched, widened
// to blocks.
func gtTouched(h *gtHistory, from, to int, block int64) []extent.Extent {
	var out []extent.Extent
	for _, op := range h.ops[from:to] {
		if e, ok := extent.AlignOut(op.e, block, 0); ok {
			out = append(out, e)
		}
	}
	return extent.Normalize(out)
}

// checkHistory checks every listing of a history (see the top of
// groundtruth_test.go).
func checkHistory(t testing.TB, h *gtHistory, sys gtSystem, r *gtReport, nbd bool) {
	t.Helper()
	act := h.active()
	for bi, b := range h.points {
		if b.deleted || b.kind == qemu.PointBitmap {
			continue
		}
		at := qemu.Active()
		if b.kind == qemu.PointSnapshot {
			// The point the stored change ID names (with its guard).
			p, err := qemu.PointOf(b.id)
			require.NoError(t, err)
			at = p
		}
		d := gtPrefetch(sys.open(t, h.path, at), h, bi, r)
		if c := d.capacity(); c >= 0 && c != b.size {
			r.failf("at %s: capacity %d, want %d", b, c, b.size)
		}

		// Since every earlier snapshot (and bitmap, at the active state).
		for _, a := range h.points[:bi] {
			what := fmt.Sprintf("changes at %s since %s (%s)", b, a, a.id)
			switch {
			case a.kind == qemu.PointSnapshot && a.deleted:
				if b != act {
					continue
				}
				_, err := d.changes(a.id)
				if !errors.Is(err, cbt.ErrChangeIDInvalid) && !errors.Is(err, errGTSkip) {
					r.failf("%s: a deleted snapshot as base gave %v, want cbt.ErrChangeIDInvalid", what, err)
				}
			case a.kind == qemu.PointSnapshot:
				rep, err := d.changes(a.id)
				if errors.Is(err, errGTSkip) {
					continue
				}
				if err != nil {
					r.failf("%s: %v", what, err)
					continue
				}
				r.checked++
				truth := extent.ClipSlice(b.sums.Changed(a.sums), 0, b.size)
				r.repByte += extent.TotalSlice(rep)
				r.fpBytes += extent.TotalSlice(extent.SubtractSlices(rep, truth))
				r.checkCovers(h, what, a.ops, b.ops, rep, truth)
				r.checkWithin(h, what, a.ops, b.ops, rep, gtTouched(h, a.ops, b.ops, h.w.cs))
				if b == act {
					// The bare name and the id name the same snapshot.
					for _, bare := range []cbt.ChangeID{gtID(t, qemu.SnapshotPoint(a.name)), gtID(t, qemu.SnapshotPoint(a.qid))} {
						if bare == a.id {
							continue
						}
						rep2, err := d.changes(bare)
						if err != nil {
							r.failf("changes at %s since %s: %v", b, bare, err)
						} else if !extent.IsNormalized(rep2) || fmt.Sprint(rep2) != fmt.Sprint(rep) {
							r.failf("changes at %s since %s differ from since %s: %s vs %s", b, bare, a.id, gtFew(rep2), gtFew(rep))
						}
					}
				}
			case a.kind == qemu.PointBitmap && b == act:
				checkBitmap(t, h, d, a, r, nbd)
			}
		}

		// Since a later snapshot (backwards in time): refusing is allowed,
		// a listing must cover what differs.
		if b.kind == qemu.PointSnapshot && gtLiveSnapshots(h) <= 20 {
			for _, a := range h.points[bi+1:] {
				if a.kind != qemu.PointSnapshot || a.deleted {
					continue
				}
				what := fmt.Sprintf("changes at %s since the later %s (%s)", b, a, a.id)
				rep, err := d.changes(a.id)
				if errors.Is(err, errGTSkip) {
					continue
				}
				if err != nil {
					t.Logf("%s: %v", what, err)
					continue
				}
				r.checked++
				r.checkCovers(h, what, b.ops, a.ops, rep, extent.ClipSlice(b.sums.Changed(a.sums), 0, b.size))
				r.checkWithin(h, what, b.ops, a.ops, rep, gtTouched(h, b.ops, a.ops, h.w.cs))
			}
		}

		// Everything allocated.
		what := fmt.Sprintf("changes at %s since the zero change ID", b)
		rep, err := d.changes(cbt.ChangeID{})
		switch {
		case errors.Is(err, errGTSkip):
		case err != nil:
			r.failf("%s: %v", what, err)
		default:
			r.checked++
			r.checkCovers(h, what, -1, -1, rep, b.sums.NonZero())
			if b != act && !h.w.compress && len(h.layers) == 0 {
				// The image started empty: a snapshot allocates at most what
				// the operations before it touched.
				r.checkWithin(h, what, 0, b.ops, rep, gtTouched(h, 0, b.ops, h.w.cs))
			}
			if b == act {
				m := qemutools.Map(t, h.path)
				data := extent.ClipSlice(qemutools.MapWhere(m, func(e qemutools.MapEntry) bool { return e.Data }), 0, b.size)
				present := extent.ClipSlice(qemutools.MapWhere(m, func(e qemutools.MapEntry) bool { return e.Present }), 0, b.size)
				r.checkCovers(h, what+" (vs qemu-img map data)", -1, -1, rep, data)
				cs := h.w.cs
				for _, l := range h.layers {
					cs = max(cs, l.cs)
				}
				r.checkWithin(h, what+" (vs qemu-img map present, widened to clusters)", -1, -1, rep, extent.AlignSlice(append([]extent.Extent(nil), present...), cs, 0))
				if diff := extent.SubtractSlices(present, rep); len(diff) > 0 {
					t.Logf("%s: present in qemu-img map but not reported (zero:true areas: zero clusters, raw holes; they read as zeros): %s", what, gtFew(diff))
				}
			}
		}

		if len(h.layers) > 0 {
			checkLayers(t, h, b, d, r)
		}
		if b.kind == qemu.PointSnapshot && b == gtLastLiveSnapshot(h) {
			// A bitmap is never paired with a snapshot view.
			for _, a := range h.points {
				if a.kind == qemu.PointBitmap {
					if _, err := d.changes(a.id); err == nil {
						r.failf("changes at %s since %s: no error; a bitmap records the active state, not a snapshot's", b, a)
					}
					break
				}
			}
		}
		d.close()
	}
	if len(h.layers) > 1 {
		checkLayerDisks(t, h, sys, r)
	}
}

func gtLiveSnapshots(h *gtHistory) int {
	n := 0
	for _, p := range h.points {
		if p.kind == qemu.PointSnapshot && !p.deleted {
			n++
		}
	}
	return n
}

func gtLastLiveSnapshot(h *gtHistory) *gtPoint {
	var last *gtPoint
	for _, p := range h.points {
		if p.kind == qemu.PointSnapshot && !p.deleted {
			last = p
		}
	}
	return last
}

// checkBitmap checks the listing at the active state since a bitmap.
func checkBitmap(t testing.TB, h *gtHistory, d gtDisk, a *gtPoint, r *gtReport, nbd bool) {
	t.Helper()
	act := h.active()
	what := fmt.Sprintf("changes at active since %s (granularity %d)", a, a.gran)
	rep, err := d.changes(a.id)
	if errors.Is(err, errGTSkip) {
		return
	}
	if err != nil {
		r.failf("%s: %v", what, err)
		return
	}
	r.checked++
	gran := d.granularity()
	if nbd {
		// The listing is the dirty map, widened to the disk's granularity.
		dirty := extent.AlignSlice(qemutools.DirtyMap(t, h.path, a.name), gran, act.size)
		if fmt.Sprint(dirty) != fmt.Sprint(rep) {
			r.checkCovers(h, what+" (vs nbdinfo dirty map)", a.ops, act.ops, rep, dirty)
			r.checkWithin(h, what+" (vs nbdinfo dirty map, widened to the disk's granularity)", a.ops, act.ops, rep, dirty)
		}
	}
	// qemu bitmaps do not record a resize: below the smallest size the disk
	// had since the bitmap was added, every changed sector is dirty.
	lim := min(a.minSize, act.size)
	truth := act.sums.Truncate(lim).Changed(a.sums.Truncate(lim))
	r.checkCovers(h, what, a.ops, act.ops, rep, truth)
	r.checkWithin(h, what, a.ops, act.ops, rep, gtTouched(h, a.ops, act.ops, max(a.gran, gran)))
	r.repByte += extent.TotalSlice(rep)
	r.fpBytes += extent.TotalSlice(extent.SubtractSlices(rep, truth))
	if tail := extent.SubtractSlices(extent.ClipSlice(act.sums.Changed(a.sums), lim, act.size), rep); len(tail) > 0 {
		t.Logf("%s: %s changed past %d (the smallest size since the bitmap) and not dirty: qemu bitmaps do not record resizes", what, gtFew(tail), lim)
	}
}

// checkLayers checks the listings of disk d at point b (the active state or
// a live snapshot of a chain's top image) since each backing layer.
func checkLayers(t testing.TB, h *gtHistory, b *gtPoint, d gtDisk, r *gtReport) {
	t.Helper()
	var own []extent.Extent // what the top image's view allocates itself
	exact := true
	switch {
	case b == h.active():
		own = qemutools.MapPresent(t, h.path)
	case b.alloc != nil:
		own = b.alloc
	default:
		// Without qemu-nbd, what the operations before the snapshot touched
		// bounds its allocation.
		own, exact = gtTouched(h, 0, b.ops, h.w.cs), false
	}
	gtSinceLayers(t, h, r, d, b.String(), len(h.layers), b.sums, b.size, own, h.w.cs, exact, b == h.active())
}

// checkLayerDisks checks the listings at every backing layer that has layers
// below it since each of those.
func checkLayerDisks(t testing.TB, h *gtHistory, sys gtSystem, r *gtReport) {
	t.Helper()
	for i := 1; i < len(h.layers); i++ {
		l := h.layers[i]
		d := sys.open(t, h.path, qemu.LayerPoint(l.path))
		if c := d.capacity(); c >= 0 && c != l.size {
			r.failf("at layer %d: capacity %d, want %d", i, c, l.size)
		}
		at := fmt.Sprintf("layer %d %s", i, filepath.Base(l.path))
		gtSinceLayers(t, h, r, d, at, i, l.sums, l.size, qemutools.MapPresent(t, l.path), l.cs, true, false)
		rep, err := d.changes(cbt.ChangeID{})
		switch {
		case errors.Is(err, errGTSkip):
		case err != nil:
			r.failf("changes at %s since the zero change ID: %v", at, err)
		default:
			r.checked++
			r.checkCovers(h, fmt.Sprintf("changes at %s since the zero change ID", at), -1, -1, rep, l.sums.NonZero())
		}
		d.close()
	}
}

// gtSinceLayers checks the listings of disk d, at a point whose contents are
// sums (size bytes) and which sits on the layers [0, hi), since each of those
// layers. own is what the point's file allocates itself (exactly, or a bound
// when not exact), cs its cluster size.
func gtSinceLayers(t testing.TB, h *gtHistory, r *gtReport, d gtDisk, at string, hi int, sums qemutools.Sectors, size int64, own []extent.Extent, cs int64, exact, bothNames bool) {
	t.Helper()
	above := own
	cs = max(cs, d.granularity())
	cut := size
	for j := hi - 1; j >= 0; j-- {
		l := h.layers[j]
		// Beyond the smallest size from l up, the contents no longer come
		// from l's chain (a layer shorter than its overlay reads as zeros
		// past its end).
		cut = min(cut, l.size)
		names := []string{l.path}
		if bothNames {
			names = append(names, filepath.Base(l.path))
		}
		for _, name := range names {
			id := gtID(t, qemu.LayerPoint(name))
			what := fmt.Sprintf("changes at %s since layer %d %s (%s)", at, j, filepath.Base(l.path), id)
			rep, err := d.changes(id)
			if errors.Is(err, errGTSkip) {
				return
			}
			if err != nil {
				r.failf("%s: %v", what, err)
				continue
			}
			r.checked++
			want := extent.ClipSlice(extent.UnionSlices(above, []extent.Extent{extent.FromRange(cut, size)}), 0, size)
			if exact {
				r.checkCovers(h, what+" (vs what qemu-img map says the layers above allocate)", -1, -1, rep, want)
			}
			r.checkWithin(h, what+" (vs the layers above, widened to clusters)", -1, -1, rep, extent.AlignSlice(append([]extent.Extent(nil), want...), cs, size))
			if exact && fmt.Sprint(rep) != fmt.Sprint(want) {
				t.Logf("%s: listing is coarser than qemu-img map: %d bytes more", what, extent.TotalSlice(rep)-extent.TotalSlice(want))
			}
			truth := extent.ClipSlice(sums.Changed(l.sums), 0, size)
			r.checkCovers(h, what+" (vs the exports)", -1, -1, rep, truth)
			r.repByte += extent.TotalSlice(rep)
			r.fpBytes += extent.TotalSlice(extent.SubtractSlices(rep, truth))
		}
		if l.format == "qcow2" {
			above = extent.UnionSlices(above, qemutools.MapPresent(t, l.path))
		}
		cs = max(cs, l.cs)
	}
}

// gtPrefetch lists, two at a time on the one disk (a Disk is safe for
// concurrent use; under -race this checks it), every base the checks of point
// bi will ask for, and returns the disk answering from those results. For
// about a third of the bases it also lists the disk in two or three random
// ranges (ChangesOptions.StartOffset and Length) and checks that each is
// exactly the whole listing clipped to its range.
func gtPrefetch(d gtDisk, h *gtHistory, bi int, r *gtReport) gtDisk {
	var ids []cbt.ChangeID
	ids = append(ids, cbt.ChangeID{})
	for _, a := range h.points[:bi] {
		ids = append(ids, a.id)
	}
	res := make([]gtResult, len(ids))
	var wg sync.WaitGroup
	next := make(chan int)
	for range 2 {
		wg.Go(func() {
			for i := range next {
				res[i].es, res[i].err = d.changes(ids[i])
			}
		})
	}
	for i := range ids {
		next <- i
	}
	close(next)
	wg.Wait()
	p := &gtPrefetched{gtDisk: d, res: map[cbt.ChangeID]gtResult{}}
	for i, id := range ids {
		p.res[id] = res[i]
	}

	rng := rand.New(rand.NewPCG(h.seed, uint64(bi)))
	capacity := d.capacity()
	for i, id := range ids {
		if rng.IntN(3) != 0 || res[i].err != nil || capacity <= 0 {
			continue
		}
		cuts := []int64{0, rng.Int64N(capacity), rng.Int64N(capacity), capacity}
		slices.Sort(cuts)
		for k := range len(cuts) - 1 {
			start, end := cuts[k], cuts[k+1]
			if start == end {
				continue
			}
			got, err := d.changesIn(id, start, end-start)
			if errors.Is(err, errGTSkip) {
				break
			}
			want := extent.ClipSlice(append([]extent.Extent(nil), res[i].es...), start, end)
			if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
				r.failf("changes at %s since %s in [%d, %d): %s, %v; want the whole listing clipped: %s", h.points[bi], id, start, end, gtFew(got), err, gtFew(want))
			}
		}
	}
	return p
}

type gtResult struct {
	es  []extent.Extent
	err error
}

type gtPrefetched struct {
	gtDisk
	res map[cbt.ChangeID]gtResult
}

func (p *gtPrefetched) changes(since cbt.ChangeID) ([]extent.Extent, error) {
	if r, ok := p.res[since]; ok {
		return append([]extent.Extent(nil), r.es...), r.err
	}
	return p.gtDisk.changes(since)
}
