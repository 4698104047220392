package qcow2

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/changedblocks/sdk/extent"
	"github.com/stretchr/testify/require"
)

// TestRangedWalks checks that DiffRange, AllocatedRange and DirtyExtentsRange
// (also through one BitmapReader)
// give exactly the whole walk clipped to the range, for ranges that start and
// end anywhere (inside clusters, L2 tables, bitmap clusters, beyond the disk).
func TestRangedWalks(t *testing.T) {
	needTools(t, "qemu-img", "qemu-io")
	for _, opts := range []string{"cluster_size=512", "cluster_size=16k,extended_l2=on", "cluster_size=64k"} {
		t.Run(opts, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "r.qcow2")
			createImage(t, p, opts, "8M")
			rng := rand.New(rand.NewPCG(7, 1))
			writes := func(n int) {
				var cmds []string
				for range n {
					off := rng.Int64N(8<<20/512) * 512
					l := min(int64(1+rng.IntN(64))*512, 8<<20-off)
					op := "write -P 1"
					if rng.IntN(4) == 0 {
						op = "write -z"
					}
					cmds = append(cmds, fmt.Sprintf("%s %d %d", op, off, l))
				}
				qemuIO(t, p, cmds...)
			}
			writes(40)
			qemuImg(t, "snapshot", "-c", "s1", p)
			qemuImg(t, "bitmap", "--add", "-g", "512", p, "b1")
			writes(40)
			img := openFile(t, p, nil)
			snaps, err := img.Snapshots()
			require.NoError(t, err)
			sv, err := img.SnapshotView(&snaps[0])
			require.NoError(t, err)
			av := img.ActiveView()
			bms, err := img.Bitmaps()
			require.NoError(t, err)
			size := av.DiskSize

			full := map[string][]extent.Extent{
				"diff":      collect(t, img.Diff(sv, av)),
				"allocated": collect(t, img.Allocated(av)),
				"dirty":     collect(t, img.DirtyExtents(&bms[0], size)),
			}
			full["dirty reader"] = full["dirty"]
			reader := img.NewBitmapReader(&bms[0], size) // one, shared by every range
			ranged := map[string]func(off, end int64) []extent.Extent{
				"diff":      func(off, end int64) []extent.Extent { return collect(t, img.DiffRange(sv, av, off, end)) },
				"allocated": func(off, end int64) []extent.Extent { return collect(t, img.AllocatedRange(av, off, end)) },
				"dirty": func(off, end int64) []extent.Extent {
					return collect(t, img.DirtyExtentsRange(&bms[0], size, off, end))
				},
				"dirty reader": func(off, end int64) []extent.Extent {
					return collect(t, reader.DirtyExtentsRange(off, end))
				},
			}
			for name, all := range full {
				require.NotEmpty(t, all, name)
				var pts []int64
				for _, e := range all {
					pts = append(pts, e.Offset, e.End(), e.Offset+e.Length/2)
				}
				for range 200 {
					a := pts[rng.IntN(len(pts))] + rng.Int64N(2048) - 1024
					b := a + rng.Int64N(size/2)
					if rng.IntN(8) == 0 {
						b = size + 1<<20
					}
					want := extent.ClipSlice(append([]extent.Extent(nil), all...), max(a, 0), b)
					got := ranged[name](a, b)
					if len(want) == 0 {
						require.Empty(t, got, "%s [%d, %d)", name, a, b)
						continue
					}
					require.Equal(t, want, got, "%s [%d, %d)", name, a, b)
				}
				// Pages that partition the disk give the whole walk back.
				var paged []extent.Extent
				for off := int64(0); off < size; off += 96 << 10 {
					paged = append(paged, ranged[name](off, off+96<<10)...)
				}
				require.Equal(t, all, extent.Normalize(paged), name)
			}
			// ReadL1 hands out copies: the cached table stays intact.
			l1, err := img.ReadL1(av)
			require.NoError(t, err)
			for i := range l1 {
				l1[i] = 0
			}
			require.Equal(t, full["allocated"], collect(t, img.Allocated(av)))
		})
	}
}
