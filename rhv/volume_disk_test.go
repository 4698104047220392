package rhv_test

import (
	"errors"
	"github.com/changedblocks/sdk/cbt/cbttest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/internal/qemutools"
	"github.com/changedblocks/sdk/rhv"
)

// diskSmall builds a chain of n 1 MiB qcow2 volumes, each with one write.
func diskSmall(t *testing.T, layout diskLayout, n int) (*diskChain, []string) {
	c := diskNewChain(t, layout, diskUUID(0x2c, uint64(n)))
	var ids []string
	for range n {
		id := c.add(diskVolSpec{size: 1 << 20})
		c.io(id, "write -P 7 64k 64k")
		ids = append(ids, id)
	}
	return c, ids
}

// diskOpenErr opens a volume that must fail with class, its message holding
// each of want.
func diskOpenErr(t *testing.T, chain *rhv.Chain, vol string, opts *rhv.VolumeOptions, class error, want ...string) {
	t.Helper()
	d, err := rhv.OpenVolume(chain, vol, opts)
	if d != nil {
		_ = d.Close()
	}
	require.ErrorIs(t, err, class)
	var ce *cbt.Error
	assert.True(t, errors.As(err, &ce), "a *cbt.Error: %v", err)
	for _, w := range want {
		assert.Contains(t, err.Error(), w)
	}
}

func TestOpenVolumeArguments(t *testing.T) {
	c, ids := diskSmall(t, diskFileDomain, 2)
	diskOpenErr(t, nil, "", c.options(), cbt.ErrInvalidArgument, "nil chain")
	diskOpenErr(t, &c.chain, "", nil, cbt.ErrInvalidArgument, "Path or Dir")
	diskOpenErr(t, &c.chain, "", &rhv.VolumeOptions{}, cbt.ErrInvalidArgument, "Path or Dir")
	diskOpenErr(t, &c.chain, diskUUID(0xee, 1), c.options(), cbt.ErrNotFound, "not in the chain")
	diskOpenErr(t, &rhv.Chain{Image: "x", Ordered: true}, "", c.options(), cbt.ErrNotFound, "no volume")

	unordered := c.chain
	unordered.Ordered = false
	diskOpenErr(t, &unordered, "", c.options(), cbt.ErrCorrupt, "not one line")

	swapped := rhv.Chain{Image: c.chain.Image, Ordered: true, Volumes: []rhv.Volume{c.chain.Volumes[1], c.chain.Volumes[0]}}
	diskOpenErr(t, &swapped, "", c.options(), cbt.ErrCorrupt, "must start at its base")

	twice := rhv.Chain{Image: c.chain.Image, Ordered: true, Volumes: []rhv.Volume{c.chain.Volumes[0], c.chain.Volumes[0]}}
	diskOpenErr(t, &twice, "", c.options(), cbt.ErrCorrupt, "twice")

	// A Path that fails, and one that gives a missing file.
	failing := &rhv.VolumeOptions{Path: func(rhv.Volume) (string, error) { return "", errors.New("no such LV") }}
	diskOpenErr(t, &c.chain, "", failing, cbt.ErrNotFound, "no such LV")
	missing := &rhv.VolumeOptions{Dir: t.TempDir()}
	diskOpenErr(t, &c.chain, "", missing, cbt.ErrNotFound, ids[0])

	// The default Dir mapping refuses an ID that would leave the directory.
	evil := rhv.Chain{Image: c.chain.Image, Ordered: true, Volumes: []rhv.Volume{{ID: "../etc", Parent: rhv.BlankUUID, Format: rhv.FormatCOW}}}
	diskOpenErr(t, &evil, "", &rhv.VolumeOptions{Dir: c.root}, cbt.ErrInvalidArgument, "want a UUID")
	noImage := rhv.Chain{Ordered: true, Volumes: []rhv.Volume{{ID: ids[0], Parent: rhv.BlankUUID, Format: rhv.FormatCOW}}}
	diskOpenErr(t, &noImage, "", c.options(), cbt.ErrInvalidArgument, "no image UUID")
}

func TestOpenVolumeMarked(t *testing.T) {
	c, _ := diskSmall(t, diskFileDomain, 2)
	removed := c.chain
	removed.Volumes = append([]rhv.Volume(nil), c.chain.Volumes...)
	removed.Volumes[0].Removed = true
	diskOpenErr(t, &removed, "", c.options(), cbt.ErrCorrupt, "removed")
	half := c.chain
	half.Volumes = append([]rhv.Volume(nil), c.chain.Volumes...)
	half.Volumes[1].Initializing = true
	diskOpenErr(t, &half, "", c.options(), cbt.ErrCorrupt, "half-created")
	// A volume above the opened one is not looked at.
	d, err := rhv.OpenVolume(&half, c.chain.Volumes[0].ID, c.options())
	require.NoError(t, err)
	require.NoError(t, d.Close())
}

func TestOpenVolumeBackingDisagrees(t *testing.T) {
	for _, layout := range []diskLayout{diskFileDomain, diskBlockDomain} {
		t.Run(layout.String(), func(t *testing.T) {
			c, ids := diskSmall(t, layout, 3)
			// v2's qcow2 header now names the base, the metadata still v1.
			qemutools.QemuImg(t, "rebase", "-u", "-f", "qcow2", "-b", c.backingName(ids[0]), "-F", "qcow2", c.imagePath(ids[2]))
			diskOpenErr(t, &c.chain, "", c.options(), cbt.ErrCorrupt, "disagree", ids[1], ids[0])
			d, err := rhv.OpenVolume(&c.chain, ids[1], c.options())
			require.NoError(t, err, "the volumes below are fine")
			require.NoError(t, d.Close())

			// No backing file at all.
			qemutools.QemuImg(t, "rebase", "-u", "-f", "qcow2", "-b", "", c.imagePath(ids[2]))
			diskOpenErr(t, &c.chain, "", c.options(), cbt.ErrCorrupt, "names no backing file")

			// The metadata says v1 is a base, its qcow2 header names one.
			top := rhv.Chain{Image: c.chain.Image, Ordered: true, Volumes: []rhv.Volume{c.chain.Volumes[1]}}
			top.Volumes[0].Parent = rhv.BlankUUID
			diskOpenErr(t, &top, "", c.options(), cbt.ErrCorrupt, "is the base of the chain in the metadata")

			// A backing format that is not the parent's.
			qemutools.QemuImg(t, "rebase", "-u", "-f", "qcow2", "-b", c.backingName(ids[0]), "-F", "raw", c.imagePath(ids[1]))
			diskOpenErr(t, &c.chain, ids[1], c.options(), cbt.ErrCorrupt, `backing format "raw"`)
		})
	}
}

func TestOpenVolumeRaw(t *testing.T) {
	c := diskNewChain(t, diskBlockDomain, diskUUID(0x3d, 1))
	base := c.add(diskVolSpec{raw: true, size: 1 << 20})
	c.io(base, "write -P 9 0 4k")
	top := c.add(diskVolSpec{size: 2 << 20})
	c.io(top, "write -P 8 1M 4k")

	// A RAW base: allocated all over, below the overlay's size.
	d := gtOpen(t, c, base)
	assert.Equal(t, int64(512), d.Granularity())
	got, err := cbt.Collect(d.Changes(t.Context(), cbt.ChangeID{}, nil))
	require.NoError(t, err)
	assert.Equal(t, []cbt.Extent{{Offset: 0, Length: 1 << 20}}, got)
	d = gtOpen(t, c, top)
	got, err = cbt.Collect(d.Changes(t.Context(), cbt.ChangeID{}, nil))
	require.NoError(t, err)
	assert.Equal(t, []cbt.Extent{{Offset: 0, Length: 1<<20 + 64<<10}}, got)
	// Since the base: the overlay's cluster, and the bytes beyond the base.
	got, err = cbt.Collect(d.Changes(t.Context(), cbttest.MustChangeID(t, gtOpen(t, c, base)), nil))
	require.NoError(t, err)
	assert.Equal(t, []cbt.Extent{{Offset: 1 << 20, Length: 1 << 20}}, got)

	// A RAW volume above the base, in the metadata or in fact.
	rawAbove := c.chain
	rawAbove.Volumes = append([]rhv.Volume(nil), c.chain.Volumes...)
	rawAbove.Volumes[1].Format = rhv.FormatRAW
	diskOpenErr(t, &rawAbove, "", c.options(), cbt.ErrUnsupported, "RAW above the base")
	unknown := c.chain
	unknown.Volumes = append([]rhv.Volume(nil), c.chain.Volumes...)
	unknown.Volumes[1].Format = rhv.FormatUnknown
	require.NoError(t, os.WriteFile(c.filePath(top), make([]byte, 1<<20), 0o644))
	diskOpenErr(t, &unknown, "", c.options(), cbt.ErrUnsupported, "raw above the base")
	// COW in the metadata, no qcow2 header in the file.
	diskOpenErr(t, &c.chain, "", c.options(), cbt.ErrCorrupt, "holds no qcow2 header")
}

func TestChangesArguments(t *testing.T) {
	c, ids := diskSmall(t, diskFileDomain, 3)
	d1 := gtOpen(t, c, ids[1])
	leaf := gtOpen(t, c, "")

	list := func(d *cbt.Disk, since cbt.ChangeID) error {
		_, err := cbt.Collect(d.Changes(t.Context(), since, nil))
		return err
	}
	// A base above the disk's volume.
	assert.ErrorIs(t, list(gtOpen(t, c, ids[0]), cbttest.MustChangeID(t, d1)), cbt.ErrInvalidArgument)
	// Another scheme, and an rhv change ID that names no volume.
	other, _ := cbt.NewChangeID("qcow2", "layer:"+ids[0])
	assert.ErrorIs(t, list(leaf, other), cbt.ErrInvalidArgument)
	cp, _ := cbt.NewChangeID(rhv.Scheme, "checkpoint:"+ids[0])
	assert.ErrorIs(t, list(leaf, cp), cbt.ErrInvalidArgument)
	// A volume of another chain.
	foreign, err := rhv.VolumeChangeID(diskUUID(0xef, 9))
	require.NoError(t, err)
	err = list(leaf, foreign)
	assert.ErrorIs(t, err, cbt.ErrChangeIDInvalid)
	// Since itself: nothing; without the guard, refused.
	got, err := cbt.Collect(d1.Changes(t.Context(), cbttest.MustChangeID(t, d1), nil))
	require.NoError(t, err)
	assert.Empty(t, got)
	plain, err := rhv.VolumeChangeID(ids[1])
	require.NoError(t, err)
	err = list(d1, plain)
	assert.ErrorIs(t, err, cbt.ErrChangeIDInvalid)
	assert.ErrorContains(t, err, "carries no guard")
	// The leaf as a base names no fixed point.
	lp, err := rhv.VolumeChangeID(ids[2])
	require.NoError(t, err)
	assert.ErrorIs(t, list(leaf, lp), cbt.ErrChangeIDInvalid)
	assert.Equal(t, filepath.Join(c.root, "images", c.chain.Image, ids[2]), leaf.Name())
	assert.Equal(t, rhv.Scheme, leaf.Scheme())
}

// TestOpenVolumeBusy: the leaf of a running VM (here, qemu-nbd holding it
// for writing) gives cbt.ErrBusy; the volumes below can be listed.
func TestOpenVolumeBusy(t *testing.T) {
	c, ids := diskSmall(t, diskFileDomain, 2)
	qemutools.Hold(t, "qcow2", c.imagePath(ids[1]))
	diskOpenErr(t, &c.chain, "", c.options(), cbt.ErrBusy, "in use")
	d := gtOpen(t, c, ids[0])
	got, err := cbt.Collect(d.Changes(t.Context(), cbt.ChangeID{}, nil))
	require.NoError(t, err)
	assert.Equal(t, []cbt.Extent{{Offset: 64 << 10, Length: 64 << 10}}, got)
}
