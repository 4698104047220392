package rhv_test

// Points re-created under the same IDs, on real chains in both layouts: the
// volumes below a point (or the point itself) written, restored from an
// older copy, rebuilt under the same UUIDs, rebased or merged. For each, the
// differing bytes between the export at the base then and at the listed
// volume now are computed, the test checks that the layers above the base
// (all a listing since it reads) do not cover them, so that a listing that
// went ahead would be short, and then that the listing is refused with
// cbt.ErrChangeIDInvalid, never short.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/cbttest"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/qemutools"
	"github.com/changedblocks/sdk/rhv"
)

// gtRefusedNeverShort lists d since base, where then is the export of the
// view at the base when its change ID was handed out and above the ranges
// the layers above the base allocate now. The differing bytes must lie
// outside above (else the case proves nothing), and the listing must be
// refused; were it not, it must at least cover every differing byte.
func gtRefusedNeverShort(t *testing.T, c *diskChain, d *cbt.Disk, vol string, base cbt.ChangeID, then []byte, above []extent.Extent, want ...string) {
	t.Helper()
	diffs := diskDiffs(then, c.export(vol))
	require.NotEmpty(t, diffs, "the base then and the volume now read the same: nothing to prove")
	_, missed := diskUncovered(extent.Normalize(above), diffs)
	require.True(t, missed, "the layers above the base cover every change: a listing would not be short")
	got, err := cbt.Collect(d.Changes(t.Context(), base, nil))
	if err == nil {
		if miss, short := diskUncovered(got, diffs); short {
			t.Fatalf("UNDER-REPORT: listing since %q is short: changed bytes %v not reported (reported %v, changed %v)", base, miss, got, diffs)
		}
	}
	require.ErrorIs(t, err, cbt.ErrChangeIDInvalid, "since %q", base)
	assert.Empty(t, got, "extents yielded before the error")
	for _, w := range want {
		assert.Contains(t, err.Error(), w)
	}
}

// gtPresentAbove returns what the volumes above index b, up to vol,
// allocate.
func gtPresentAbove(c *diskChain, b int, vol string) []extent.Extent {
	var out []extent.Extent
	for j := b + 1; j <= c.chain.Index(vol); j++ {
		out = append(out, c.present(c.chain.Volumes[j].ID)...)
	}
	return out
}

func TestRecreatedPointLowerVolumeWritten(t *testing.T) {
	for _, layout := range []diskLayout{diskFileDomain, diskBlockDomain} {
		t.Run(layout.String(), func(t *testing.T) {
			c, ids := gtThreeLayers(t, layout)
			base := cbttest.MustChangeID(t, gtOpen(t, c, ids[1]))
			then := c.export(ids[1])
			// Someone writes into the base volume, below the point, where
			// nothing above it writes (an in-place repair, a tool run on the
			// wrong volume).
			c.io(ids[0], "write -P 0x77 128k 64k")
			d := gtOpen(t, c, ids[2])
			gtRefusedNeverShort(t, c, d, ids[2], base, then, gtPresentAbove(c, 1, ids[2]), "written, replaced, restored", "full backup")
		})
	}
}

func TestRecreatedPointRestoredFromOlderCopy(t *testing.T) {
	for _, layout := range []diskLayout{diskFileDomain, diskBlockDomain} {
		t.Run(layout.String(), func(t *testing.T) {
			c := diskNewChain(t, layout, diskUUID(0x1d, uint64(layout)))
			v0 := c.add(diskVolSpec{size: 4 << 20})
			c.io(v0, "write -P 0x10 0 1M")
			v1 := c.add(diskVolSpec{size: 4 << 20})
			c.io(v1, "write -P 0x11 1M 1M")
			// A copy of the storage while v1 was still the leaf, its
			// modification time kept (cp -p, rsync -a).
			old := filepath.Join(t.TempDir(), "v1.old")
			out, err := exec.Command("cp", "-p", c.filePath(v1), old).CombinedOutput()
			require.NoError(t, err, "%s", out)
			// The VM writes on, into clusters v1 already holds (the same
			// allocation) and new ones; then a snapshot freezes v1.
			c.io(v1, "write -P 0x12 1M 64k", "write -P 0x13 3M 64k")
			v2 := c.add(diskVolSpec{size: 4 << 20})
			c.io(v2, "write -P 0x14 2M 64k")
			base := cbttest.MustChangeID(t, gtOpen(t, c, v1))
			then := c.export(v1)
			// v1 is copied back from the older copy, under its UUID.
			out, err = exec.Command("cp", "-p", old, c.filePath(v1)).CombinedOutput()
			require.NoError(t, err, "%s", out)
			d := gtOpen(t, c, v2)
			gtRefusedNeverShort(t, c, d, v2, base, then, gtPresentAbove(c, 1, v2), "restored from an older copy")
		})
	}
}

func TestRecreatedPointChainRebuilt(t *testing.T) {
	for _, layout := range []diskLayout{diskFileDomain, diskBlockDomain} {
		t.Run(layout.String(), func(t *testing.T) {
			img := diskUUID(0x1e, uint64(layout))
			a := diskNewChain(t, layout, img)
			var ids []string
			for i := range 3 {
				id := a.add(diskVolSpec{size: 4 << 20})
				a.io(id, fmt.Sprintf("write -P %d %d 1M", 0x20+i, i<<20))
				ids = append(ids, id)
			}
			base := cbttest.MustChangeID(t, gtOpen(t, a, ids[1]))
			then := a.export(ids[1])
			// The chain made again under the same UUIDs (restored from
			// another copy, or rebuilt by hand), with other contents.
			b := diskNewChain(t, layout, img)
			for i, id := range ids {
				b.add(diskVolSpec{id: id, size: 4 << 20})
				b.io(id, fmt.Sprintf("write -P %d %d 512k", 0x30+i, i<<20+512<<10))
			}
			d := gtOpen(t, b, ids[2])
			gtRefusedNeverShort(t, b, d, ids[2], base, then, gtPresentAbove(b, 1, ids[2]), "full backup")
		})
	}
}

// A volume below the point taken out of the chain by an unsafe rebase (its
// data lost to the view above it, as a botched manual repair leaves it), and
// one merged into its parent (a snapshot below the point deleted).
func TestRecreatedPointLowerRebaseAndMerge(t *testing.T) {
	for _, layout := range []diskLayout{diskFileDomain, diskBlockDomain} {
		t.Run(layout.String(), func(t *testing.T) {
			c, ids := gtThreeLayers(t, layout)
			base := cbttest.MustChangeID(t, gtOpen(t, c, ids[2]))
			then := c.export(ids[2])
			// v2 rebased onto v0 without copying v1's data; v1 removed.
			qemutools.QemuImg(t, "rebase", "-u", "-f", "qcow2", "-b", c.backingName(ids[0]), "-F", "qcow2", c.imagePath(ids[2]))
			c.chain.Volumes[2].Parent = ids[0]
			c.writeMeta(c.chain.Volumes[2])
			c.remove(ids[1])
			c.chain.Volumes = append(c.chain.Volumes[:1:1], c.chain.Volumes[2:]...)
			c.writeLVs()
			d := gtOpen(t, c, ids[3])
			gtRefusedNeverShort(t, c, d, ids[3], base, then, gtPresentAbove(c, 1, ids[3]), "rebased")

			// A proper merge below the point keeps its view, but the SDK
			// cannot prove that: refused too.
			c2, ids2 := gtThreeLayers(t, layout)
			base2 := cbttest.MustChangeID(t, gtOpen(t, c2, ids2[2]))
			then2 := c2.export(ids2[2])
			gtMergeDown(t, c2, ids2[1])
			assert.Equal(t, then2, c2.export(ids2[2]), "a merge keeps the view above it")
			gtExpectInvalid(t, gtOpen(t, c2, ids2[3]), base2, "merged", "full backup")
		})
	}
}

// Change IDs without the guard (an older SDK's "volume:V#C", a bare
// "volume:V") are refused with a message, even when nothing changed.
func TestRecreatedPointUnguardedRefused(t *testing.T) {
	c, ids := gtThreeLayers(t, diskFileDomain)
	d := gtOpen(t, c, ids[3])
	p, err := rhv.VolumePointOf(cbttest.MustChangeID(t, gtOpen(t, c, ids[1])))
	require.NoError(t, err)
	require.NotEmpty(t, p.Guard)
	for _, old := range []rhv.VolumePoint{{Volume: p.Volume, Child: p.Child}, {Volume: p.Volume}} {
		id, err := old.ChangeID()
		require.NoError(t, err)
		gtExpectInvalid(t, d, id, "carries no guard", "full backup")
	}
	// A guard of another form (a tampered or future change ID).
	p.Guard = "g9" + strings.Repeat("0", 32)
	id, err := p.ChangeID()
	require.NoError(t, err)
	gtExpectInvalid(t, d, id, "cannot be proven unchanged")
	// The guarded change ID still lists.
	got, err := cbt.Collect(d.Changes(t.Context(), cbttest.MustChangeID(t, gtOpen(t, c, ids[1])), nil))
	require.NoError(t, err)
	_, missed := diskUncovered(got, diskDiffs(c.export(ids[1]), c.export(ids[3])))
	assert.False(t, missed)
}

// On block devices (an activated block domain: loop devices here), whose
// modification time says nothing, the guard still sees a lower volume's new
// allocation. Needs root and losetup.
func TestRecreatedPointBlockDevices(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("attaching loop devices needs root")
	}
	if _, err := exec.LookPath("losetup"); err != nil {
		t.Skip("losetup not installed")
	}
	c, ids := gtThreeLayers(t, diskBlockDomain)
	dev := t.TempDir()
	for _, id := range ids {
		// An LV is larger than the qcow2 data it holds: room to allocate.
		require.NoError(t, os.Truncate(c.filePath(id), 16<<20))
		out, err := exec.Command("losetup", "--find", "--show", c.filePath(id)).CombinedOutput()
		if err != nil {
			t.Skipf("losetup cannot attach a loop device here: %v: %s", err, out)
		}
		loop := strings.TrimSpace(string(out))
		t.Cleanup(func() {
			if out, err := exec.Command("losetup", "--detach", loop).CombinedOutput(); err != nil {
				t.Errorf("losetup --detach %s: %v: %s", loop, err, out)
			}
		})
		require.NoError(t, os.Symlink(loop, filepath.Join(dev, id)))
	}
	opts := &rhv.VolumeOptions{Dir: dev}
	open := func(id string) *cbt.Disk {
		d, err := rhv.OpenVolume(&c.chain, id, opts)
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, d.Close()) })
		return d
	}
	base := cbttest.MustChangeID(t, open(ids[1]))
	then := c.export(ids[1])
	// Written through the device, where the base volume held nothing.
	qemutools.QemuIOAs(t, "qcow2", filepath.Join(dev, ids[0]), "write -P 0x55 3584k 64k")
	gtRefusedNeverShort(t, c, open(ids[2]), ids[2], base, then, gtPresentAbove(c, 1, ids[2]), "full backup")
}
