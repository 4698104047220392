package qemu_test

import (
	"fmt"
	"github.com/changedblocks/sdk/cbt/cbttest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/qcow2"
	"github.com/changedblocks/sdk/internal/qemutools"
	"github.com/changedblocks/sdk/qemu"
	"github.com/stretchr/testify/require"
)

// threeLayers builds base.qcow2 <- mid.qcow2 <- top.qcow2 in one directory,
// mid naming its backing file relatively and top absolutely.
func threeLayers(t *testing.T) (dir, base, mid, top string) {
	qemutools.Need(t, "qemu-img", "qemu-io")
	dir = t.TempDir()
	base, mid, top = filepath.Join(dir, "base.qcow2"), filepath.Join(dir, "mid.qcow2"), filepath.Join(dir, "top.qcow2")
	qemutools.Create(t, base, "cluster_size=64k", "4M")
	qemutools.QemuIO(t, base, "write -P 1 0 128k", "write -P 1 2M 64k")
	qemutools.Create(t, mid, "cluster_size=64k", "4M", "-b", "base.qcow2", "-F", "qcow2")
	qemutools.QemuIO(t, mid, "write -P 2 1M 4k", "write -z 3M 64k")
	qemutools.Create(t, top, "cluster_size=64k", "4M", "-b", mid, "-F", "qcow2")
	qemutools.QemuIO(t, top, "write -P 3 64k 4k")
	return dir, base, mid, top
}

func TestChainLayers(t *testing.T) {
	dir, base, mid, top := threeLayers(t)
	im, err := qemu.OpenImage(top, trusted)
	require.NoError(t, err)
	defer im.Close()
	chain := im.Chain()
	require.Len(t, chain, 3)
	for i := range chain {
		chain[i].Point = qemu.Point{} // checked below
	}
	require.Equal(t, []qemu.Layer{
		{Path: top, Format: "qcow2", VirtualSize: 4 * miB, Depth: 0},
		{Path: mid, Name: mid, Format: "qcow2", VirtualSize: 4 * miB, Depth: 1},
		{Path: base, Name: "base.qcow2", Format: "qcow2", VirtualSize: 4 * miB, Depth: 2},
	}, chain)
	require.Equal(t, qemu.Active(), im.Chain()[0].Point)
	midPoint := im.Chain()[1].Point
	require.Equal(t, qemu.PointLayer, midPoint.Kind)
	require.True(t, strings.HasPrefix(midPoint.Name, mid+"#"), midPoint.Name)
	require.Equal(t, mid, im.Info().BackingFile)
	require.Equal(t, "qcow2", im.Info().BackingFormat)

	act, err := im.Open(qemu.Active())
	require.NoError(t, err)
	defer act.Close()
	// Since the mid layer: what top allocates.
	require.Equal(t, []extent.Extent{ext(64*kiB, 64*kiB)}, mustList(t, act, changeID(t, qemu.LayerPoint(mid))))
	// Since the base, named as mid records it: mid and top.
	require.Equal(t, []extent.Extent{ext(64*kiB, 64*kiB), ext(1*miB, 64*kiB), ext(3*miB, 64*kiB)},
		mustList(t, act, changeID(t, qemu.LayerPoint("base.qcow2"))))
	// Zero since: everything down the chain.
	require.Equal(t, []extent.Extent{ext(0, 128*kiB), ext(1*miB, 64*kiB), ext(2*miB, 64*kiB), ext(3*miB, 64*kiB)},
		mustList(t, act, cbt.ChangeID{}))
	// The top image is no fixed point: as a base it is refused, as a point it
	// hands out no change ID.
	_, err = listChanges(t, act, changeID(t, qemu.LayerPoint(top)))
	require.ErrorIs(t, err, cbt.ErrChangeIDInvalid)
	td, err := im.Open(qemu.LayerPoint(top))
	require.NoError(t, err)
	_, noID := td.ChangeID()
	require.ErrorIs(t, noID, cbt.ErrUnsupported, "the top layer names no fixed point")
	require.NoError(t, td.Close())
	// A file not in the chain.
	_, err = listChanges(t, act, changeID(t, qemu.LayerPoint(filepath.Join(dir, "other.qcow2"))))
	require.ErrorIs(t, err, cbt.ErrChangeIDInvalid)

	// The disk at the mid layer, opened by a relative path through the cwd.
	t.Chdir(dir)
	md, err := im.Open(qemu.LayerPoint("mid.qcow2"))
	require.NoError(t, err)
	defer md.Close()
	require.Equal(t, changeID(t, midPoint), cbttest.MustChangeID(t, md))
	// The guarded point names the same layer.
	require.Equal(t, []extent.Extent{ext(64*kiB, 64*kiB)}, mustList(t, act, changeID(t, midPoint)))
	require.Equal(t, []extent.Extent{ext(1*miB, 64*kiB), ext(3*miB, 64*kiB)}, mustList(t, md, changeID(t, qemu.LayerPoint(base))))
	require.Equal(t, []extent.Extent{ext(0, 128*kiB), ext(1*miB, 64*kiB), ext(2*miB, 64*kiB), ext(3*miB, 64*kiB)},
		mustList(t, md, cbt.ChangeID{}))
	// A layer above the point.
	_, err = listChanges(t, md, changeID(t, qemu.LayerPoint(top)))
	require.ErrorIs(t, err, cbt.ErrInvalidArgument)
	require.Empty(t, mustList(t, md, changeID(t, qemu.LayerPoint(mid))))
	// A snapshot base is for the top image only; "active" is no fixed point.
	snapshot(t, top, "s1")
	_, err = listChanges(t, md, snapID(t, top, "s1"))
	require.ErrorIs(t, err, cbt.ErrInvalidArgument)
	_, err = listChanges(t, md, changeID(t, qemu.Active()))
	require.ErrorIs(t, err, cbt.ErrChangeIDInvalid)
	require.Empty(t, mustList(t, act, changeID(t, qemu.Active())))

	_, err = im.Open(qemu.LayerPoint(filepath.Join(dir, "nope.qcow2")))
	require.ErrorIs(t, err, cbt.ErrNotFound)
}

func TestChainSnapshotSinceLayer(t *testing.T) {
	_, _, mid, top := threeLayers(t)
	snapshot(t, top, "s1")
	qemutools.QemuIO(t, top, "write -P 4 2M 4k")
	d := openAt(t, top, qemu.SnapshotPoint("s1"), trusted)
	// At the snapshot, since mid: the snapshot's own allocation only.
	require.Equal(t, []extent.Extent{ext(64*kiB, 64*kiB)}, mustList(t, d, changeID(t, qemu.LayerPoint(mid))))
	act := openAt(t, top, qemu.Active(), trusted)
	require.Equal(t, []extent.Extent{ext(2*miB, 64*kiB)}, mustList(t, act, snapID(t, top, "s1")))
}

func TestChainGrownOverlay(t *testing.T) {
	qemutools.Need(t, "qemu-img", "qemu-io")
	dir := t.TempDir()
	base, top := filepath.Join(dir, "base.qcow2"), filepath.Join(dir, "top.qcow2")
	qemutools.Create(t, base, "cluster_size=64k", "1M")
	qemutools.QemuIO(t, base, "write -P 1 0 64k")
	qemutools.Create(t, top, "cluster_size=64k", "2M", "-b", "base.qcow2", "-F", "qcow2")
	d := openAt(t, top, qemu.Active(), trusted)
	require.Equal(t, 2*miB, d.Capacity())
	// The bytes beyond the base's size are new since the base.
	require.Equal(t, []extent.Extent{ext(1*miB, 1*miB)}, mustList(t, d, changeID(t, qemu.LayerPoint(base))))
	require.Equal(t, []extent.Extent{ext(0, 64*kiB)}, mustList(t, d, cbt.ChangeID{}))
}

func TestChainRawBase(t *testing.T) {
	qemutools.Need(t, "qemu-img", "qemu-io")
	dir := t.TempDir()
	base, top := filepath.Join(dir, "base.raw"), filepath.Join(dir, "top.qcow2")
	qemutools.CreateAs(t, "raw", base, "", "4M")
	qemutools.QemuIOAs(t, "raw", base, "write -P 1 1M 4k")
	qemutools.Create(t, top, "cluster_size=64k", "4M", "-b", "base.raw", "-F", "raw")
	// No backing format recorded (qemu-img always writes one now: turn the
	// extension into an unknown one): probed as raw.
	dropBackingFormat(t, top)
	qemutools.QemuIO(t, top, "write -P 2 0 4k")
	im, err := qemu.OpenImage(top, trusted)
	require.NoError(t, err)
	defer im.Close()
	require.Equal(t, "raw", im.Chain()[1].Format)
	require.Equal(t, "", im.Info().BackingFormat)
	d, err := im.Open(qemu.Active())
	require.NoError(t, err)
	defer d.Close()
	got := mustList(t, d, cbt.ChangeID{})
	// The raw data, widened to 512 bytes and then to the granularity, unless the
	// file system cannot tell holes (then all of it).
	if len(got) == 1 {
		require.Equal(t, []extent.Extent{ext(0, 4*miB)}, got)
	} else {
		require.Equal(t, []extent.Extent{ext(0, 64*kiB), ext(1*miB, 64*kiB)}, got)
	}
	require.Equal(t, []extent.Extent{ext(0, 64*kiB)}, mustList(t, d, changeID(t, qemu.LayerPoint(base))))
	// The raw base itself as a point.
	rd, err := im.Open(qemu.LayerPoint(base))
	require.NoError(t, err)
	defer rd.Close()
	require.Equal(t, 4*miB, rd.Capacity())
	rgot := mustList(t, rd, cbt.ChangeID{})
	require.True(t, extent.IsNormalized(rgot))
	require.NotEmpty(t, rgot)
}

func TestChainErrors(t *testing.T) {
	qemutools.Need(t, "qemu-img", "qemu-io")
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.qcow2"), filepath.Join(dir, "b.qcow2")

	t.Run("MissingImage", func(t *testing.T) {
		_, err := qemu.OpenImage(filepath.Join(dir, "none.qcow2"), nil)
		require.ErrorIs(t, err, cbt.ErrNotFound)
		var ce *cbt.Error
		require.ErrorAs(t, err, &ce)
	})
	t.Run("NotQcow2", func(t *testing.T) {
		r := filepath.Join(dir, "r.raw")
		require.NoError(t, os.WriteFile(r, make([]byte, 4096), 0o644))
		_, err := qemu.OpenImage(r, nil)
		require.ErrorIs(t, err, cbt.ErrUnsupported)
		require.Contains(t, err.Error(), "not a qcow2 image")
		require.Contains(t, err.Error(), "has no change tracking metadata")
	})
	t.Run("MissingBacking", func(t *testing.T) {
		qemutools.Create(t, b, "", "1M")
		qemutools.Create(t, a, "", "1M", "-b", "b.qcow2", "-F", "qcow2")
		require.NoError(t, os.Remove(b))
		_, err := qemu.OpenImage(a, nil)
		require.ErrorIs(t, err, cbt.ErrNotFound)
		require.Contains(t, err.Error(), `"b.qcow2"`)
		require.Contains(t, err.Error(), a)
	})
	t.Run("Loop", func(t *testing.T) {
		qemutools.Create(t, b, "", "1M")
		qemutools.Create(t, a, "", "1M", "-b", "b.qcow2", "-F", "qcow2")
		qemutools.QemuImg(t, "rebase", "-u", "-b", "a.qcow2", "-F", "qcow2", b)
		_, err := qemu.OpenImage(a, nil)
		require.ErrorIs(t, err, cbt.ErrCorrupt)
		require.Contains(t, err.Error(), "loops")
		// An image that is its own backing file.
		qemutools.QemuImg(t, "rebase", "-u", "-b", "b.qcow2", "-F", "qcow2", b)
		_, err = qemu.OpenImage(b, nil)
		require.ErrorIs(t, err, cbt.ErrCorrupt)
	})
	t.Run("Protocol", func(t *testing.T) {
		qemutools.Create(t, a, "", "1M")
		qemutools.QemuImg(t, "rebase", "-u", "-b", "nbd:localhost:10809", "-F", "raw", a)
		_, err := qemu.OpenImage(a, nil)
		require.ErrorIs(t, err, cbt.ErrUnsupported)
		require.Contains(t, err.Error(), "protocol")
		qemutools.QemuImg(t, "rebase", "-u", "-b", `json:{"file.driver":"file","file.filename":"b.qcow2"}`, "-F", "qcow2", a)
		_, err = qemu.OpenImage(a, nil)
		require.ErrorIs(t, err, cbt.ErrUnsupported)
	})
	t.Run("TooDeep", func(t *testing.T) {
		d := t.TempDir()
		prev := ""
		for i := range qemu.MaxChainDepth + 2 {
			p := filepath.Join(d, fmt.Sprintf("l%d.qcow2", i))
			if prev == "" {
				qemutools.Create(t, p, "", "1M")
			} else {
				qemutools.QemuImg(t, "create", "-f", "qcow2", "-u", "-b", filepath.Base(prev), "-F", "qcow2", p, "1M")
			}
			prev = p
		}
		_, err := qemu.OpenImage(prev, nil)
		require.ErrorIs(t, err, cbt.ErrUnsupported)
		require.Contains(t, err.Error(), "deeper")
	})
}

func TestExternalDataFile(t *testing.T) {
	qemutools.Need(t, "qemu-img", "qemu-io")
	dir := t.TempDir()
	p := filepath.Join(dir, "a.qcow2")
	qemutools.Create(t, p, "cluster_size=64k,data_file="+filepath.Join(dir, "a.data"), "4M")
	qemutools.QemuIO(t, p, "write -P 1 1M 4k")
	qemutools.QemuImg(t, "bitmap", "--add", p, "b1")
	qemutools.QemuIO(t, p, "write -P 1 2M 4k")
	im, err := qemu.OpenImage(p, trusted)
	require.NoError(t, err)
	defer im.Close()
	require.Equal(t, filepath.Join(dir, "a.data"), im.Info().DataFile)
	d, err := im.Open(qemu.Active())
	require.NoError(t, err)
	defer d.Close()
	require.Equal(t, []extent.Extent{ext(1*miB, 64*kiB), ext(2*miB, 64*kiB)}, mustList(t, d, cbt.ChangeID{}))
	require.Equal(t, []extent.Extent{ext(2*miB, 64*kiB)}, mustList(t, d, changeID(t, qemu.BitmapPoint("b1"))))
	snaps, err := im.Snapshots()
	require.NoError(t, err)
	require.Empty(t, snaps)
}

// dropBackingFormat turns the backing format extension of an image into an
// extension of an unknown type, which readers ignore.
func dropBackingFormat(t testing.TB, p string) {
	t.Helper()
	f, err := os.Open(p)
	require.NoError(t, err)
	fi, err := f.Stat()
	require.NoError(t, err)
	q, err := qcow2.Open(f, fi.Size(), nil)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	for _, e := range q.Extensions {
		if e.Type == qcow2.ExtBackingFormat {
			patchU32(t, p, e.Offset-8, func(uint32) uint32 { return 0x0badf00d })
			return
		}
	}
	t.Fatalf("%s has no backing format extension", p)
}

func TestChainLayerModified(t *testing.T) {
	_, _, mid, top := threeLayers(t)
	im, err := qemu.OpenImage(top, nil)
	require.NoError(t, err)
	stored := changeID(t, im.Chain()[1].Point)
	require.NoError(t, im.Close())
	qemutools.QemuIO(t, top, "write -P 5 2M 64k")
	// Commit top into mid: mid is written, its old change ID no longer holds.
	time.Sleep(10 * time.Millisecond)
	qemutools.QemuImg(t, "commit", "-q", "-f", "qcow2", top)
	d := openAt(t, top, qemu.Active(), trusted)
	_, err = listChanges(t, d, stored)
	require.ErrorIs(t, err, cbt.ErrChangeIDInvalid)
	require.Contains(t, err.Error(), "modified")
	pt, err := qemu.PointOf(stored)
	require.NoError(t, err)
	_, err = qemu.Open(top, pt, trusted)
	require.ErrorIs(t, err, cbt.ErrNotFound)
	// The plain path still names the layer.
	require.Empty(t, mustList(t, d, changeID(t, qemu.LayerPoint(mid))))
}
