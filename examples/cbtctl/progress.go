package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/changedblocks/sdk/cbt"
)

// progressBar draws a listing's progress on one line of stderr, redrawn in
// place with a carriage return, at most every progressInterval:
//
//	42% [##########..............]  430 MiB of 1 GiB scanned, 12 extents, 3.4 MiB listed
//
// A nil *progressBar draws nothing.
type progressBar struct {
	w     io.Writer
	now   func() time.Time
	last  time.Time
	p     cbt.Progress
	seen  bool // an update arrived
	drawn int  // width of the line on screen, 0 before the first draw
}

const (
	progressInterval = 100 * time.Millisecond
	progressWidth    = 24
)

func newProgressBar(w io.Writer) *progressBar {
	return &progressBar{w: w, now: time.Now}
}

// update is the cbt.ChangesOptions.Progress callback.
func (b *progressBar) update(p cbt.Progress) {
	b.p, b.seen = p, true
	if t := b.now(); b.drawn == 0 || t.Sub(b.last) >= progressInterval {
		b.last = t
		b.draw()
	}
}

// finish draws the last state and ends the line, so that what stderr shows
// next starts on a line of its own.
func (b *progressBar) finish() {
	if b == nil || !b.seen {
		return
	}
	b.draw()
	fmt.Fprintln(b.w)
	b.drawn = 0
}

func (b *progressBar) draw() {
	p := b.p
	frac := 1.0
	if p.Total > 0 {
		frac = float64(p.Scanned) / float64(p.Total)
	}
	frac = min(max(frac, 0), 1)
	fill := int(frac * progressWidth)
	line := fmt.Sprintf("%3d%% [%s%s] %s of %s scanned, %s, %s listed",
		int(frac*100), strings.Repeat("#", fill), strings.Repeat(".", progressWidth-fill),
		humanBytes(p.Scanned), humanBytes(p.Total), plural(p.Extents, "extent"), humanBytes(p.Changed))
	pad := max(b.drawn-len(line), 0) // blank out the rest of a longer line before
	fmt.Fprintf(b.w, "\r%s%s", line, strings.Repeat(" ", pad))
	b.drawn = len(line)
}
