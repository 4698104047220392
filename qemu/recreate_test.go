package qemu_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/cbttest"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/qemutools"
	"github.com/changedblocks/sdk/qemu"
)

// The re-created-point class of issue 11: a change ID must never name a
// different instance of what it named. Each test makes the point again (or
// changes what it reads through) with qemu's own tools and checks that the
// stored change ID is refused, where today's data differs from the data at
// the point in bytes the listing would leave out.

// uncovered returns the bytes that differ between two exports and that no
// extent covers.
func uncovered(before, after []byte, listed []extent.Extent) []extent.Extent {
	return extent.SubtractSlices(qemutools.ChangedSectors(before, after), listed)
}

// TestBareBitmapRecreated is the reproduction: a bitmap removed and
// added again under the same name hides the writes before it. The bare name
// is refused; only TrustUnguarded accepts it, and then lists short, which is
// why it is an opt-in.
func TestBareBitmapRecreated(t *testing.T) {
	img := newQcow2(t, "img", "", "16M")
	before := qemutools.ExportRaw(t, img, "")
	qemutools.QemuImg(t, "bitmap", "--add", img, "cbt")
	qemutools.QemuIO(t, img, "write -P 1 1M 64k")
	qemutools.QemuImg(t, "bitmap", "--remove", img, "cbt")
	qemutools.QemuImg(t, "bitmap", "--add", img, "cbt")
	qemutools.QemuIO(t, img, "write -P 2 10M 64k")
	after := qemutools.ExportRaw(t, img, "")
	bare := changeID(t, qemu.BitmapPoint("cbt"))

	_, err := listChanges(t, openAt(t, img, qemu.Active(), nil), bare)
	require.ErrorIs(t, err, cbt.ErrChangeIDInvalid)
	assert.Contains(t, err.Error(), "carries no guard")

	got := mustList(t, openAt(t, img, qemu.Active(), &qemu.Options{TrustUnguarded: true}), bare)
	assert.Equal(t, []extent.Extent{ext(10*miB, 64*kiB)}, got, "the opt-in trusts the name")
	assert.NotEmpty(t, uncovered(before, after, got), "and misses the write before the re-creation")
}

// TestCommitUnderSnapshot is the reproduction: overlay top on base,
// snapshot A of top, a write into top committed into base (top empties),
// snapshot B. A and B have the same tables, but read differently.
func TestCommitUnderSnapshot(t *testing.T) {
	dir := t.TempDir()
	base, top := filepath.Join(dir, "base.qcow2"), filepath.Join(dir, "top.qcow2")
	qemutools.Create(t, base, "", "8M")
	qemutools.QemuIO(t, base, "write -P 1 0 1M")
	qemutools.Create(t, top, "", "8M", "-b", base, "-F", "qcow2")
	snapshot(t, top, "A")
	dA := openAt(t, top, qemu.SnapshotPoint("A"), nil)
	idA := cbttest.MustChangeID(t, dA)
	atA := qemutools.ExportRaw(t, top, "A")

	qemutools.QemuIO(t, top, "write -P 2 512k 64k")
	qemutools.QemuImg(t, "commit", top)
	snapshot(t, top, "B")
	atB := qemutools.ExportRaw(t, top, "B")
	require.NotEmpty(t, qemutools.ChangedSectors(atA, atB))

	dB := openAt(t, top, qemu.SnapshotPoint("B"), nil)
	_, err := listChanges(t, dB, idA)
	require.ErrorIs(t, err, cbt.ErrChangeIDInvalid)
	assert.Contains(t, err.Error(), "backing files below")
	// The point A itself, as named, is gone too.
	pA, err := qemu.PointOf(idA)
	require.NoError(t, err)
	_, err = qemu.Open(top, pA, nil)
	require.ErrorIs(t, err, cbt.ErrNotFound)

	// A change ID made after the commit is a good base again.
	idB := cbttest.MustChangeID(t, dB)
	qemutools.QemuIO(t, top, "write -P 3 2M 64k")
	snapshot(t, top, "C")
	got := mustList(t, openAt(t, top, qemu.SnapshotPoint("C"), nil), idB)
	assert.Empty(t, uncovered(atB, qemutools.ExportRaw(t, top, "C"), got))
}

// TestRebaseUnderSnapshotAndLayer: the files below a snapshot or a layer
// replaced (an unsafe rebase onto another base, a base written directly) are
// refused; a plain copy that keeps the modification time is the same state.
func TestRebaseUnderSnapshotAndLayer(t *testing.T) {
	dir := t.TempDir()
	base, mid, top := filepath.Join(dir, "base.qcow2"), filepath.Join(dir, "mid.qcow2"), filepath.Join(dir, "top.qcow2")
	qemutools.Create(t, base, "", "8M")
	qemutools.QemuIO(t, base, "write -P 1 0 1M")
	qemutools.Create(t, mid, "", "8M", "-b", base, "-F", "qcow2")
	qemutools.QemuIO(t, mid, "write -P 2 2M 64k")
	qemutools.Create(t, top, "", "8M", "-b", mid, "-F", "qcow2")
	snapshot(t, top, "A")
	idA := cbttest.MustChangeID(t, openAt(t, top, qemu.SnapshotPoint("A"), nil))
	idMid := cbttest.MustChangeID(t, openAt(t, top, qemu.LayerPoint(mid), nil))

	// Base written directly (no overlay knows): both refused.
	qemutools.QemuIO(t, base, "write -P 3 4M 64k")
	snapshot(t, top, "B")
	dB := openAt(t, top, qemu.SnapshotPoint("B"), nil)
	for _, id := range []cbt.ChangeID{idA, idMid} {
		_, err := listChanges(t, dB, id)
		require.ErrorIs(t, err, cbt.ErrChangeIDInvalid, "since %s", id)
	}

	// An unsafe rebase onto a copy that keeps times (cp -p) reads the same:
	// accepted; onto a changed copy: refused.
	idB := cbttest.MustChangeID(t, dB)
	same := filepath.Join(dir, "mid-copy.qcow2")
	copyKeepTime(t, mid, same)
	qemutools.QemuImg(t, "rebase", "-u", "-F", "qcow2", "-b", same, top)
	// The header of top changed (a new backing name); the files below did not.
	snapshot(t, top, "C")
	dC := openAt(t, top, qemu.SnapshotPoint("C"), &qemu.Options{})
	_, err := listChanges(t, dC, idB)
	require.NoError(t, err, "a copy with the same times and contents is the same state")
	idC := cbttest.MustChangeID(t, dC)
	qemutools.QemuIO(t, same, "write -P 4 6M 64k")
	snapshot(t, top, "D")
	_, err = listChanges(t, openAt(t, top, qemu.SnapshotPoint("D"), nil), idC)
	require.ErrorIs(t, err, cbt.ErrChangeIDInvalid)
}

func copyKeepTime(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(to, b, 0o644))
	fi, err := os.Stat(from)
	require.NoError(t, err)
	require.NoError(t, os.Chtimes(to, fi.ModTime(), fi.ModTime()))
}

// TestLegacySnapshotIDs: a snapshot change ID of before chain guards
// ("NAME#SEC.NSEC") is accepted where nothing is below the top image, and
// refused above a backing file (a commit there would go unseen).
func TestLegacySnapshotIDs(t *testing.T) {
	img := newQcow2(t, "img", "", "4M")
	snapshot(t, img, "A")
	full := cbttest.MustChangeID(t, openAt(t, img, qemu.SnapshotPoint("A"), nil))
	legacy := trimChainGuard(t, full)
	qemutools.QemuIO(t, img, "write -P 1 1M 64k")
	snapshot(t, img, "B")
	got := mustList(t, openAt(t, img, qemu.SnapshotPoint("B"), nil), legacy)
	assert.Equal(t, []extent.Extent{ext(1*miB, 64*kiB)}, got)

	dir := t.TempDir()
	base, top := filepath.Join(dir, "base"), filepath.Join(dir, "top")
	qemutools.Create(t, base, "", "4M")
	qemutools.Create(t, top, "", "4M", "-b", base, "-F", "qcow2")
	snapshot(t, top, "A")
	legacy = trimChainGuard(t, cbttest.MustChangeID(t, openAt(t, top, qemu.SnapshotPoint("A"), nil)))
	snapshot(t, top, "B")
	_, err := listChanges(t, openAt(t, top, qemu.SnapshotPoint("B"), nil), legacy)
	require.ErrorIs(t, err, cbt.ErrChangeIDInvalid)
	assert.Contains(t, err.Error(), "no guard of the backing files")
}

// trimChainGuard returns a change ID without its "#c..." guard, as the SDK
// handed them out before chain guards.
func trimChainGuard(t *testing.T, id cbt.ChangeID) cbt.ChangeID {
	t.Helper()
	v := id.Value()
	require.Regexp(t, `#c[0-9a-f]{16}$`, v)
	out, err := cbt.NewChangeID(id.Scheme(), v[:len(v)-18])
	require.NoError(t, err)
	return out
}

// TestBareSnapshotName: a bare snapshot name as a base is refused (the
// snapshot may have been made again); as a point to open it is fine.
func TestBareSnapshotName(t *testing.T) {
	img := newQcow2(t, "img", "", "4M")
	qemutools.QemuIO(t, img, "write -P 1 0 64k")
	snapshot(t, img, "backup-latest")
	qemutools.QemuIO(t, img, "write -P 2 1M 64k")
	qemutools.QemuImg(t, "snapshot", "-d", "backup-latest", img)
	snapshot(t, img, "backup-latest")
	qemutools.QemuIO(t, img, "write -P 3 2M 64k")
	d := openAt(t, img, qemu.Active(), nil)
	_, err := listChanges(t, d, changeID(t, qemu.SnapshotPoint("backup-latest")))
	require.ErrorIs(t, err, cbt.ErrChangeIDInvalid)
	_, err = qemu.Open(img, qemu.SnapshotPoint("backup-latest"), nil)
	require.NoError(t, err)
}

// TestSinceLaterSnapshot: a listing goes forward in time.
func TestSinceLaterSnapshot(t *testing.T) {
	img := newQcow2(t, "img", "", "4M")
	snapshot(t, img, "s1")
	qemutools.QemuIO(t, img, "write -P 1 0 64k")
	snapshot(t, img, "s2")
	d1 := openAt(t, img, qemu.SnapshotPoint("s1"), nil)
	_, err := listChanges(t, d1, snapID(t, img, "s2"))
	require.ErrorIs(t, err, cbt.ErrInvalidArgument)
	assert.Contains(t, err.Error(), "taken after the disk's point")
	assert.Empty(t, mustList(t, d1, snapID(t, img, "s1")))
}

// TestOpenNextBitmapRotation runs the documented rotation three times and
// checks each incremental against the exported data, then the guards of the
// bitmap: a resize either way, and a shrink and grow back to the same size,
// are refused.
func TestOpenNextBitmapRotation(t *testing.T) {
	ctx := t.Context()
	img := newQcow2(t, "vm.qcow2", "", "8M")
	qemutools.QemuIO(t, img, "write -P 1 0 1M")
	var stored cbt.ChangeID
	var prev []byte
	backup := func(writes ...string) []extent.Extent {
		t.Helper()
		if len(writes) > 0 {
			qemutools.QemuIO(t, img, writes...)
		}
		d, err := qemu.OpenNext(ctx, img, nil, nil)
		require.NoError(t, err)
		data := qemutools.ExportRaw(t, img, "")
		got, err := cbt.Collect(d.Changes(ctx, stored, nil))
		require.NoError(t, err)
		if stored.IsZero() {
			assert.Empty(t, extent.SubtractSlices(qemutools.NonZeroSectors(data), got))
		} else {
			assert.Empty(t, uncovered(prev, data, got))
		}
		stored, prev = cbttest.MustChangeID(t, d), data
		require.NoError(t, d.Close())
		removed, err := qemu.PrunePoints(ctx, img, []cbt.ChangeID{stored}, nil, nil)
		require.NoError(t, err)
		assert.LessOrEqual(t, len(removed), 1)
		return got
	}
	backup()
	assert.Regexp(t, `^qcow2:bitmap:cbt-[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}#s8388608#c[0-9a-f]{16}$`, stored.String())
	got := backup("write -P 2 2M 64k", "write -z 0 64k")
	assert.Equal(t, []extent.Extent{ext(0, 64*kiB), ext(2*miB, 64*kiB), ext(8*miB-64*kiB, 64*kiB)}, got,
		"the writes, and the last granule (the canary)")
	backup("write -P 3 5M 4k")
	bms := bitmapNames(t, img)
	require.Len(t, bms, 1, "the rotation keeps one bitmap")

	for _, c := range []struct {
		name   string
		resize [][]string
	}{
		{"grow", [][]string{{"12M"}}},
		{"shrink", [][]string{{"--shrink", "4M"}}},
		{"shrink and grow back", [][]string{{"--shrink", "4M"}, {"8M"}}},
		{"shrink by one granule and grow back", [][]string{{"--shrink", "8128K"}, {"8M"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			work := filepath.Join(t.TempDir(), "vm.qcow2")
			copyKeepTime(t, img, work)
			for _, r := range c.resize {
				qemutools.QemuImg(t, append([]string{"resize", "-q", "-f", "qcow2", work}, r...)...)
			}
			d := openAt(t, work, qemu.Active(), nil)
			_, err := listChanges(t, d, stored)
			require.ErrorIs(t, err, cbt.ErrChangeIDInvalid)
		})
	}
}

func bitmapNames(t *testing.T, img string) []string {
	t.Helper()
	im, err := qemu.OpenImage(img, nil)
	require.NoError(t, err)
	defer im.Close()
	bms, err := im.Bitmaps()
	require.NoError(t, err)
	var out []string
	for _, b := range bms {
		out = append(out, b.Name)
	}
	return out
}

// TestOpenNextCleanup: a disk closed before any listing ran to its end
// removes the point it made; PrunePoints leaves the user's own points.
func TestOpenNextCleanup(t *testing.T) {
	ctx := t.Context()
	img := newQcow2(t, "vm.qcow2", "", "8M")
	qemutools.QemuIO(t, img, "write -P 1 0 64k", "write -P 2 4M 64k")
	qemutools.QemuImg(t, "bitmap", "--add", img, "users-own")
	snapshot(t, img, "users-snap")
	for _, snap := range []bool{false, true} {
		d, err := qemu.OpenNext(ctx, img, &qemu.NextOptions{Snapshot: snap}, nil)
		require.NoError(t, err)
		for range d.Changes(ctx, cbt.ChangeID{}, nil) {
			break // a listing stopped early
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err = cbt.Collect(d.Changes(cctx, cbt.ChangeID{}, nil))
		require.ErrorIs(t, err, context.Canceled)
		require.NoError(t, d.Close())
	}
	assert.Equal(t, []string{"users-own"}, bitmapNames(t, img))
	im, err := qemu.OpenImage(img, nil)
	require.NoError(t, err)
	snaps, err := im.Snapshots()
	require.NoError(t, err)
	require.NoError(t, im.Close())
	require.Len(t, snaps, 1)

	// Points a crashed run left (made, never closed) are pruned.
	var keep cbt.ChangeID
	for i := range 3 {
		d, err := qemu.OpenNext(ctx, img, &qemu.NextOptions{Snapshot: i == 1}, nil)
		require.NoError(t, err)
		_, err = cbt.Collect(d.Changes(ctx, cbt.ChangeID{}, nil))
		require.NoError(t, err)
		keep = cbttest.MustChangeID(t, d)
		require.NoError(t, d.Close())
		time.Sleep(time.Millisecond)
	}
	removed, err := qemu.PrunePoints(ctx, img, []cbt.ChangeID{keep}, nil, nil)
	require.NoError(t, err)
	assert.Len(t, removed, 2)
	assert.ElementsMatch(t, []string{"users-own", mustName(t, keep)}, bitmapNames(t, img))
	// Dropping the kept point by its change ID.
	require.NoError(t, qemu.DropPoint(ctx, img, keep, nil, nil))
	assert.Equal(t, []string{"users-own"}, bitmapNames(t, img))
	require.ErrorIs(t, qemu.DropPoint(ctx, img, keep, nil, nil), cbt.ErrNotFound)
}

func mustName(t *testing.T, id cbt.ChangeID) string {
	t.Helper()
	pt, err := qemu.PointOf(id)
	require.NoError(t, err)
	name := pt.Name
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '#' {
			name = name[:i]
		}
	}
	return name
}
