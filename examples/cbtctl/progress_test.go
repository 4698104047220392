package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/driver"
	"github.com/changedblocks/sdk/extent"
)

// slowDisk is a disk whose pages come when the test lets them: each page
// waits for a value on next, then reports one 4 KiB extent at its start
// and stops a pageBytes further. fail, when set, is returned instead of the
// first page.
type slowDisk struct {
	capacity, pageBytes int64
	next                chan struct{}
	fail                error
}

func (d *slowDisk) Info() driver.Info {
	return driver.Info{Name: "slow", Scheme: "fake", Capacity: d.capacity, Granularity: 4096, ChangeID: "p1"}
}

func (d *slowDisk) ChangedExtents(ctx context.Context, req driver.Request, buf []extent.Extent) ([]extent.Extent, int64, error) {
	if d.fail != nil {
		return nil, 0, d.fail
	}
	select {
	case <-d.next:
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	}
	end := min(req.Offset+d.pageBytes, req.End)
	return append(buf[:0], extent.Extent{Offset: req.Offset, Length: 4096}), end, nil
}

func (d *slowDisk) Close() error { return nil }

// gateWriter is a text writer that holds the listing when the last extent
// (the one at offset last) comes: cbt yields it after the last page's
// progress (all scanned) was reported, and the listing has not ended.
type gateWriter struct {
	changesWriter
	last      int64
	atLast    chan struct{}
	releaseAt chan struct{}
}

func (g *gateWriter) extent(e cbt.Extent) error {
	if e.Offset == g.last {
		close(g.atLast)
		<-g.releaseAt
	}
	return g.changesWriter.extent(e)
}

// TestProgressBarTicksAndNever100BeforeTheEnd lists a slow disk with a bar
// whose ticker the test drives: while no page arrives the bar is redrawn at
// every tick, and no frame says 100 % until the listing has ended, not even
// once every page is in. No timing is asserted: the test counts frames.
func TestProgressBarTicksAndNever100BeforeTheEnd(t *testing.T) {
	const pages, pageBytes = 4, 1 << 20
	d := &slowDisk{capacity: pages * pageBytes, pageBytes: pageBytes, next: make(chan struct{})}
	disk, err := cbt.NewDisk(d)
	require.NoError(t, err)
	defer disk.Close()

	var stderr lockedBuffer
	tick := make(chan time.Time)
	bar := startProgressBar(&stderr, time.Now, tick, func() {})
	frames := func() int {
		bar.mu.Lock()
		defer bar.mu.Unlock()
		return bar.frames
	}
	send := func() {
		n := frames()
		tick <- time.Time{}
		for frames() == n { // the tick's frame is drawn before the next tick
			time.Sleep(time.Millisecond)
		}
	}
	w := &gateWriter{changesWriter: newChangesWriter(io.Discard, "text", ""), last: (pages - 1) * pageBytes,
		atLast: make(chan struct{}), releaseAt: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		_, err := listChanges(t.Context(), w, disk, newHeader(disk, cbt.ChangeID{}, changesFlags{}), cbt.ChangeID{}, nil, bar)
		done <- err
	}()

	// No page yet: the bar is redrawn at each tick all the same.
	for range 3 {
		send()
	}
	assert.Equal(t, 3, frames(), "a frame a tick while no page arrives")
	assert.Equal(t, 3, strings.Count(stderr.String(), "\r  0% [........................] 0 B of ? scanned, 0 extents, 0 B listed, "), stderr.String())

	// Pages come, with ticks between them.
	for range pages {
		d.next <- struct{}{}
		send()
	}
	// Every page is in and the last progress says all is scanned, but the
	// listing has not ended: 99 %.
	select {
	case <-w.atLast:
	case err := <-done:
		t.Fatalf("the listing ended before its last extent was written: %v", err)
	}
	send()
	send()
	before := stderr.String()
	assert.Contains(t, before, "\r 99% [#######################.] 4 MiB of 4 MiB scanned, ")
	assert.NotContains(t, before, "100%", "100 %% before the end")

	close(w.releaseAt)
	require.NoError(t, <-done)
	out := stderr.String()
	last := out[strings.LastIndexByte(out, '\r'):]
	assert.True(t, strings.HasPrefix(last, "\r100% [########################] 4 MiB of 4 MiB scanned, 4 extents, 16 KiB listed, "), "%q", last)
	assert.True(t, strings.HasSuffix(out, "\n"))
	assert.NotContains(t, out[:len(out)-len(last)], "100%", "only the last frame says 100 %%")
}

// TestProgressBarStopsBelow100OnError: a listing that fails after every
// page was scanned does not end on 100 %.
func TestProgressBarStopsBelow100OnError(t *testing.T) {
	var buf bytes.Buffer
	b := startProgressBar(&buf, time.Now, make(chan time.Time), func() {})
	b.update(cbt.Progress{Scanned: 1 << 30, Total: 1 << 30, Extents: 2, Changed: 8192})
	b.finish(false)
	assert.True(t, strings.HasPrefix(buf.String(), "\r 99% [#######################.] 1 GiB of 1 GiB scanned"), "%q", buf.String())
	assert.NotContains(t, buf.String(), "100%")
}

// TestProgressBarTickerHook: runChanges draws with the ticker of
// progressTicker and stops it at the end.
func TestProgressBarTickerHook(t *testing.T) {
	tick := make(chan time.Time)
	stopped := make(chan struct{})
	old := progressTicker
	progressTicker = func() (<-chan time.Time, func()) { return tick, func() { close(stopped) } }
	defer func() { progressTicker = old }()

	d := &slowDisk{capacity: 1 << 20, pageBytes: 1 << 20, next: make(chan struct{})}
	disk, err := cbt.NewDisk(d)
	require.NoError(t, err)
	defer disk.Close()
	var stderr lockedBuffer
	f := changesFlags{cmd: "cbtctl fake changes"}
	require.NoError(t, f.progress.Set("true"))
	done := make(chan int, 1)
	go func() { done <- runChanges(t.Context(), io.Discard, &stderr, disk, cbt.ChangeID{}, f) }()
	tick <- time.Time{} // taken while the first page waits
	tick <- time.Time{}
	d.next <- struct{}{}
	assert.Equal(t, exitOK, <-done)
	<-stopped
	assert.GreaterOrEqual(t, strings.Count(stderr.String(), "\r"), 2, "%q", stderr.String())
}

// TestListingInvalidArgument: a listing the platform refuses as an invalid
// argument (as qemu does a --since later than --at) is status 1: the
// message, advice naming --since, and no change ID to store.
func TestListingInvalidArgument(t *testing.T) {
	d := &slowDisk{capacity: 1 << 20, pageBytes: 1 << 20,
		fail: fmt.Errorf("%w: qemu: base snapshot s2 is later than the point listed, snapshot s1: list --since the earlier one", driver.ErrInvalidArgument)}
	disk, err := cbt.NewDisk(d)
	require.NoError(t, err)
	defer disk.Close()
	for _, format := range []formatValue{"text", "json"} {
		var stdout, stderr bytes.Buffer
		f := changesFlags{cmd: "cbtctl fake changes", format: format}
		since, err := cbt.NewChangeID("fake", "p2")
		require.NoError(t, err)
		code := runChanges(t.Context(), &stdout, &stderr, disk, since, f)
		assert.Equal(t, exitError, code, "invalid arguments found by the platform: status 1 (documented)")
		assert.Contains(t, stderr.String(), "cbtctl fake changes: changes slow: cbt: invalid argument: qemu: base snapshot s2 is later than the point listed")
		assert.Contains(t, stderr.String(), "cbtctl fake changes: the platform refused the --since change ID (the message above says why): it must be one a listing of this platform printed for this disk (scheme:value), naming a point before the one listed\n")
		assert.NotContains(t, stderr.String(), "--start", "nothing to resume")
		if format == "json" {
			c := decodeOne(t, stdout.String())
			require.NotNil(t, c.Error)
			assert.Contains(t, *c.Error, "later than the point listed")
		} else {
			assert.Equal(t, "# incomplete: 0 extents listed before an error; store no change ID\n", stdout.String())
		}
	}
}
