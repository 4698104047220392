package unionpage

import (
	"context"
	"iter"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/extent"
)

func listed(es ...extent.Extent) func(context.Context, int64, int64) iter.Seq2[extent.Extent, error] {
	return func(_ context.Context, off, end int64) iter.Seq2[extent.Extent, error] {
		return func(yield func(extent.Extent, error) bool) {
			for _, e := range es {
				if e.End() > off && e.Offset < end && !yield(e, nil) {
					return
				}
			}
		}
	}
}

// Pages taken one after the other give the listing of one big page; a
// window is that listing clipped, also at a grown tail.
func TestPagesMakeTheWhole(t *testing.T) {
	const capacity, gran = 1 << 20, 4096
	a := listed(extent.Extent{Offset: 0, Length: 100}, extent.Extent{Offset: 8192, Length: 4096}, extent.Extent{Offset: 65536, Length: 512})
	b := listed(extent.Extent{Offset: 9000, Length: 9000}, extent.Extent{Offset: 200000, Length: 1})
	sources := []Source{{Limit: capacity, Walk: a}, {Limit: 300000, Walk: b}}
	tail := int64(capacity/2 + 100)
	whole, next, _, err := Layout{Capacity: capacity, Gran: gran, PerSource: 1 << 20}.Page(context.Background(), sources, tail, 0, capacity, nil, nil)
	require.NoError(t, err)
	require.EqualValues(t, capacity, next)
	require.Equal(t, []extent.Extent{{Offset: 0, Length: 4096}, {Offset: 8192, Length: 20480 - 8192}, {Offset: 65536, Length: 4096},
		{Offset: 196608, Length: 4096}}, whole[:4])
	require.Equal(t, extent.Extent{Offset: capacity / 2, Length: capacity / 2}, whole[len(whole)-1], "the tail, widened to its granule")

	lay := Layout{Capacity: capacity, Gran: gran, PageBytes: 64 << 10, PerSource: 1}
	var paged []extent.Extent
	for off := int64(0); off < capacity; {
		out, next, _, err := lay.Page(context.Background(), sources, tail, off, capacity, nil, nil)
		require.NoError(t, err)
		require.Greater(t, next, off)
		for _, e := range out {
			require.Less(t, e.Offset, next)
		}
		paged = append(paged, out...)
		off = next
	}
	require.Equal(t, whole, extent.CoalesceSlice(extent.Normalize(paged), 0))

	one := Layout{Capacity: capacity, Gran: gran, PerSource: 1 << 20} // no page bound: the window alone
	got, _, _, err := one.Page(context.Background(), sources, tail, capacity/2-100, capacity/2+50, nil, nil)
	require.NoError(t, err)
	require.Equal(t, []extent.Extent{{Offset: capacity / 2, Length: capacity / 2}}, got, "a window ending before tail, in its granule")
}
