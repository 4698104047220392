package cbttest

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/extent"
)

// testRandomized runs the randomized workloads, one subtest per seed.
func (s *suite) testRandomized(t *testing.T) {
	for i := range s.cfg.Workloads {
		seed := s.cfg.Seed + uint64(i)
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { s.workload(t, seed) })
		if t.Failed() {
			t.Logf("rerun one workload with: -run 'Randomized/seed=%d$'", seed)
			return
		}
	}
}

// workload writes random ranges over a few rounds, taking a change point
// after each, then checks every pair of points against what it wrote.
func (s *suite) workload(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0xcb7))
	tg := s.h.NewTarget(t)
	rounds := 1 + rng.IntN(s.cfg.MaxRounds)
	points := make([]cbt.ChangeID, rounds)
	written := make([][]extent.Extent, rounds) // written[r]: writes before point r
	var data dataChecks
	data.begin(s, seed)
	for r := range rounds {
		for range rng.IntN(s.cfg.MaxWrites + 1) {
			written[r] = append(written[r], s.write(t, tg, s.randomWrite(rng)))
		}
		points[r] = s.point(t, tg)
		data.taken(t, tg, points[r])
	}
	for j := range rounds {
		d := s.open(t, tg, points[j])
		s.learnReadable(d)
		data.check(t, d, j, points, seed)
		var all []extent.Extent
		for r := 0; r <= j; r++ {
			all = append(all, written[r]...)
		}
		full := s.expect(t, d, cbt.ChangeID{}, all, fmt.Sprintf("seed %d: zero since at point %d", seed, j))
		for i := 0; i <= j; i++ {
			var between []extent.Extent
			for r := i + 1; r <= j; r++ {
				between = append(between, written[r]...)
			}
			got := s.expect(t, d, points[i], between, fmt.Sprintf("seed %d: since point %d at point %d", seed, i, j))
			if i == 0 && j == rounds-1 && seed%4 == 0 {
				s.checkOptions(t, rng, d, points[i], got, seed)
			}
		}
		if j == rounds-1 && seed%4 == 1 {
			s.checkOptions(t, rng, d, cbt.ChangeID{}, full, seed)
		}
	}
}

// checkOptions proves that resuming, ranges, alignment and coalescing give
// exactly the matching transformation of the whole listing.
func (s *suite) checkOptions(t *testing.T, rng *rand.Rand, d *cbt.Disk, since cbt.ChangeID, full []extent.Extent, seed uint64) {
	t.Helper()
	capacity := d.Capacity()
	ctx := ctxFor(t)
	offsets := []int64{0, capacity, rng.Int64N(capacity + 1)}
	for _, e := range full {
		if rng.IntN(3) == 0 {
			offsets = append(offsets, e.Offset, e.End(), e.Offset+rng.Int64N(e.Length))
		}
		if len(offsets) > 12 {
			break
		}
	}
	for _, off := range offsets {
		got, err := list(ctx, d, since, &cbt.ChangesOptions{StartOffset: off})
		if err != nil {
			t.Fatalf("seed %d: resume at %d: %v", seed, off, err)
		}
		if want := clipAll(full, off, capacity); !equal(got, want) {
			t.Fatalf("seed %d: resumed at %d: got %s, want the tail %s", seed, off, short(got), short(want))
		}
	}
	// Three ranges that partition the disk.
	a := rng.Int64N(capacity + 1)
	b := a + rng.Int64N(capacity-a+1)
	for _, r := range [][2]int64{{0, a}, {a, b}, {b, capacity}} {
		if r[1] == r[0] {
			continue
		}
		got, err := list(ctx, d, since, &cbt.ChangesOptions{StartOffset: r[0], Length: r[1] - r[0]})
		if err != nil {
			t.Fatalf("seed %d: range [%d, %d): %v", seed, r[0], r[1], err)
		}
		if want := clipAll(full, r[0], r[1]); !equal(got, want) {
			t.Fatalf("seed %d: range [%d, %d): got %s, want %s", seed, r[0], r[1], short(got), short(want))
		}
	}
	align := int64(1) << (9 + rng.IntN(8))
	got, err := list(ctx, d, since, &cbt.ChangesOptions{Alignment: align})
	if err != nil {
		t.Fatalf("seed %d: alignment %d: %v", seed, align, err)
	}
	if want := extent.AlignSlice(append([]extent.Extent(nil), full...), align, capacity); !equal(got, want) {
		t.Fatalf("seed %d: alignment %d: got %s, want %s", seed, align, short(got), short(want))
	}
	gap := rng.Int64N(capacity/8 + 1)
	got, err = list(ctx, d, since, &cbt.ChangesOptions{CoalesceGap: gap})
	if err != nil {
		t.Fatalf("seed %d: gap %d: %v", seed, gap, err)
	}
	if want := extent.CoalesceSlice(append([]extent.Extent(nil), full...), gap); !equal(got, want) {
		t.Fatalf("seed %d: gap %d: got %s, want %s", seed, gap, short(got), short(want))
	}
	// Everything at once, resumed in the middle of a range.
	o := &cbt.ChangesOptions{StartOffset: a, Length: b - a, Alignment: align, CoalesceGap: gap}
	got, err = list(ctx, d, since, o)
	if err != nil {
		t.Fatalf("seed %d: options %+v: %v", seed, *o, err)
	}
	whole := extent.CoalesceSlice(extent.AlignSlice(append([]extent.Extent(nil), full...), align, capacity), gap)
	if want := clipAll(whole, a, b); !equal(got, want) {
		t.Fatalf("seed %d: options %+v: got %s, want %s", seed, *o, short(got), short(want))
	}
}
