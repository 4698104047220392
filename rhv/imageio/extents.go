package imageio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/changedblocks/sdk/cbt"
)

// Extent contexts of imageio's GET /images/{ticket}/extents.
const (
	// ContextZero asks for the image's allocation: extents flagged zero (read
	// as zeroes) and hole (unallocated in a shallow transfer's own layer).
	ContextZero = "zero"
	// ContextDirty asks, on a transfer of an incremental backup, which areas
	// changed since the backup's from-checkpoint.
	ContextDirty = "dirty"
)

// Extent is one item of an imageio extents answer. Both contexts share
// it: Zero and Hole come with context "zero", Dirty and Zero with context
// "dirty". A flag an older server omits is false (imageio before 2.0.9 sends
// no "hole", before 2.2.0 no "zero" in dirty extents).
type Extent struct {
	Start  int64 `json:"start"`
	Length int64 `json:"length"`
	Zero   bool  `json:"zero"`
	Hole   bool  `json:"hole"`
	Dirty  bool  `json:"dirty"`
}

// End returns Start+Length.
func (e Extent) End() int64 { return e.Start + e.Length }

// minExtentItem is the shortest JSON an extent item can take
// ({"start":0,"length":1}), which bounds the count a body of n bytes can
// hold.
const minExtentItem = len(`{"start":0,"length":1}`)

// decodeExtents reads an imageio extents answer of at most limit bytes and
// checks its shape: an array of objects with integer start and length, the
// first starting at 0, each non-empty and starting where the one before
// ended, none ending beyond math.MaxInt64. Anything else is cbt.ErrCorrupt.
// The allocation is bounded by the body's size: at most one Extent
// per minExtentItem bytes read.
func decodeExtents(r io.Reader, limit int64) ([]Extent, error) {
	lr := &io.LimitedReader{R: r, N: limit + 1}
	body, err := io.ReadAll(lr)
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("%w: imageio: extents answer is larger than %d bytes", cbt.ErrCorrupt, limit)
	}
	return parseExtents(body)
}

// parseExtents decodes and checks one extents answer held in body.
func parseExtents(body []byte) ([]Extent, error) {
	corrupt := func(format string, args ...any) ([]Extent, error) {
		return nil, fmt.Errorf("%w: imageio: extents answer: "+format, append([]any{cbt.ErrCorrupt}, args...)...)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return corrupt("not JSON: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return corrupt("want a JSON array, got %v", tok)
	}
	exts := make([]Extent, 0, min(len(body)/minExtentItem, 1024))
	var next int64
	for dec.More() {
		var raw struct {
			Start, Length json.RawMessage
			Zero, Hole    *bool
			Dirty         *bool
		}
		if err := dec.Decode(&raw); err != nil {
			return corrupt("item %d: %v", len(exts), err)
		}
		if len(raw.Start) == 0 || len(raw.Length) == 0 {
			return corrupt("item %d has no start or no length", len(exts))
		}
		start, err1 := strconv.ParseInt(string(raw.Start), 10, 64)
		length, err2 := strconv.ParseInt(string(raw.Length), 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			return corrupt("item %d: start %s, length %s: want integers: %v", len(exts), raw.Start, raw.Length, err)
		}
		switch {
		case start != next:
			return corrupt("item %d starts at %d, want %d (extents must start at 0, ascend and be contiguous)", len(exts), start, next)
		case length <= 0:
			return corrupt("item %d at %d has length %d, want > 0", len(exts), start, length)
		case length > math.MaxInt64-start:
			return corrupt("item %d at %d: length %d overflows", len(exts), start, length)
		}
		e := Extent{Start: start, Length: length}
		if raw.Zero != nil {
			e.Zero = *raw.Zero
		}
		if raw.Hole != nil {
			e.Hole = *raw.Hole
		}
		if raw.Dirty != nil {
			e.Dirty = *raw.Dirty
		}
		exts = append(exts, e)
		next = e.End()
	}
	if _, err := dec.Token(); err != nil {
		return corrupt("unterminated array: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return corrupt("trailing data after the array")
	}
	return exts, nil
}
