package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/changedblocks/sdk/cbt"
)

// progressBar draws a listing's progress on one line of stderr, redrawn in
// place with a carriage return: at most every progressInterval when pages
// arrive, and at least every progressTick even when none does (a platform
// can take long over one page), the elapsed time showing that it runs:
//
//	42% [##########..............]  430 MiB of 1 GiB scanned, 12 extents, 3.4 MiB listed, 7s
//
// It shows 100 % only once the listing has ended (finish with ok): until
// then it stops at 99 %. A nil *progressBar draws nothing. Its methods are
// safe for concurrent use; update runs on the listing's goroutine, the
// ticker on its own.
type progressBar struct {
	w     io.Writer
	now   func() time.Time
	start time.Time
	stop  chan struct{} // closed by finish: the ticker goroutine ends
	done  chan struct{} // closed when the ticker goroutine has ended

	mu     sync.Mutex
	last   time.Time
	p      cbt.Progress
	seen   bool // an update arrived
	drawn  int  // width of the line on screen, 0 before the first draw
	frames int  // lines drawn, for the tests
	ended  bool
}

const (
	progressInterval = 100 * time.Millisecond
	progressTick     = 250 * time.Millisecond
	progressWidth    = 24
)

// progressTicker returns the channel that paces the redraws and the func
// that stops it; the tests replace it with a channel of their own.
var progressTicker = func() (<-chan time.Time, func()) {
	t := time.NewTicker(progressTick)
	return t.C, t.Stop
}

func newProgressBar(w io.Writer) *progressBar {
	tick, stopTick := progressTicker()
	return startProgressBar(w, time.Now, tick, stopTick)
}

// startProgressBar returns a bar on w that reads the time from now and
// redraws at every tick until finish.
func startProgressBar(w io.Writer, now func() time.Time, tick <-chan time.Time, stopTick func()) *progressBar {
	b := &progressBar{w: w, now: now, stop: make(chan struct{}), done: make(chan struct{})}
	b.start = now()
	go func() {
		defer close(b.done)
		defer stopTick()
		for {
			select {
			case <-b.stop:
				return
			case <-tick:
				b.mu.Lock()
				b.last = b.now()
				b.draw()
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// update is the cbt.ChangesOptions.Progress callback.
func (b *progressBar) update(p cbt.Progress) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.p, b.seen = p, true
	if t := b.now(); b.drawn == 0 || t.Sub(b.last) >= progressInterval {
		b.last = t
		b.draw()
	}
}

// finish stops the redraws, draws the last state (100 % when ok: the
// listing ended; else what it reached, at most 99 %) and ends the line, so
// that what stderr shows next starts on a line of its own.
func (b *progressBar) finish(ok bool) {
	if b == nil {
		return
	}
	select {
	case <-b.stop:
		return // finished already
	default:
		close(b.stop)
	}
	<-b.done
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.seen && b.drawn == 0 {
		return
	}
	b.ended = ok
	b.draw()
	fmt.Fprintln(b.w)
	b.drawn = 0
}

// draw draws the state; b.mu is held.
func (b *progressBar) draw() {
	p := b.p
	frac := 0.0
	switch {
	case b.ended:
		frac = 1
	case p.Total > 0:
		frac = min(max(float64(p.Scanned)/float64(p.Total), 0), 1)
	}
	pct, fill := int(frac*100), int(frac*progressWidth)
	if !b.ended {
		pct, fill = min(pct, 99), min(fill, progressWidth-1)
	}
	total := humanBytes(p.Total)
	if !b.seen {
		total = "?"
	}
	elapsed := b.now().Sub(b.start).Truncate(time.Second)
	line := fmt.Sprintf("%3d%% [%s%s] %s of %s scanned, %s, %s listed, %v",
		pct, strings.Repeat("#", fill), strings.Repeat(".", progressWidth-fill),
		humanBytes(p.Scanned), total, plural(p.Extents, "extent"), humanBytes(p.Changed), elapsed)
	pad := max(b.drawn-len(line), 0) // blank out the rest of a longer line before
	fmt.Fprintf(b.w, "\r%s%s", line, strings.Repeat(" ", pad))
	b.drawn = len(line)
	b.frames++
}
