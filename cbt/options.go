package cbt

import "log/slog"

// ChangesOptions tunes Changes. A nil *ChangesOptions means the defaults:
// the whole disk, no alignment, adjacent extents merged.
type ChangesOptions struct {
	// StartOffset is where the listing starts; to resume an interrupted
	// listing, pass the End of the last extent received. The result is exactly
	// the tail of the whole listing from StartOffset, whatever the other
	// options. Must be within [0, Capacity].
	StartOffset int64

	// Length limits the listing to [StartOffset, StartOffset+Length); 0 means
	// up to the capacity, and a range beyond the capacity is cut there. The
	// result is exactly the whole listing clipped to that range, so ranges that
	// partition the disk can be listed in parallel.
	Length int64

	// Alignment widens every extent outward to multiples of this many bytes
	// (clipped to the capacity), for copy engines that read whole blocks.
	// 0 or 1 means none.
	Alignment int64

	// CoalesceGap merges two extents separated by at most this many unchanged
	// bytes into one (the gap is then reported as changed). 0 merges only
	// adjacent extents.
	CoalesceGap int64

	// Progress, when set, is called after each page the platform answers, on
	// the goroutine that iterates.
	Progress func(Progress)

	// Logger receives debug records per page; nil is silent.
	Logger *slog.Logger
}

// Progress reports how far a Changes listing got.
type Progress struct {
	Scanned int64 // bytes of the listed range already examined
	Total   int64 // bytes of the listed range
	Extents int64 // extents yielded so far
	Changed int64 // bytes in the extents yielded so far
}
