package imagelayer

import (
	"iter"

	"github.com/changedblocks/sdk/extent"
)

// rawLayer is a raw file or device: the guest disk byte for byte.
type rawLayer struct{ *file }

func (r *rawLayer) Format() string        { return FormatRaw }
func (r *rawLayer) BackingFile() string   { return "" }
func (r *rawLayer) BackingFormat() string { return "" }
func (r *rawLayer) VirtualSize() int64    { return r.size }
func (r *rawLayer) Granularity() int64    { return 512 }
func (r *rawLayer) MappingSpan() int64    { return 0 }

// Allocated yields the data regions of the file within [off, end), widened
// to 512-byte sectors; all of it when the file system cannot tell. It never
// fails (a busy raw file is read as it is now).
func (r *rawLayer) Allocated(off, end int64) iter.Seq2[extent.Extent, error] {
	return func(yield func(extent.Extent, error) bool) {
		end = min(end, r.size)
		for pos := off; pos < end; {
			d, h, ok := dataAfter(r.f, pos)
			if !ok {
				yield(extent.Extent{Offset: pos, Length: end - pos}, nil)
				return
			}
			if d >= end {
				return
			}
			h = min(h, r.size)
			if h <= d { // a file changing under us: count the rest
				yield(extent.Extent{Offset: pos, Length: end - pos}, nil)
				return
			}
			e, ok := extent.AlignOut(extent.Extent{Offset: d, Length: h - d}, 512, 0)
			if ok {
				if e, ok = extent.ClipTo(e, off, end); ok && !yield(e, nil) {
					return
				}
			}
			pos = h
		}
	}
}
