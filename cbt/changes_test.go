package cbt

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/changedblocks/sdk/cbt/driver"
	"github.com/changedblocks/sdk/extent"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// naive computes the expected listing byte by byte: mark the truth, widen to
// alignment blocks, fill gaps of at most gap bytes between marked runs, clip
// to [start, end).
func naive(capacity int64, truth []extent.Extent, align, gap, start, end int64) []extent.Extent {
	m := make([]bool, capacity)
	for _, e := range truth {
		for b := e.Offset; b < e.End(); b++ {
			m[b] = true
		}
	}
	if align > 1 {
		w := make([]bool, capacity)
		for blk := int64(0); blk < capacity; blk += align {
			any := false
			for b := blk; b < min(blk+align, capacity); b++ {
				any = any || m[b]
			}
			for b := blk; b < min(blk+align, capacity); b++ {
				w[b] = any
			}
		}
		m = w
	}
	// Fill gaps between marked runs.
	last := int64(-1) // end of the previous marked run
	for b := int64(0); b < capacity; b++ {
		if !m[b] {
			continue
		}
		if last >= 0 && b > last && b-last <= gap {
			for x := last; x < b; x++ {
				m[x] = true
			}
		}
		for b < capacity && m[b] {
			b++
		}
		last = b
	}
	var out []extent.Extent
	for b := start; b < end; b++ {
		if !m[b] {
			continue
		}
		s := b
		for b < end && m[b] {
			b++
		}
		out = append(out, extent.Extent{Offset: s, Length: b - s})
	}
	return out
}

func randomTruth(rng *rand.Rand, capacity int64) []extent.Extent {
	var out []extent.Extent
	off := rng.Int64N(64)
	for off < capacity {
		n := 1 + rng.Int64N(48)
		if off+n > capacity {
			n = capacity - off
		}
		out = append(out, extent.Extent{Offset: off, Length: n})
		off += n
		if rng.IntN(4) > 0 { // else adjacent
			off += 1 + rng.Int64N(96)
		}
	}
	return out
}

// TestChangesMatchesNaiveModel drives the paging loop with random pages,
// random options and random truths, against a byte-by-byte model.
func TestChangesMatchesNaiveModel(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 600
	}
	for seed := uint64(1); seed <= uint64(n); seed++ {
		rng := rand.New(rand.NewPCG(seed, 99))
		capacity := 1 + rng.Int64N(2048)
		truth := randomTruth(rng, capacity)
		p := newPager(seed, capacity, truth)
		p.maxPage = 1 + rng.Int64N(capacity)
		p.maxCount = 1 + rng.IntN(8)
		p.unclip = rng.IntN(2) == 0
		d, err := NewDisk(p)
		require.NoError(t, err)

		o := &ChangesOptions{}
		if rng.IntN(2) == 0 {
			o.StartOffset = rng.Int64N(capacity + 1)
		}
		if rng.IntN(2) == 0 {
			o.Length = rng.Int64N(capacity + 8)
		}
		if rng.IntN(2) == 0 {
			o.Alignment = []int64{1, 2, 3, 8, 64, 100, 512}[rng.IntN(7)]
		}
		if rng.IntN(2) == 0 {
			o.CoalesceGap = rng.Int64N(200)
		}
		end := capacity
		if o.Length > 0 && o.Length < capacity-o.StartOffset {
			end = o.StartOffset + o.Length
		}
		want := naive(capacity, truth, o.Alignment, o.CoalesceGap, o.StartOffset, end)
		since, _ := NewChangeID("fake", "p1")
		got, err := Collect(d.Changes(context.Background(), since, o))
		require.NoError(t, err, "seed %d", seed)
		require.Equal(t, fmt.Sprint(want), fmt.Sprint(got),
			"seed %d: capacity %d options %+v pages<=%d count<=%d unclip=%v truth %v", seed, capacity, *o, p.maxPage, p.maxCount, p.unclip, truth)
	}
}

func TestChangesPassesSinceAndPages(t *testing.T) {
	truth := []extent.Extent{{Offset: 0, Length: 10}, {Offset: 100, Length: 10}}
	p := newPager(1, 1000, truth)
	p.maxPage = 50
	d, err := NewDisk(p)
	require.NoError(t, err)
	var progress []Progress
	since, _ := NewChangeID("fake", "p1")
	got, err := Collect(d.Changes(context.Background(), since, &ChangesOptions{Progress: func(pr Progress) { progress = append(progress, pr) }}))
	require.NoError(t, err)
	assert.Equal(t, truth, got)
	assert.Greater(t, p.calls, 1, "a 50-byte page limit over 1000 bytes needs several pages")
	for _, s := range p.since {
		assert.Equal(t, "p1", s)
	}
	require.NotEmpty(t, progress)
	last := progress[len(progress)-1]
	assert.Equal(t, Progress{Scanned: 1000, Total: 1000, Extents: 2, Changed: 20}, last)
	for i := 1; i < len(progress); i++ {
		assert.GreaterOrEqual(t, progress[i].Scanned, progress[i-1].Scanned)
	}

	// A zero since reaches the driver as "".
	p.since = nil
	_, err = Collect(d.Changes(context.Background(), ChangeID{}, nil))
	require.NoError(t, err)
	assert.Equal(t, "", p.since[0])
}

func TestChangesRejectsBrokenPages(t *testing.T) {
	info := driver.Info{Name: "disk-a", Scheme: "fake", Capacity: 1000}
	e := func(o, l int64) extent.Extent { return extent.Extent{Offset: o, Length: l} }
	cases := []struct {
		name  string
		pages []scriptPage
		want  string
	}{
		{"no progress", []scriptPage{{next: 0}}, "no progress"},
		{"next behind", []scriptPage{{exts: []extent.Extent{e(0, 10)}, next: 500}, {next: 400}}, "no progress"},
		{"empty extent", []scriptPage{{exts: []extent.Extent{e(5, 0)}, next: 1000}}, "is empty"},
		{"negative length", []scriptPage{{exts: []extent.Extent{e(5, -3)}, next: 1000}}, "is empty"},
		{"beyond capacity", []scriptPage{{exts: []extent.Extent{e(990, 20)}, next: 1000}}, "outside the disk"},
		{"negative offset", []scriptPage{{exts: []extent.Extent{e(-10, 20)}, next: 1000}}, "outside the disk"},
		{"overflow", []scriptPage{{exts: []extent.Extent{e(10, 1<<62), e(1<<62, 1<<62)}, next: 1000}}, "outside the disk"},
		{"unsorted", []scriptPage{{exts: []extent.Extent{e(50, 10), e(10, 10)}, next: 1000}}, "unsorted or overlapping"},
		{"overlapping", []scriptPage{{exts: []extent.Extent{e(10, 10), e(15, 10)}, next: 1000}}, "unsorted or overlapping"},
		{"after next", []scriptPage{{exts: []extent.Extent{e(10, 10), e(600, 10)}, next: 500}}, "at or after the page's next offset"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := NewDisk(&scripted{info: info, pages: tc.pages})
			require.NoError(t, err)
			got, err := Collect(d.Changes(context.Background(), ChangeID{}, nil))
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrCorrupt)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "*cbt.scripted", "the error names the driver")
			var ce *Error
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, "disk-a", ce.Disk)
			assert.Equal(t, "changes", ce.Op)
			for _, x := range got {
				assert.True(t, x.Valid())
			}
		})
	}
}

// A page may legitimately report, again, an extent that an earlier page
// reported, or one that begins before the window asked for.
func TestChangesMergesRepeatsAcrossPages(t *testing.T) {
	e := func(o, l int64) extent.Extent { return extent.Extent{Offset: o, Length: l} }
	d, err := NewDisk(&scripted{info: driver.Info{Name: "d", Scheme: "fake", Capacity: 1000}, pages: []scriptPage{
		{exts: []extent.Extent{e(0, 10), e(90, 30)}, next: 100},
		{exts: []extent.Extent{e(90, 30), e(150, 10)}, next: 200},
		{exts: []extent.Extent{e(100, 5)}, next: 300},
		{next: 400}, // empty, not the last
		{exts: []extent.Extent{e(400, 600)}, next: 1000},
	}})
	require.NoError(t, err)
	got, err := Collect(d.Changes(context.Background(), ChangeID{}, nil))
	require.NoError(t, err)
	assert.Equal(t, []extent.Extent{e(0, 10), e(90, 30), e(150, 10), e(400, 600)}, got)
}

type platformErr struct{ code int }

func (p *platformErr) Error() string { return fmt.Sprintf("platform fault %d", p.code) }

func TestChangesWrapsDriverErrors(t *testing.T) {
	p := newPager(1, 100, nil)
	p.err = fmt.Errorf("%w: %w", ErrChangeIDInvalid, &platformErr{code: 7})
	d, err := NewDisk(p)
	require.NoError(t, err)
	since, _ := NewChangeID("fake", "old")
	n := 0
	var last error
	for _, err := range d.Changes(context.Background(), since, nil) {
		n++
		last = err
	}
	assert.Equal(t, 1, n, "an error is yielded once and ends the sequence")
	assert.ErrorIs(t, last, ErrChangeIDInvalid)
	var pe *platformErr
	require.ErrorAs(t, last, &pe)
	assert.Equal(t, 7, pe.code)
	var ce *Error
	require.ErrorAs(t, last, &ce)
	assert.Equal(t, "changes fake0: cbt: change ID is not valid for this disk (take a full backup): platform fault 7", last.Error())
}

func TestChangesValidatesArguments(t *testing.T) {
	d, err := NewDisk(newPager(1, 100, nil))
	require.NoError(t, err)
	other, _ := NewChangeID("vsphere", "52 aa/1")
	for name, tc := range map[string]struct {
		since ChangeID
		o     *ChangesOptions
	}{
		"other scheme":    {other, nil},
		"negative start":  {ChangeID{}, &ChangesOptions{StartOffset: -1}},
		"start too large": {ChangeID{}, &ChangesOptions{StartOffset: 101}},
		"negative length": {ChangeID{}, &ChangesOptions{Length: -1}},
		"negative align":  {ChangeID{}, &ChangesOptions{Alignment: -4}},
		"negative gap":    {ChangeID{}, &ChangesOptions{CoalesceGap: -1}},
	} {
		_, err := Collect(d.Changes(context.Background(), tc.since, tc.o))
		assert.ErrorIs(t, err, ErrInvalidArgument, name)
	}
	//lint:ignore SA1012 a nil context is what this case checks
	_, err = Collect(d.Changes(nil, ChangeID{}, nil)) //nolint:staticcheck
	assert.ErrorIs(t, err, ErrInvalidArgument)
	// Start at the capacity: nothing, no error, no driver call.
	got, err := Collect(d.Changes(context.Background(), ChangeID{}, &ChangesOptions{StartOffset: 100}))
	assert.NoError(t, err)
	assert.Empty(t, got)
}

func TestChangesContext(t *testing.T) {
	truth := []extent.Extent{{Offset: 0, Length: 10}, {Offset: 20, Length: 10}, {Offset: 40, Length: 10}}
	p := newPager(1, 100, truth)
	p.maxPage = 5
	d, err := NewDisk(p)
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Collect(d.Changes(ctx, ChangeID{}, nil))
	assert.Same(t, context.Canceled, err, "a context error passes through untouched")
	assert.Zero(t, p.calls)

	// Cancelled by the driver's own wait: the context's error, not *Error.
	ctx, cancel = context.WithCancel(context.Background())
	p.hook = func(driver.Request) { cancel() }
	_, err = Collect(d.Changes(ctx, ChangeID{}, nil))
	assert.Same(t, context.Canceled, err)
	p.hook = nil

	// Cancelled between extents.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	var items []error
	for _, err := range d.Changes(ctx, ChangeID{}, nil) {
		items = append(items, err)
		cancel()
	}
	require.Len(t, items, 2)
	assert.NoError(t, items[0])
	assert.Same(t, context.Canceled, items[1])
}

func TestChangesBreakStopsDriverCalls(t *testing.T) {
	var truth []extent.Extent
	for i := range int64(50) {
		truth = append(truth, extent.Extent{Offset: i * 20, Length: 10})
	}
	p := newPager(1, 1000, truth)
	p.maxPage = 20
	d, err := NewDisk(p)
	require.NoError(t, err)
	for range d.Changes(context.Background(), ChangeID{}, nil) {
		break
	}
	assert.LessOrEqual(t, p.calls, 3, "breaking out after the first extent stops paging")
}

func TestChangesReentrant(t *testing.T) {
	truth := []extent.Extent{{Offset: 3, Length: 4}}
	d, err := NewDisk(newPager(1, 100, truth))
	require.NoError(t, err)
	seq := d.Changes(context.Background(), ChangeID{}, nil)
	a, err := Collect(seq)
	require.NoError(t, err)
	b, err := Collect(seq)
	require.NoError(t, err)
	assert.Equal(t, a, b)
	assert.Equal(t, truth, a)
}

func TestCollectKeepsExtentsBeforeError(t *testing.T) {
	e := func(o, l int64) extent.Extent { return extent.Extent{Offset: o, Length: l} }
	boom := errors.New("boom")
	d, err := NewDisk(&scripted{info: driver.Info{Name: "d", Scheme: "fake", Capacity: 1000}, pages: []scriptPage{
		{exts: []extent.Extent{e(0, 10), e(50, 10)}, next: 100},
		{err: boom},
	}})
	require.NoError(t, err)
	got, err := Collect(d.Changes(context.Background(), ChangeID{}, nil))
	assert.ErrorIs(t, err, boom)
	// The pending extent is not yielded before the error: the next page might
	// have extended it.
	assert.Equal(t, []extent.Extent{e(0, 10)}, got)
}
