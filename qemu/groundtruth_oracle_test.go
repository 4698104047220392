package qemu_test

// The ground truth checks, proven on their own: run on internal/qcow2's
// decoder (itself proven against the qemu tools in internal/qcow2), they find
// nothing; run on listers that drop or add bytes, they find it.

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/qcow2"
	"github.com/changedblocks/sdk/internal/qemutools"
	"github.com/changedblocks/sdk/qemu"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gtQcow2 lists changes with internal/qcow2 directly: Diff of two views,
// Allocated of one, DirtyExtents of a bitmap. It serves images without a
// backing file only.
type gtQcow2 struct{}

func (gtQcow2) snapshotID(t testing.TB, _, name string) cbt.ChangeID {
	id, err := qemu.SnapshotPoint(name).ChangeID()
	require.NoError(t, err)
	return id
}

func (gtQcow2) open(t testing.TB, path string, at qemu.Point) gtDisk {
	t.Helper()
	if at.Kind == qemu.PointLayer {
		return gtSkipDisk{}
	}
	f, err := os.Open(path)
	require.NoError(t, err)
	st, err := f.Stat()
	require.NoError(t, err)
	img, err := qcow2.Open(f, st.Size(), nil)
	require.NoError(t, err)
	d := &gtQcow2Disk{f: f, img: img, active: at.Kind == qemu.PointActive}
	if d.active {
		d.view = img.ActiveView()
	} else {
		v, ok, err := gtSnapshotView(img, at.Name)
		require.NoError(t, err)
		require.True(t, ok, "snapshot %s", at.Name)
		d.view = v
	}
	return d
}

// gtSkipDisk serves nothing.
type gtSkipDisk struct{}

func (gtSkipDisk) capacity() int64    { return -1 }
func (gtSkipDisk) granularity() int64 { return 1 }
func (gtSkipDisk) close()             {}
func (gtSkipDisk) changes(cbt.ChangeID) ([]extent.Extent, error) {
	return nil, errGTSkip
}
func (gtSkipDisk) changesIn(cbt.ChangeID, int64, int64) ([]extent.Extent, error) {
	return nil, errGTSkip
}

func gtSnapshotView(img *qcow2.Image, name string) (qcow2.View, bool, error) {
	snaps, err := img.Snapshots()
	if err != nil {
		return qcow2.View{}, false, err
	}
	// By name first, then by id, as qemu resolves them.
	for _, byID := range []bool{false, true} {
		for i := range snaps {
			if (!byID && snaps[i].Name == name) || (byID && snaps[i].ID == name) {
				v, err := img.SnapshotView(&snaps[i])
				return v, err == nil, err
			}
		}
	}
	return qcow2.View{}, false, nil
}

type gtQcow2Disk struct {
	f      *os.File
	img    *qcow2.Image
	view   qcow2.View
	active bool
}

func (d *gtQcow2Disk) capacity() int64    { return d.view.DiskSize }
func (d *gtQcow2Disk) granularity() int64 { return 1 }
func (d *gtQcow2Disk) close()             { d.f.Close() }

func (d *gtQcow2Disk) changesIn(cbt.ChangeID, int64, int64) ([]extent.Extent, error) {
	return nil, errGTSkip
}

func (d *gtQcow2Disk) changes(since cbt.ChangeID) ([]extent.Extent, error) {
	if d.img.BackingFile != "" {
		return nil, errGTSkip
	}
	if since.IsZero() {
		return gtCollectSeq(d.img.Allocated(d.view))
	}
	p, err := qemu.PointOf(since)
	if err != nil {
		return nil, err
	}
	switch p.Kind {
	case qemu.PointSnapshot:
		v, ok, err := gtSnapshotView(d.img, p.Name)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("%w: no snapshot %s", cbt.ErrChangeIDInvalid, p.Name)
		}
		es, err := gtCollectSeq(d.img.Diff(v, d.view))
		return extent.ClipSlice(es, 0, d.view.DiskSize), err
	case qemu.PointBitmap:
		if !d.active {
			return nil, fmt.Errorf("%w: a bitmap with a snapshot", cbt.ErrInvalidArgument)
		}
		bms, err := d.img.Bitmaps()
		if err != nil {
			return nil, err
		}
		for i := range bms {
			if bms[i].Name == p.Name {
				return gtCollectSeq(d.img.DirtyExtents(&bms[i], d.view.DiskSize))
			}
		}
		return nil, fmt.Errorf("%w: no bitmap %s", cbt.ErrChangeIDInvalid, p.Name)
	}
	return nil, errGTSkip
}

func gtCollectSeq(seq func(func(extent.Extent, error) bool)) ([]extent.Extent, error) {
	var out []extent.Extent
	for e, err := range seq {
		if err != nil {
			return out, err
		}
		out = append(out, e)
	}
	return extent.Normalize(out), nil
}

// gtMutant changes every non-empty listing of the system it wraps.
type gtMutant struct {
	gtSystem
	mutate func(es []extent.Extent, capacity int64) []extent.Extent
}

func (m gtMutant) open(t testing.TB, path string, at qemu.Point) gtDisk {
	return gtMutantDisk{m.gtSystem.open(t, path, at), m.mutate}
}

type gtMutantDisk struct {
	gtDisk
	mutate func(es []extent.Extent, capacity int64) []extent.Extent
}

func (m gtMutantDisk) changes(since cbt.ChangeID) ([]extent.Extent, error) {
	es, err := m.gtDisk.changes(since)
	if err != nil || len(es) == 0 {
		return es, err
	}
	return m.mutate(es, m.capacity()), nil
}

// TestGroundTruthChecks proves the checks: on internal/qcow2 they find nothing
// in a history with every kind of step; on a lister that leaves out the first
// sector of each listing, or that reports the whole disk, they find misses and
// out-of-bound bytes.
func TestGroundTruthChecks(t *testing.T) {
	qemutools.Need(t, "qemu-img", "qemu-io")
	nbd := qemutools.Have(t, "qemu-nbd") && qemutools.Have(t, "nbdinfo")
	w := gtWorkload{name: "checks", cs: 64 << 10, size: 2 << 20, steps: 70, bitmaps: true, resize: true, compressedWrites: true, snapPct: 20}
	h := buildHistory(t, w, 7, gtQcow2{})

	r := gtNewReport(t, h)
	checkHistory(t, h, gtQcow2{}, r, nbd)
	require.Greater(t, r.checked, 20)
	r.summary()

	dropFirst := gtMutant{gtQcow2{}, func(es []extent.Extent, _ int64) []extent.Extent {
		return extent.SubtractSlices(es, []extent.Extent{{Offset: es[0].Offset, Length: 512}})
	}}
	r = gtNewReport(t, h)
	r.record = true
	checkHistory(t, h, dropFirst, r, nbd)
	assert.Positive(t, r.missed, "a lister that leaves out sectors must be caught")

	whole := gtMutant{gtQcow2{}, func(_ []extent.Extent, capacity int64) []extent.Extent {
		return []extent.Extent{{Length: capacity}}
	}}
	r = gtNewReport(t, h)
	r.record = true
	checkHistory(t, h, whole, r, nbd)
	assert.Positive(t, r.extra, "a lister that reports untouched clusters must be caught")
	assert.Zero(t, r.missed)

	// The deleted-snapshot check: a lister that silently answers.
	r = gtNewReport(t, h)
	r.record = true
	checkHistory(t, h, gtMutant{gtQcow2{}, nil}.silent(), r, nbd)
	if gtHasDeleted(h) {
		assert.NotEmpty(t, r.fails, "a lister that answers for a deleted snapshot must be caught")
	}
}

func gtHasDeleted(h *gtHistory) bool {
	for _, p := range h.points {
		if p.deleted {
			return true
		}
	}
	return false
}

// silent returns a system whose disks answer a base they do not know with an
// empty listing instead of an error.
func (m gtMutant) silent() gtSystem { return gtSilent{m.gtSystem} }

type gtSilent struct{ gtSystem }

func (s gtSilent) open(t testing.TB, path string, at qemu.Point) gtDisk {
	return gtSilentDisk{s.gtSystem.open(t, path, at)}
}

type gtSilentDisk struct{ gtDisk }

func (s gtSilentDisk) changes(since cbt.ChangeID) ([]extent.Extent, error) {
	es, err := s.gtDisk.changes(since)
	if errors.Is(err, cbt.ErrChangeIDInvalid) {
		return nil, nil
	}
	return es, err
}
