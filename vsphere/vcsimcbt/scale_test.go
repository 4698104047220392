package vcsimcbt

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/extent"
)

// One million changed extents on a 2 TiB disk: the model serves them in the
// minimal number of calls and stays fast enough for benchmarks of a client.
// With about 977 extents per 2 GiB window the windows, not the 2000-extent
// cap, set the count: 1024 calls.
func TestMillionExtentsOn2TiB(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a million-extent disk")
	}
	withEnv(t, nil, func(e *env) {
		disk := e.disk(nil)
		disk.CapacityInBytes = 2 << 40
		disk.CapacityInKB = 0
		require.NoError(t, e.vm.EditDevice(e.ctx, disk))
		_, base := e.tracked()

		const n = 1_000_000
		stride := (int64(2) << 40) / n / DefaultBlockSize * DefaultBlockSize // 2 MiB
		es := make([]extent.Extent, n)
		for i := range es {
			es[i] = extent.Extent{Offset: int64(i) * stride, Length: 4 * kib}
		}
		start := time.Now()
		require.NoError(t, e.tr.WriteAll(e.ref(), diskKey, es))
		s := e.snapshot("s")
		t.Logf("recorded %d writes in %v", n, time.Since(start))

		want, err := e.tr.MinimalCalls(e.ref(), diskKey, base, &s)
		require.NoError(t, err)
		assert.Equal(t, int((2<<40)/DefaultWindow), want)

		start = time.Now()
		e.tr.ResetCalls()
		all, pages := e.pageAll(&s, base, 2<<40)
		t.Logf("paged %d extents in %d calls in %v", len(all), len(pages), time.Since(start))
		assert.Len(t, all, n)
		assert.Equal(t, want, e.tr.Calls())
	})
}
