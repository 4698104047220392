package qemu_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/changedblocks/sdk/cbt/cbttest"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/qemutools"
	"github.com/changedblocks/sdk/qemu"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gtChanges lists the changes of the image at a point since a change ID.
// Bare names are trusted (the tests here never reuse one), so that each
// refusal checked is for the reason the test means.
func gtChanges(t testing.TB, path string, at qemu.Point, since cbt.ChangeID) ([]extent.Extent, error) {
	t.Helper()
	d, err := qemu.Open(path, at, trusted)
	require.NoError(t, err, "open %s at %s", path, at)
	defer d.Close()
	return cbt.Collect(d.Changes(context.Background(), since, nil))
}

// gtSnapshotID is the change ID a backup taken at the snapshot stores.
func gtSnapshotID(t testing.TB, path, name string) cbt.ChangeID {
	t.Helper()
	return gtAPI{}.snapshotID(t, path, name)
}

func gtID(t testing.TB, p qemu.Point) cbt.ChangeID {
	t.Helper()
	id, err := p.ChangeID()
	require.NoError(t, err)
	return id
}

// gtRequireCovers checks that rep covers every sector that differs between two
// exports.
func gtRequireCovers(t testing.TB, rep []extent.Extent, a, b []byte) {
	t.Helper()
	truth := extent.ClipSlice(qemutools.ChangedSectors(a, b), 0, int64(len(b)))
	require.NotEmpty(t, truth)
	require.Empty(t, extent.SubtractSlices(truth, rep), "changed sectors %v, reported %v", truth, rep)
}

// TestGroundTruthDeletedSnapshot: a deleted snapshot as base, whether named
// by the change ID a backup stored or by its bare name, gives
// cbt.ErrChangeIDInvalid; the other snapshots still serve.
func TestGroundTruthDeletedSnapshot(t *testing.T) {
	qemutools.Need(t, "qemu-img", "qemu-io")
	path := filepath.Join(t.TempDir(), "a.qcow2")
	qemutools.Create(t, path, "", "4M")
	qemutools.QemuIO(t, path, "write -P 1 0 1M")
	qemutools.QemuImg(t, "snapshot", "-c", "s1", path)
	id1 := gtSnapshotID(t, path, "s1")
	qemutools.QemuIO(t, path, "write -P 2 512k 64k")
	qemutools.QemuImg(t, "snapshot", "-c", "s2", path)
	id2 := gtSnapshotID(t, path, "s2")
	qemutools.QemuIO(t, path, "write -P 3 2M 64k")
	qemutools.QemuImg(t, "snapshot", "-d", "s1", path)

	for _, id := range []cbt.ChangeID{id1, gtID(t, qemu.SnapshotPoint("s1"))} {
		for _, at := range []qemu.Point{qemu.Active(), qemu.SnapshotPoint("s2")} {
			_, err := gtChanges(t, path, at, id)
			assert.ErrorIs(t, err, cbt.ErrChangeIDInvalid, "at %s since %s", at, id)
		}
	}
	_, err := qemu.Open(path, qemu.SnapshotPoint("s1"), nil)
	assert.ErrorIs(t, err, cbt.ErrNotFound)

	rep, err := gtChanges(t, path, qemu.Active(), id2)
	require.NoError(t, err)
	gtRequireCovers(t, rep, qemutools.ExportRaw(t, path, "s2"), qemutools.ExportRaw(t, path, ""))
}

// TestGroundTruthRecreatedSnapshot: a snapshot deleted and re-created under
// the same name is another point in time. The change ID handed out at the old
// one must give cbt.ErrChangeIDInvalid, not a silent diff against the new one
// (which would leave out what changed between the two). qemu-img gives the new
// snapshot the next free id: the old id again when the deleted snapshot had
// the highest one.
func TestGroundTruthRecreatedSnapshot(t *testing.T) {
	qemutools.Need(t, "qemu-img", "qemu-io")
	for _, c := range []struct {
		name   string
		before []string // snapshots taken before s1
		sameID bool
	}{
		{name: "same-id", sameID: true},
		{name: "new-id", before: []string{"s0"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "a.qcow2")
			qemutools.Create(t, path, "", "4M")
			qemutools.QemuIO(t, path, "write -P 1 0 1M")
			for _, s := range c.before {
				qemutools.QemuImg(t, "snapshot", "-c", s, path)
			}
			qemutools.QemuImg(t, "snapshot", "-c", "s1", path)
			if !c.sameID {
				qemutools.QemuImg(t, "snapshot", "-c", "s2", path)
			}
			oldID := gtSnapshotID(t, path, "s1")
			oldInfo := qemutools.Info(t, path).Snapshots
			old := qemutools.ExportRaw(t, path, "s1")

			// Written after the old s1, before the new one: only the old
			// change ID can tell a backup about it.
			qemutools.QemuIO(t, path, "write -P 2 256k 64k")
			qemutools.QemuImg(t, "snapshot", "-d", "s1", path)
			qemutools.QemuImg(t, "snapshot", "-c", "s1", path)
			qemutools.QemuIO(t, path, "write -P 3 3M 64k")

			var oldSnapID, newSnapID string
			for _, s := range oldInfo {
				if s.Name == "s1" {
					oldSnapID = s.ID
				}
			}
			for _, s := range qemutools.Info(t, path).Snapshots {
				if s.Name == "s1" {
					newSnapID = s.ID
				}
			}
			assert.Equal(t, c.sameID, oldSnapID == newSnapID, "qemu-img snapshot ids: old %s, new %s", oldSnapID, newSnapID)

			for _, at := range []qemu.Point{qemu.Active(), qemu.SnapshotPoint("s1")} {
				rep, err := gtChanges(t, path, at, oldID)
				if !assert.ErrorIs(t, err, cbt.ErrChangeIDInvalid, "at %s since the old s1 (%s)", at, oldID) {
					t.Logf("at %s since the old s1 (%s): listed %v; 256k+64k changed since the old s1", at, oldID, rep)
				}
			}

			// The new s1 serves as a base, by its own change ID.
			newID := gtSnapshotID(t, path, "s1")
			rep, err := gtChanges(t, path, qemu.Active(), newID)
			require.NoError(t, err)
			gtRequireCovers(t, rep, qemutools.ExportRaw(t, path, "s1"), qemutools.ExportRaw(t, path, ""))
			assert.NotEqual(t, oldID, newID, "the re-created snapshot hands out the old change ID")
			assert.NotEqual(t, old, qemutools.ExportRaw(t, path, "s1"))
		})
	}
}

// TestGroundTruthBitmapErrors: a bitmap that cannot serve as a base (removed,
// disabled, in use after a crash, never there, on a v2 image) gives
// cbt.ErrChangeIDInvalid; a bitmap with a snapshot view is an error.
func TestGroundTruthBitmapErrors(t *testing.T) {
	qemutools.Need(t, "qemu-img", "qemu-io")
	dir := t.TempDir()
	path := filepath.Join(dir, "a.qcow2")
	qemutools.Create(t, path, "", "4M")
	qemutools.QemuIO(t, path, "write -P 1 0 1M")
	for _, b := range []string{"ok", "removed", "disabled"} {
		qemutools.QemuImg(t, "bitmap", "--add", path, b)
	}
	qemutools.QemuImg(t, "snapshot", "-c", "s1", path)
	qemutools.QemuIO(t, path, "write -P 2 512k 64k")
	qemutools.QemuImg(t, "bitmap", "--remove", path, "removed")
	qemutools.QemuImg(t, "bitmap", "--disable", path, "disabled")

	rep, err := gtChanges(t, path, qemu.Active(), gtID(t, qemu.BitmapPoint("ok")))
	require.NoError(t, err)
	assert.Equal(t, []extent.Extent{{Offset: 512 << 10, Length: 64 << 10}}, rep)

	for _, b := range []string{"removed", "disabled", "never"} {
		_, err := gtChanges(t, path, qemu.Active(), gtID(t, qemu.BitmapPoint(b)))
		assert.ErrorIs(t, err, cbt.ErrChangeIDInvalid, "since bitmap %s", b)
	}
	_, err = gtChanges(t, path, qemu.SnapshotPoint("s1"), gtID(t, qemu.BitmapPoint("ok")))
	assert.Error(t, err, "a bitmap as base of a snapshot view")

	v2 := filepath.Join(dir, "v2.qcow2")
	qemutools.Create(t, v2, "compat=0.10", "4M")
	_, err = gtChanges(t, v2, qemu.Active(), gtID(t, qemu.BitmapPoint("ok")))
	assert.ErrorIs(t, err, cbt.ErrChangeIDInvalid, "a bitmap of a v2 image")

	if !qemutools.Have(t, "qemu-nbd") {
		return
	}
	// A running qemu-nbd holds the image for writing: ErrBusy, unless
	// ForceShare. Killed with SIGKILL, it leaves every bitmap in_use.
	sock := filepath.Join(dir, "nbd.sock")
	cmd := exec.Command("qemu-nbd", "-f", "qcow2", "-k", sock, path)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	// qemu-nbd may create its socket before it opens the image: wait until
	// it has marked the bitmaps in use (it does so on opening for writing).
	for deadline := time.Now().Add(10 * time.Second); ; {
		out, _ := exec.Command("qemu-img", "info", "-U", "--output=json", "-f", "qcow2", path).Output()
		if strings.Contains(string(out), `"in-use"`) {
			break
		}
		require.True(t, time.Now().Before(deadline), "qemu-nbd did not open the image: %s", out)
		time.Sleep(20 * time.Millisecond)
	}
	if runtime.GOOS == "linux" { // OFD locks are checked on Linux only
		_, err = qemu.Open(path, qemu.Active(), nil)
		assert.ErrorIs(t, err, cbt.ErrBusy, "open while qemu-nbd holds the image for writing")
	}
	d, err := qemu.Open(path, qemu.SnapshotPoint("s1"), &qemu.Options{ForceShare: true})
	if assert.NoError(t, err, "ForceShare") {
		d.Close()
	}
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()

	flags := map[string][]string{}
	for _, b := range qemutools.Info(t, path).FormatSpecific.Data.Bitmaps {
		flags[b.Name] = b.Flags
	}
	require.Contains(t, flags["ok"], "in-use", "qemu-nbd killed: %v", flags)
	_, err = gtChanges(t, path, qemu.Active(), gtID(t, qemu.BitmapPoint("ok")))
	assert.ErrorIs(t, err, cbt.ErrChangeIDInvalid, "since an in-use bitmap")
}

// TestGroundTruthBadBases: a layer that is not in the chain and a change ID
// of another scheme.
func TestGroundTruthBadBases(t *testing.T) {
	qemutools.Need(t, "qemu-img")
	dir := t.TempDir()
	base := filepath.Join(dir, "base.qcow2")
	top := filepath.Join(dir, "top.qcow2")
	other := filepath.Join(dir, "other.qcow2")
	qemutools.Create(t, base, "", "1M")
	qemutools.Create(t, other, "", "1M")
	qemutools.Create(t, top, "", "1M", "-b", "base.qcow2", "-F", "qcow2")

	for _, p := range []string{other, filepath.Join(dir, "missing.qcow2")} {
		_, err := gtChanges(t, top, qemu.Active(), gtID(t, qemu.LayerPoint(p)))
		assert.ErrorIs(t, err, cbt.ErrChangeIDInvalid, "since layer %s", p)
	}
	_, err := gtChanges(t, other, qemu.Active(), gtID(t, qemu.LayerPoint(base)))
	assert.ErrorIs(t, err, cbt.ErrChangeIDInvalid, "since a layer of an image without a backing file")

	_, err = gtChanges(t, base, qemu.Active(), gtID(t, qemu.SnapshotPoint("nope")))
	assert.ErrorIs(t, err, cbt.ErrChangeIDInvalid, "since a snapshot that never existed")

	foreign, err := cbt.NewChangeID("vsphere", "52 1a/4")
	require.NoError(t, err)
	_, err = gtChanges(t, base, qemu.Active(), foreign)
	assert.ErrorIs(t, err, cbt.ErrInvalidArgument)
}

// TestGroundTruthBitmapShrink: a shrink followed by a grow after a bitmap
// was added changes the bytes between the two sizes (they read as zeros
// again) but sets no dirty bit, and the bitmap keeps no record of the size it
// started at. A bare bitmap name is refused by default; trusted
// (TrustUnguarded), the listing equals the bitmap and misses those bytes,
// which is why the opt-in says so. Bitmaps OpenNext makes detect it
// (recreate_test.go).
func TestGroundTruthBitmapShrink(t *testing.T) {
	qemutools.Need(t, "qemu-img", "qemu-io")
	path := filepath.Join(t.TempDir(), "a.qcow2")
	qemutools.Create(t, path, "", "1M")
	qemutools.QemuIO(t, path, "write -P 1 0 1M")
	qemutools.QemuImg(t, "bitmap", "--add", path, "b")
	before := qemutools.ExportRaw(t, path, "")
	qemutools.QemuImg(t, "resize", "-q", "--shrink", "-f", "qcow2", path, "256k")
	qemutools.QemuImg(t, "resize", "-q", "-f", "qcow2", path, "1M")
	qemutools.QemuIO(t, path, "write -P 2 0 4k")

	_, err := cbt.Collect(openAt(t, path, qemu.Active(), nil).Changes(t.Context(), gtID(t, qemu.BitmapPoint("b")), nil))
	require.ErrorIs(t, err, cbt.ErrChangeIDInvalid, "a bare bitmap name")
	rep, err := gtChanges(t, path, qemu.Active(), gtID(t, qemu.BitmapPoint("b")))
	require.NoError(t, err)
	assert.Equal(t, []extent.Extent{{Length: 64 << 10}}, rep)
	if qemutools.Have(t, "qemu-nbd") && qemutools.Have(t, "nbdinfo") {
		assert.Equal(t, qemutools.DirtyMap(t, path, "b"), rep)
	}
	changed := qemutools.ChangedSectors(before, qemutools.ExportRaw(t, path, ""))
	t.Logf("changed %v; listed %v; not in the bitmap: %v", changed, rep, extent.SubtractSlices(changed, rep))
}

// TestGroundTruthTopLayerChangeID: the top file of a chain (or an image
// without a backing file) is written to after a backup, so a change ID that
// names it as a layer is no fixed point. A backup taken from the disk at that
// layer stores the change ID the disk hands out; the next incremental must
// then see every write made since (or refuse the base), never an empty
// listing.
func TestGroundTruthTopLayerChangeID(t *testing.T) {
	qemutools.Need(t, "qemu-img", "qemu-io")
	for _, chain := range []bool{true, false} {
		t.Run(fmt.Sprintf("backing=%v", chain), func(t *testing.T) {
			dir := t.TempDir()
			top := filepath.Join(dir, "top.qcow2")
			if chain {
				qemutools.Create(t, filepath.Join(dir, "base.qcow2"), "", "1M")
				qemutools.Create(t, top, "", "1M", "-b", "base.qcow2", "-F", "qcow2")
			} else {
				qemutools.Create(t, top, "", "1M")
			}
			qemutools.QemuIO(t, top, "write -P 1 0 64k")
			stored := map[string]cbt.ChangeID{"bare point": gtID(t, qemu.LayerPoint(top))}
			if d, err := qemu.Open(top, qemu.LayerPoint(top), nil); err == nil {
				if id, err := d.ChangeID(); err == nil {
					stored["handed out at layer:top"] = id
				}
				d.Close()
			}
			before := qemutools.ExportRaw(t, top, "")
			qemutools.QemuIO(t, top, "write -P 2 512k 64k")
			after := qemutools.ExportRaw(t, top, "")
			for how, id := range stored {
				rep, err := gtChanges(t, top, qemu.Active(), id)
				if err != nil {
					assert.True(t, errors.Is(err, cbt.ErrChangeIDInvalid) || errors.Is(err, cbt.ErrInvalidArgument), "since %s (%s): %v", id, how, err)
					continue
				}
				missed := extent.SubtractSlices(qemutools.ChangedSectors(before, after), rep)
				assert.Empty(t, missed, "UNDER-REPORT: since %s (%s) after a write at 512k+64k: listed %v", id, how, rep)
			}
		})
	}
}

// TestGroundTruthCommittedLayer: a backing file is a point in time only while
// nothing writes to it. `qemu-img commit` (like libvirt's blockcommit after a
// backup) writes the overlay's data into its backing file and empties the
// overlay. The change ID a backup took at that layer must then give
// cbt.ErrChangeIDInvalid, or the listing must still cover every sector that
// differs from what the backup saw; an empty listing loses the committed
// writes.
func TestGroundTruthCommittedLayer(t *testing.T) {
	qemutools.Need(t, "qemu-img", "qemu-io")
	dir := t.TempDir()
	base := filepath.Join(dir, "base.qcow2")
	top := filepath.Join(dir, "top.qcow2")
	qemutools.Create(t, base, "", "1M")
	qemutools.QemuIO(t, base, "write -P 1 0 1M")
	qemutools.Create(t, top, "", "1M", "-b", "base.qcow2", "-F", "qcow2")

	// The backup: the disk at the base layer, and its change ID.
	d, err := qemu.Open(top, qemu.LayerPoint(base), nil)
	require.NoError(t, err)
	stored := cbttest.MustChangeID(t, d)
	require.NoError(t, d.Close())
	require.False(t, stored.IsZero())
	before := qemutools.ExportRaw(t, base, "")

	qemutools.QemuIO(t, top, "write -P 2 128k 64k")
	qemutools.QemuImg(t, "commit", "-q", "-f", "qcow2", top)
	qemutools.QemuIO(t, top, "write -P 3 512k 64k")
	after := qemutools.ExportRaw(t, top, "")
	require.Equal(t, []extent.Extent{{Offset: 128 << 10, Length: 64 << 10}, {Offset: 512 << 10, Length: 64 << 10}}, qemutools.ChangedSectors(before, after))

	rep, err := gtChanges(t, top, qemu.Active(), stored)
	if err != nil {
		assert.ErrorIs(t, err, cbt.ErrChangeIDInvalid)
		return
	}
	assert.Empty(t, extent.SubtractSlices(qemutools.ChangedSectors(before, after), rep),
		"UNDER-REPORT: since %s after `qemu-img commit` of the overlay into it: listed %v", stored, rep)
}

// TestGroundTruthRangedBitmap: a listing limited to a range is exactly the
// whole listing clipped to it (package cbt's contract, which lets callers
// split a copy into ranges). With a bitmap finer than the disk's granularity,
// the whole listing widens a dirty 4 KiB to its 64 KiB cluster; a range that
// ends inside that cluster, before the dirty bytes, must still hold the
// widened part.
func TestGroundTruthRangedBitmap(t *testing.T) {
	qemutools.Need(t, "qemu-img", "qemu-io")
	path := filepath.Join(t.TempDir(), "a.qcow2")
	qemutools.Create(t, path, "", "1M")
	qemutools.QemuImg(t, "bitmap", "--add", "-g", "512", path, "b")
	qemutools.QemuIO(t, path, "write -P 1 608k 4k")
	d, err := qemu.Open(path, qemu.Active(), trusted)
	require.NoError(t, err)
	defer d.Close()
	id := gtID(t, qemu.BitmapPoint("b"))
	whole, err := cbt.Collect(d.Changes(context.Background(), id, nil))
	require.NoError(t, err)
	require.Equal(t, []extent.Extent{{Offset: 576 << 10, Length: 64 << 10}}, whole, "granularity %d", d.Granularity())
	for _, r := range [][2]int64{{0, 600 << 10}, {580 << 10, 20 << 10}, {616 << 10, 0}, {590 << 10, 30 << 10}} {
		got, err := cbt.Collect(d.Changes(context.Background(), id, &cbt.ChangesOptions{StartOffset: r[0], Length: r[1]}))
		require.NoError(t, err)
		end := r[0] + r[1]
		if r[1] == 0 {
			end = d.Capacity()
		}
		assert.Equal(t, extent.ClipSlice(append([]extent.Extent(nil), whole...), r[0], end), got, "range [%d, %d)", r[0], end)
	}
}

// TestGroundTruthSnapshotNames: names qemu-img accepts (spaces, colons, '#',
// non-ASCII, digits that are also another snapshot's id) round-trip through
// the change ID a backup stores; a deleted snapshot whose name is another's
// id does not silently resolve to that other one.
func TestGroundTruthSnapshotNames(t *testing.T) {
	qemutools.Need(t, "qemu-img", "qemu-io")
	path := filepath.Join(t.TempDir(), "a.qcow2")
	qemutools.Create(t, path, "", "4M")
	names := []string{"x", "1", "with space", "a:b", "s#1", "snapshot:ü"}
	ids := map[string]cbt.ChangeID{}
	raws := map[string][]byte{}
	for i, n := range names {
		qemutools.QemuIO(t, path, fmt.Sprintf("write -P %d %dk 64k", i+1, 128*i))
		qemutools.QemuImg(t, "snapshot", "-c", n, path)
		ids[n] = gtSnapshotID(t, path, n)
		raws[n] = qemutools.ExportRaw(t, path, n)
	}
	qemutools.QemuIO(t, path, "write -P 99 3M 64k")
	active := qemutools.ExportRaw(t, path, "")
	for _, n := range names {
		id, err := cbt.ParseChangeID(ids[n].String())
		require.NoError(t, err, "stored change ID of %q", n)
		rep, err := gtChanges(t, path, qemu.Active(), id)
		if assert.NoError(t, err, "since %q (%s)", n, id) {
			gtRequireCovers(t, rep, raws[n], active)
			assert.Empty(t, extent.SubtractSlices(rep, []extent.Extent{{Offset: 0, Length: 4 << 20}}))
		}
	}
	// "1" is the name of the second snapshot and the id of the first ("x").
	qemutools.QemuImg(t, "snapshot", "-d", "1", path)
	_, err := gtChanges(t, path, qemu.Active(), ids["1"])
	assert.ErrorIs(t, err, cbt.ErrChangeIDInvalid, "since the deleted snapshot named 1 (%s), while snapshot x has id 1", ids["1"])
	rep, err := gtChanges(t, path, qemu.Active(), ids["x"])
	require.NoError(t, err)
	gtRequireCovers(t, rep, raws["x"], active)
}
