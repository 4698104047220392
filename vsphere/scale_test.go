package vsphere_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A million changed extents of a 2 TiB disk served by vcsimcbt with ESXi's
// defaults (2 GiB windows, 2000 areas per answer, 64 KiB blocks): the listing
// reports every one and makes exactly the minimal number of calls. Skipped in
// -short mode (about 5 s, 22 s under -race).
func TestVcsimMillionExtents(t *testing.T) {
	if testing.Short() {
		t.Skip("a million writes")
	}
	withVcsim(t, nil, func(e *env) {
		const capacity, n = int64(2) << 40, 1_000_000
		vm, keys := e.newVM(vmSpec{capacity: capacity})
		key := keys[0]
		e.enable(vm)
		base := e.snapshot(vm)
		start := time.Now()
		for i := range int64(n) {
			// Half of them dense in the first 64 GiB (16384 per window: full
			// answers), half spread over the second TiB (a few hundred per
			// window); the windows in between are empty.
			off := i * (128 << 10)
			if i >= n/2 {
				off = capacity/2 + (i-n/2)*(capacity/2/(n/2))
			}
			require.NoError(t, e.tr.Write(vm, key, off, 512))
		}
		t.Logf("%d writes in %v", n, time.Since(start))
		s := e.snapshot(vm)
		d := e.open(s, key, nil)
		since := changeID(t, base, key)
		start = time.Now()
		count := 0
		calls0 := e.tr.Calls()
		for _, err := range d.Changes(e.ctx, since, nil) {
			require.NoError(t, err)
			count++
		}
		calls := e.tr.Calls() - calls0
		t.Logf("%d extents in %d calls in %v", count, calls, time.Since(start))
		assert.Equal(t, n, count)
		assert.Equal(t, e.minimal(s, key, since), calls)
	})
}
