package imagelayer

import (
	"iter"

	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/qcow2"
)

// Zeros yields the holes of a raw file in [off, end): what the file
// system says holds no data there (SEEK_HOLE), so reads as zeros; nothing
// where the file system cannot tell. Past the file's end, nothing: the
// caller knows the size.
func (r *rawLayer) Zeros(off, end int64) iter.Seq2[extent.Extent, error] {
	return func(yield func(extent.Extent, error) bool) {
		end = min(end, r.size)
		pos := off
		for e, err := range r.Allocated(off, end) {
			if err != nil {
				yield(extent.Extent{}, err)
				return
			}
			if e.Offset > pos && !yield(extent.Extent{Offset: pos, Length: e.Offset - pos}, nil) {
				return
			}
			pos = max(pos, e.End())
		}
		if pos < end {
			yield(extent.Extent{Offset: pos, Length: end - pos}, nil)
		}
	}
}

// Zeros yields the zero clusters and subclusters of the active tables,
// and the data clusters stored in holes of the file (a busy file's tables
// are stale: ErrBusy, as Allocated).
func (l *qcow2Layer) Zeros(off, end int64) iter.Seq2[extent.Extent, error] {
	if l.busy {
		return func(yield func(extent.Extent, error) bool) {
			yield(extent.Extent{}, l.staleErr())
		}
	}
	return l.ZerosView(l.q.ActiveView(), off, end)
}

// ZerosView is Zeros for a view of the image.
func (l *qcow2Layer) ZerosView(v qcow2.View, off, end int64) iter.Seq2[extent.Extent, error] {
	return func(yield func(extent.Extent, error) bool) {
		_, zeros, err := l.mapView(v, off, end)
		if err != nil {
			yield(extent.Extent{}, err)
			return
		}
		for _, e := range zeros {
			if !yield(e, nil) {
				return
			}
		}
	}
}

// AllocatedView is Allocated for a view of the image.
func (l *qcow2Layer) AllocatedView(v qcow2.View, off, end int64) iter.Seq2[extent.Extent, error] {
	return l.q.AllocatedRange(v, off, end)
}

// ChainLayer is one layer of a chain as ChainZeros sees it.
type ChainLayer struct {
	// Size is the layer's guest size: past it, the layer reads as zeros
	// and hides the layers below.
	Size int64
	// Map returns, for [off, end) within Size, what the layer itself maps
	// (data, zero and compressed clusters; all of a raw file): what hides
	// the layers below; and what of that reads as zeros. Both ascending
	// and merged.
	Map func(off, end int64) (covers, zeros []extent.Extent, err error)
}

// Chain returns layer l as ChainZeros sees it: its active tables (a raw
// file covers all of itself).
func Chain(l Layer) ChainLayer {
	if q, ok := l.(*qcow2Layer); ok {
		c := ChainView(q, q.q.ActiveView())
		if q.busy {
			c.Map = func(int64, int64) ([]extent.Extent, []extent.Extent, error) {
				return nil, nil, q.staleErr()
			}
		}
		return c
	}
	size := l.VirtualSize()
	return ChainLayer{Size: size, Map: func(off, end int64) ([]extent.Extent, []extent.Extent, error) {
		zeros, err := collect(l.Zeros(off, end))
		if err != nil {
			return nil, nil, err
		}
		return extent.ClipSlice([]extent.Extent{{Offset: 0, Length: size}}, off, end), zeros, nil
	}}
}

// ChainView returns the top layer l at view v (an internal snapshot's).
func ChainView(l Qcow2Layer, v qcow2.View) ChainLayer {
	q := l.(*qcow2Layer)
	return ChainLayer{Size: v.DiskSize, Map: func(off, end int64) ([]extent.Extent, []extent.Extent, error) {
		return q.mapView(v, off, end)
	}}
}

// ChainZeros returns, ascending and merged, the ranges of [off, end) that
// a chain (top first) reads as zeros without reading data: where the first
// layer from the top that maps a byte says it is zero, where a layer's end
// comes before any layer above maps it, and where no layer maps it. It
// holds the extents of the window: callers ask for windows of a bounded
// number of L2 tables. Errors: those of the layers' walks.
func ChainZeros(layers []ChainLayer, off, end int64) ([]extent.Extent, error) {
	var covered, zero []extent.Extent
	for _, l := range layers {
		var a, z []extent.Extent
		if off < l.Size {
			var err error
			if a, z, err = l.Map(off, min(end, l.Size)); err != nil {
				return nil, err
			}
		}
		if l.Size < end {
			past := extent.Extent{Offset: max(off, l.Size), Length: end - max(off, l.Size)}
			a, z = append(a, past), append(z, past)
		}
		zero = extent.UnionSlices(zero, extent.SubtractSlices(z, covered))
		covered = extent.UnionSlices(covered, a)
	}
	rest := extent.SubtractSlices([]extent.Extent{{Offset: off, Length: end - off}}, covered)
	return extent.UnionSlices(zero, rest), nil
}

func collect(seq iter.Seq2[extent.Extent, error]) ([]extent.Extent, error) {
	var out []extent.Extent
	for e, err := range seq {
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}
