// Package extent holds Extent, a half-open byte range [Offset, Offset+Length) of a
// disk, and the operations on sequences of extents sorted by Offset that a
// changed-block tracking client needs: coalesce, align to a block size, clip to a
// window, union of several sorted streams, intersect, subtract, split into pieces
// of bounded length, decode a dirty bitmap, sort, and count the bytes covered.
//
// # Normalisation
//
// Every operation accepts any extent and never overflows:
//
//   - an extent with Length <= 0 is skipped;
//   - a negative Offset is treated as 0: the part below 0 is dropped;
//   - an end (Offset+Length) beyond math.MaxInt64 is saturated at math.MaxInt64.
//
// Every operation yields normalised extents: ascending, non-overlapping,
// non-empty, inside [0, math.MaxInt64], and never adjacent (a gap of at least one
// byte separates two extents), so that each output is the shortest description of
// its byte set. Split is the one exception: the pieces it cuts from one extent
// touch. [IsNormalized] checks the first property, [IsSorted] the weaker one that
// allows adjacency.
//
// # Input order
//
// Streaming inputs must be sorted by Offset; they may overlap or touch, and they
// may hold empty or out-of-range extents. [Normalize] sorts a slice that is not.
// When an input breaks the ordering contract the output is still ascending and
// non-overlapping (though it may then touch), but it may miss bytes of the input
// that arrived after output beyond them was yielded: a stream cannot take back
// what it yielded.
//
// # Streaming and slices
//
// Each operation comes twice. The streaming form takes and returns
// [iter.Seq][Extent]: it is lazy, reads its input as the consumer asks for output,
// stops reading when the consumer breaks out of its range loop, and works on
// streams of any length in constant memory. The slice form (CoalesceSlice,
// UnionSlices, ...) does the same work on slices; the ones whose output is never
// longer than their single input (CoalesceSlice, AlignSlice, ClipSlice, Normalize)
// reuse the input's storage, like [slices.Compact], and the others allocate the
// result.
//
// # Cost
//
// Streaming operations use O(1) memory (Union: O(k) for k inputs) and allocate
// nothing per extent; they allocate a fixed amount when the sequence is ranged
// over. Single-input operations (Coalesce, Align, Clip, Split) run in the
// consumer's goroutine and read their input only as far as their next output
// extent needs, which is one extent beyond it (the one that shows the pending
// extent is complete). Union,
// Intersect and Subtract read their inputs through [iter.Pull] in batches (of a few
// extents at first, growing to 256) so that the cost of switching between
// coroutines is shared by many extents; they may therefore read an input up to one
// batch beyond what their output needed, and they release every input when they
// return, whether the input is exhausted or the consumer stopped early.
//
// Times are linear in the number of input extents (Union: times log k), except
// Split, whose output can be much longer than its input, and Normalize, which
// sorts. FromBitmap skips zero and all-one 64-bit words of the bitmap in constant
// time.
//
// BENCH_RESULTS.txt in this directory has the measured throughput.
package extent
