package cbttest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/extent"
)

// RunConformanceTests runs the whole suite against the platform h makes
// disks of, as subtests of t.
func RunConformanceTests(t *testing.T, h Harness) {
	cfg := h.Config().withDefaults()
	s := &suite{h: h, cfg: cfg}
	t.Run("Metadata", s.testMetadata)
	t.Run("ZeroSinceCoversEverything", s.testZeroSince)
	t.Run("SinceItselfIsEmpty", s.testSinceItself)
	t.Run("OtherScheme", s.testOtherScheme)
	t.Run("Reset", s.testReset)
	t.Run("DeletedBase", s.testDeleted)
	t.Run("RecreatedBase", s.testRecreated)
	t.Run("SinceLaterPoint", s.testSinceLater)
	t.Run("ForeignBase", s.testForeign)
	t.Run("Cancel", s.testCancel)
	t.Run("Closed", s.testClosed)
	t.Run("Randomized", s.testRandomized)
}

type suite struct {
	h        Harness
	cfg      Config
	readable int // readableUnknown, readableYes or readableNo: see learnReadable
}

func ctxFor(t testing.TB) context.Context { return t.Context() }

func (s *suite) write(t testing.TB, tg Target, e extent.Extent) extent.Extent {
	t.Helper()
	if err := tg.Write(ctxFor(t), e.Offset, e.Length); err != nil {
		t.Fatalf("write %v: %v", e, err)
	}
	return e
}

// first is a write of one WriteAlign unit at the start of the disk.
func (s *suite) first() extent.Extent {
	return extent.Extent{Offset: 0, Length: s.cfg.WriteAlign}
}

func (s *suite) point(t testing.TB, tg Target) cbt.ChangeID {
	t.Helper()
	id, err := tg.ChangePoint(ctxFor(t))
	if err != nil {
		t.Fatalf("change point: %v", err)
	}
	if id.IsZero() {
		t.Fatalf("change point returned the zero change ID")
	}
	return id
}

func (s *suite) open(t testing.TB, tg Target, at cbt.ChangeID) *cbt.Disk {
	t.Helper()
	d, err := tg.Open(ctxFor(t), at)
	if err != nil {
		t.Fatalf("open at %q: %v", at, err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("close %s: %v", d.Name(), err)
		}
	})
	return d
}

// precision is the bound on false positives for d.
func (s *suite) precision(d *cbt.Disk) int64 {
	if s.cfg.Precision > 0 {
		return s.cfg.Precision
	}
	return d.Granularity()
}

// expect checks one listing against the ranges written in between: all
// covered, nothing beyond them widened to the precision.
func (s *suite) expect(t testing.TB, d *cbt.Disk, since cbt.ChangeID, written []extent.Extent, what string) []extent.Extent {
	t.Helper()
	got, err := list(ctxFor(t), d, since, nil)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if miss, ok := uncovered(got, written); ok {
		t.Fatalf("%s: UNDER-REPORT: written bytes %v are not inside any reported extent (reported %d extents: %s)",
			what, miss, len(got), short(got))
	}
	bound := extent.AlignSlice(extent.Normalize(append([]extent.Extent(nil), written...)), s.precision(d), d.Capacity())
	if extra, ok := beyond(got, bound); ok {
		t.Fatalf("%s: reported %v, which is outside the written ranges widened to %d bytes", what, extra, s.precision(d))
	}
	return got
}

func (s *suite) testMetadata(t *testing.T) {
	tg := s.h.NewTarget(t)
	s.write(t, tg, s.first())
	p := s.point(t, tg)
	d := s.open(t, tg, p)
	if d.Capacity() != s.cfg.Capacity {
		t.Errorf("Capacity() = %d, want %d", d.Capacity(), s.cfg.Capacity)
	}
	if d.Granularity() < 1 {
		t.Errorf("Granularity() = %d, want >= 1", d.Granularity())
	}
	if got, err := d.ChangeID(); err != nil || got != p {
		t.Errorf("ChangeID() = %q, %v; want the point it was opened at, %q", got, err, p)
	}
	back, err := cbt.ParseChangeID(p.String())
	if err != nil || back != p {
		t.Errorf("change ID %q does not round-trip: %q, %v", p, back, err)
	}
}

func (s *suite) testZeroSince(t *testing.T) {
	tg := s.h.NewTarget(t)
	rng := rand.New(rand.NewPCG(s.cfg.Seed, 0x2e0))
	var all []extent.Extent
	for range 6 {
		all = append(all, s.write(t, tg, s.randomWrite(rng)))
	}
	p := s.point(t, tg)
	all = append(all, s.write(t, tg, s.first()), s.write(t, tg, s.lastBlock()))
	q := s.point(t, tg)
	s.expect(t, s.open(t, tg, q), cbt.ChangeID{}, all, "zero since at the second point")
	_ = p
}

func (s *suite) testSinceItself(t *testing.T) {
	tg := s.h.NewTarget(t)
	s.write(t, tg, s.first())
	p := s.point(t, tg)
	s.expect(t, s.open(t, tg, p), p, nil, "since the point the disk is at")
}

func (s *suite) testOtherScheme(t *testing.T) {
	tg := s.h.NewTarget(t)
	s.write(t, tg, s.first())
	p := s.point(t, tg)
	d := s.open(t, tg, p)
	scheme := "conformance-other"
	if d.Scheme() == scheme {
		scheme = "conformance-else"
	}
	other, err := cbt.NewChangeID(scheme, p.Value())
	if err != nil {
		t.Fatal(err)
	}
	_, err = list(ctxFor(t), d, other, nil)
	if !errors.Is(err, cbt.ErrInvalidArgument) {
		t.Fatalf("change ID of scheme %q: got %v, want cbt.ErrInvalidArgument", scheme, err)
	}
}

// firstError lists d since base and returns the error that ends the listing
// (nil if none) and how many extents came before it.
func firstError(ctx context.Context, d *cbt.Disk, base cbt.ChangeID) (n int, err error) {
	for _, e := range d.Changes(ctx, base, nil) {
		if e != nil {
			return n, e
		}
		n++
	}
	return n, nil
}

// expectInvalid checks that a listing since base fails with
// ErrChangeIDInvalid, before yielding any extent.
func expectInvalid(t testing.TB, d *cbt.Disk, base cbt.ChangeID, why string) {
	t.Helper()
	n, err := firstError(ctxFor(t), d, base)
	if !errors.Is(err, cbt.ErrChangeIDInvalid) {
		t.Fatalf("%s: since %q got error %v, want cbt.ErrChangeIDInvalid", why, base, err)
	}
	if n > 0 {
		t.Fatalf("%s: %d extents were yielded before cbt.ErrChangeIDInvalid; a caller may trust them", why, n)
	}
}

func (s *suite) testReset(t *testing.T) {
	tg := s.h.NewTarget(t)
	r, ok := tg.(Resetter)
	if !ok {
		t.Skip("the platform's targets cannot reset tracking (no Resetter)")
	}
	w1 := s.write(t, tg, s.first())
	p1 := s.point(t, tg)
	w2 := s.write(t, tg, s.lastBlock())
	if err := r.ResetTracking(ctxFor(t)); err != nil {
		t.Fatalf("reset tracking: %v", err)
	}
	w3 := s.write(t, tg, s.first())
	p2 := s.point(t, tg)
	d := s.open(t, tg, p2)
	expectInvalid(t, d, p1, "base taken before a tracking reset")
	s.expect(t, d, cbt.ChangeID{}, []extent.Extent{w1, w2, w3}, "zero since after a reset")
	s.expect(t, d, p2, nil, "since the first point after a reset")
}

func (s *suite) testDeleted(t *testing.T) {
	tg := s.h.NewTarget(t)
	del, ok := tg.(Deleter)
	if !ok {
		t.Skip("the platform's targets cannot delete change points (no Deleter)")
	}
	s.write(t, tg, s.first())
	p1 := s.point(t, tg)
	s.write(t, tg, s.lastBlock())
	p2 := s.point(t, tg)
	if err := del.DeletePoint(ctxFor(t), p1); err != nil {
		t.Fatalf("delete point %q: %v", p1, err)
	}
	expectInvalid(t, s.open(t, tg, p2), p1, "deleted base")
}

// middle is a write of one WriteAlign unit in the middle of the disk.
func (s *suite) middle() extent.Extent {
	mid := s.cfg.Capacity / 2
	mid -= mid % s.cfg.WriteAlign
	return extent.Extent{Offset: mid, Length: s.cfg.WriteAlign}
}

// testRecreated deletes a point and makes it again under the same name: a
// listing since the old change ID must never miss the writes made between
// the old point and the new one (W2 below), which a platform that takes the
// new point for the old one would leave out.
func (s *suite) testRecreated(t *testing.T) {
	tg := s.h.NewTarget(t)
	rc, ok := tg.(Recreator)
	if !ok {
		t.Skip("the platform's targets cannot re-create change points (no Recreator)")
	}
	s.write(t, tg, s.first())
	p := s.point(t, tg)
	w2 := s.write(t, tg, s.lastBlock())
	again, err := rc.RecreatePoint(ctxFor(t), p)
	if err != nil {
		t.Fatalf("re-create point %q: %v", p, err)
	}
	if again.IsZero() {
		t.Fatalf("re-creating point %q returned the zero change ID", p)
	}
	w3 := s.write(t, tg, s.middle())
	q := s.point(t, tg)
	d := s.open(t, tg, q)
	if s.cfg.RecreatedBaseStaysValid {
		s.expect(t, d, p, []extent.Extent{w2, w3}, "since a change ID whose point was deleted and made again (Config.RecreatedBaseStaysValid)")
	} else {
		n := 0
		var got []extent.Extent
		err = nil
		for e, lerr := range d.Changes(ctxFor(t), p, nil) {
			if lerr != nil {
				err = lerr
				break
			}
			got = append(got, e)
			n++
		}
		if err == nil {
			if miss, ok := uncovered(got, []extent.Extent{w2}); ok {
				t.Fatalf("since a change ID whose point was deleted and made again under the same name: UNDER-REPORT: the write %v made between the old point and the new one is not reported (the new point was taken for the old one); want cbt.ErrChangeIDInvalid", miss)
			}
			t.Fatalf("since a change ID whose point was deleted and made again: listed %d extents, want cbt.ErrChangeIDInvalid (or set Config.RecreatedBaseStaysValid if the platform's change IDs stay valid bases)", n)
		}
		if !errors.Is(err, cbt.ErrChangeIDInvalid) {
			t.Fatalf("since a change ID whose point was deleted and made again: got error %v, want cbt.ErrChangeIDInvalid", err)
		}
		if n > 0 {
			t.Fatalf("since a re-created point: %d extents were yielded before cbt.ErrChangeIDInvalid; a caller may trust them", n)
		}
	}
	s.expect(t, d, again, []extent.Extent{w3}, "since the re-created point")
}

// testSinceLater lists backwards: the disk at an earlier point, the base a
// later point of the same disk. That is a caller's mistake (the catalog's
// points mixed up), refused with cbt.ErrInvalidArgument: the disk's point
// would go back in time, and whatever the listing held, the change ID stored
// after it would be the earlier one.
func (s *suite) testSinceLater(t *testing.T) {
	if s.cfg.NewestPointOnly {
		t.Skip("the platform's disks open at the newest point only (Config.NewestPointOnly): no listing can go backwards")
	}
	tg := s.h.NewTarget(t)
	s.write(t, tg, s.first())
	p1 := s.point(t, tg)
	s.write(t, tg, s.lastBlock())
	p2 := s.point(t, tg)
	d := s.open(t, tg, p1)
	n, err := firstError(ctxFor(t), d, p2)
	if !errors.Is(err, cbt.ErrInvalidArgument) {
		t.Fatalf("since a later point of the same disk: got error %v after %d extents, want cbt.ErrInvalidArgument (the base is later than the disk's point)", err, n)
	}
	if n > 0 {
		t.Fatalf("since a later point: %d extents were yielded before cbt.ErrInvalidArgument", n)
	}
}

func (s *suite) testForeign(t *testing.T) {
	if !s.cfg.ForeignIDsInvalid {
		t.Skip("the platform's change IDs carry no disk identity (Config.ForeignIDsInvalid is false)")
	}
	a, b := s.h.NewTarget(t), s.h.NewTarget(t)
	s.write(t, a, s.first())
	s.write(t, b, s.first())
	pa := s.point(t, a)
	s.write(t, b, s.lastBlock())
	pb := s.point(t, b)
	expectInvalid(t, s.open(t, b, pb), pa, "base taken on another disk")
}

func (s *suite) testCancel(t *testing.T) {
	tg := s.h.NewTarget(t)
	// Writes far apart, so that there is more than one extent.
	mid := s.cfg.Capacity / 2
	mid -= mid % s.cfg.WriteAlign
	for _, w := range []extent.Extent{s.first(), {Offset: mid, Length: s.cfg.WriteAlign}, s.lastBlock()} {
		s.write(t, tg, w)
	}
	p := s.point(t, tg)
	d := s.open(t, tg, p)

	ctx, cancel := context.WithCancel(ctxFor(t))
	cancel()
	var got []error
	for e, err := range d.Changes(ctx, cbt.ChangeID{}, nil) {
		if err == nil {
			t.Fatalf("pre-cancelled context: extent %v yielded", e)
		}
		got = append(got, err)
	}
	if len(got) != 1 || !errors.Is(got[0], context.Canceled) {
		t.Fatalf("pre-cancelled context: got errors %v, want exactly one context.Canceled", got)
	}

	full, err := list(ctxFor(t), d, cbt.ChangeID{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(full) < 2 {
		t.Fatalf("writes at the start, middle and end of the disk gave %d extents %v; want at least 2", len(full), full)
	}
	ctx, cancel = context.WithCancel(ctxFor(t))
	defer cancel()
	var items []error
	for _, err := range d.Changes(ctx, cbt.ChangeID{}, nil) {
		items = append(items, err)
		if len(items) == 1 {
			cancel()
		}
	}
	if len(items) != 2 || items[0] != nil || !errors.Is(items[1], context.Canceled) {
		t.Fatalf("cancelled after the first extent: got %d items ending in %v, want one extent then context.Canceled", len(items), items[len(items)-1])
	}
}

func (s *suite) testClosed(t *testing.T) {
	tg := s.h.NewTarget(t)
	s.write(t, tg, s.first())
	p := s.point(t, tg)
	d, err := tg.Open(ctxFor(t), p)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if _, err := list(ctxFor(t), d, cbt.ChangeID{}, nil); !errors.Is(err, cbt.ErrClosed) {
		t.Fatalf("listing a closed disk: got %v, want cbt.ErrClosed", err)
	}
}

// lastBlock is a write of one WriteAlign unit at the end of the disk.
func (s *suite) lastBlock() extent.Extent {
	a := s.cfg.WriteAlign
	return extent.Extent{Offset: s.cfg.Capacity - s.cfg.Capacity%a - a, Length: a}
}

// randomWrite picks a write: small or large, anywhere, often at the edges.
func (s *suite) randomWrite(rng *rand.Rand) extent.Extent {
	a := s.cfg.WriteAlign
	units := s.cfg.Capacity / a
	var n int64
	switch rng.IntN(4) {
	case 0:
		n = 1
	case 1:
		n = 1 + rng.Int64N(min(units, 16))
	case 2:
		n = 1 + rng.Int64N(max(units/64, 1))
	default:
		n = 1 + rng.Int64N(max(units/4, 1))
	}
	var off int64
	switch rng.IntN(8) {
	case 0:
		off = 0
	case 1:
		off = units - n
	default:
		off = rng.Int64N(units - n + 1)
	}
	return extent.Extent{Offset: off * a, Length: n * a}
}

func short(exts []extent.Extent) string {
	if len(exts) > 8 {
		return fmt.Sprint(exts[:8]) + "..."
	}
	return fmt.Sprint(exts)
}
