package rhv_test

// Bases that a snapshot deletion merged away or merged into, on real chains:
// `qemu-img commit` of a volume into its parent, the child rebased onto the
// parent (qemu-img rebase -u), the committed volume's files removed and the
// chain metadata without it, as RHV leaves a chain after deleting a snapshot.

import (
	"fmt"
	"github.com/changedblocks/sdk/cbt/cbttest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/qemutools"
	"github.com/changedblocks/sdk/rhv"
)

// gtMergeDown commits volume vol into its parent and takes it out of the
// chain: its child (if any) is rebased onto the parent.
func gtMergeDown(t *testing.T, c *diskChain, vol string) {
	t.Helper()
	i := c.chain.Index(vol)
	require.Positive(t, i, "volume %s has no parent", vol)
	parent := c.chain.Volumes[i-1]
	qemutools.QemuImg(t, "commit", "-q", "-f", "qcow2", c.imagePath(vol))
	if i+1 < len(c.chain.Volumes) {
		child := c.chain.Volumes[i+1]
		f := "qcow2"
		if parent.Format == rhv.FormatRAW {
			f = "raw"
		}
		qemutools.QemuImg(t, "rebase", "-u", "-f", "qcow2", "-b", c.backingName(parent.ID), "-F", f, c.imagePath(child.ID))
		c.chain.Volumes[i+1].Parent = parent.ID
	} else {
		c.chain.Volumes[i-1].Role = rhv.RoleLeaf
	}
	c.remove(vol)
	c.chain.Volumes = append(c.chain.Volumes[:i:i], c.chain.Volumes[i+1:]...)
}

// gtOpen opens the disk at a volume and closes it with the test.
func gtOpen(t *testing.T, c *diskChain, vol string) *cbt.Disk {
	t.Helper()
	d, err := rhv.OpenVolume(&c.chain, vol, c.options())
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, d.Close()) })
	return d
}

// gtExpectInvalid checks that a listing since base gives
// cbt.ErrChangeIDInvalid, with nothing before it, and a message holding
// each of want.
func gtExpectInvalid(t *testing.T, d *cbt.Disk, base cbt.ChangeID, want ...string) {
	t.Helper()
	got, err := cbt.Collect(d.Changes(t.Context(), base, nil))
	require.ErrorIs(t, err, cbt.ErrChangeIDInvalid, "since %q", base)
	assert.Empty(t, got, "extents yielded before the error")
	for _, w := range want {
		assert.Contains(t, err.Error(), w)
	}
}

// gtThreeLayers builds base, two internal volumes and a leaf, each written
// in its own area: base [0,1M), v1 [1M,2M), v2 [2M,3M), leaf [3M,4M).
func gtThreeLayers(t *testing.T, layout diskLayout) (*diskChain, []string) {
	c := diskNewChain(t, layout, diskUUID(0x1b, uint64(layout)))
	var ids []string
	for i := range 4 {
		id := c.add(diskVolSpec{size: 4 << 20})
		c.io(id, fmt.Sprintf("write -P %d %d 1M", 0x10+i, i<<20))
		ids = append(ids, id)
	}
	return c, ids
}

func TestMergedBase(t *testing.T) {
	for _, layout := range []diskLayout{diskFileDomain, diskBlockDomain} {
		t.Run(layout.String(), func(t *testing.T) {
			c, ids := gtThreeLayers(t, layout)
			id1 := cbttest.MustChangeID(t, gtOpen(t, c, ids[1]))
			id2 := cbttest.MustChangeID(t, gtOpen(t, c, ids[2]))
			require.True(t, strings.HasPrefix(id1.String(), "rhv:volume:"+ids[1]+"#"+ids[2]+"~"), "%s", id1)
			before := c.export(ids[1])

			// Deleting the snapshot of v1: v2 is merged into v1, and the
			// leaf now sits on v1.
			gtMergeDown(t, c, ids[2])
			leaf := gtOpen(t, c, ids[3])
			gtExpectInvalid(t, leaf, id2, ids[2], "no longer in the chain", "full backup")
			gtExpectInvalid(t, leaf, id1, "had child "+ids[2], "merged into it", "full backup")

			// Why the guard: a listing since the unguarded change ID of v1
			// would miss what the merge wrote into v1 ([2M, 3M)): it is
			// refused.
			plain, err := rhv.VolumeChangeID(ids[1])
			require.NoError(t, err)
			gtExpectInvalid(t, leaf, plain, "carries no guard", "full backup")
			changed := diskDiffs(before, c.export(ids[3]))
			_, missed := diskUncovered(changed, []extent.Extent{{Offset: 2 << 20, Length: 1 << 20}})
			require.False(t, missed, "v2's writes [2M, 3M) differ between v1 then and the leaf now")

			// A full listing still covers everything.
			all, err := cbt.Collect(leaf.Changes(t.Context(), cbt.ChangeID{}, nil))
			require.NoError(t, err)
			_, missed = diskUncovered(all, diskNonZero(c.export(ids[3])))
			assert.False(t, missed)
		})
	}
}

func TestMergedLeaf(t *testing.T) {
	for _, layout := range []diskLayout{diskFileDomain, diskBlockDomain} {
		t.Run(layout.String(), func(t *testing.T) {
			c, ids := gtThreeLayers(t, layout)
			id2 := cbttest.MustChangeID(t, gtOpen(t, c, ids[2]))
			// Deleting the latest snapshot: the leaf is merged into v2 (a
			// live merge's active commit), v2 is the leaf again.
			gtMergeDown(t, c, ids[3])
			d := gtOpen(t, c, ids[2])
			_, noID := d.ChangeID()
			assert.ErrorIs(t, noID, cbt.ErrUnsupported, "the leaf hands out no change ID")
			gtExpectInvalid(t, d, id2, "it is now the leaf", "full backup")
			plain, err := rhv.VolumeChangeID(ids[2])
			require.NoError(t, err)
			gtExpectInvalid(t, d, plain, "is the leaf", "no fixed point")
			// The volume below is still a good base.
			id1 := cbttest.MustChangeID(t, gtOpen(t, c, ids[1]))
			got, err := cbt.Collect(d.Changes(t.Context(), id1, nil))
			require.NoError(t, err)
			_, missed := diskUncovered(got, diskDiffs(c.export(ids[1]), c.export(ids[2])))
			assert.False(t, missed)
			assert.NotEmpty(t, got)
		})
	}
}
