package qemu_test

import (
	"encoding/binary"
	"os"
	"testing"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/qcow2"
	"github.com/changedblocks/sdk/internal/qemutools"
	"github.com/changedblocks/sdk/qemu"
	"github.com/stretchr/testify/require"
)

// bitmapImage makes an image with bitmap b1 added after a first write and
// writes after it; it returns the path.
func bitmapImage(t *testing.T) string {
	p := newQcow2(t, "bm.qcow2", "cluster_size=64k", "4M")
	qemutools.QemuIO(t, p, "write -P 1 0 64k")
	qemutools.QemuImg(t, "bitmap", "--add", "-g", "64k", p, "b1")
	qemutools.QemuIO(t, p, "write -P 2 1M 4k", "write -P 3 3M 128k")
	return p
}

func TestSinceBitmap(t *testing.T) {
	p := bitmapImage(t)
	b1 := changeID(t, qemu.BitmapPoint("b1"))
	d := openAt(t, p, qemu.Active(), trusted)
	got := mustList(t, d, b1)
	require.Equal(t, []extent.Extent{ext(1*miB, 64*kiB), ext(3*miB, 128*kiB)}, got)
	if qemutools.Have(t, "nbdinfo") && qemutools.Have(t, "qemu-nbd") {
		require.Equal(t, qemutools.DirtyMap(t, p, "b1"), got)
	}

	im, err := qemu.OpenImage(p, nil)
	require.NoError(t, err)
	defer im.Close()
	bms, err := im.Bitmaps()
	require.NoError(t, err)
	require.Len(t, bms, 1)
	require.Equal(t, qemu.Bitmap{Name: "b1", Granularity: 64 * kiB, Flags: []string{"auto"}, Enabled: true, Usable: true}, bms[0])
	require.Equal(t, 1, im.Info().Bitmaps)

	// A bitmap is a base only, and for the active point only.
	_, err = im.Open(qemu.BitmapPoint("b1"))
	require.ErrorIs(t, err, cbt.ErrInvalidArgument)
	snapshot(t, p, "s1")
	s := openAt(t, p, qemu.SnapshotPoint("s1"), trusted)
	_, err = listChanges(t, s, b1)
	require.ErrorIs(t, err, cbt.ErrInvalidArgument)
	require.Contains(t, err.Error(), "a bitmap is not snapshotted")

	// A missing bitmap.
	_, err = listChanges(t, d, changeID(t, qemu.BitmapPoint("nope")))
	require.ErrorIs(t, err, cbt.ErrChangeIDInvalid)
}

func TestBitmapDisabled(t *testing.T) {
	p := bitmapImage(t)
	qemutools.QemuImg(t, "bitmap", "--disable", p, "b1")
	d := openAt(t, p, qemu.Active(), nil)
	_, err := listChanges(t, d, changeID(t, qemu.BitmapPoint("b1")))
	require.ErrorIs(t, err, cbt.ErrChangeIDInvalid)
	require.Contains(t, err.Error(), "disabled")
	require.Contains(t, err.Error(), "--merge")
	bms := imageBitmaps(t, p)
	require.False(t, bms[0].Usable)
	require.False(t, bms[0].Enabled)
	require.Empty(t, bms[0].Flags)
	require.Contains(t, bms[0].Reason, "disabled")
}

func TestBitmapInUse(t *testing.T) {
	p := bitmapImage(t)
	// Set flag bit 0 (in_use) of the directory entry, as a crashed qemu leaves it.
	f, err := os.Open(p)
	require.NoError(t, err)
	fi, err := f.Stat()
	require.NoError(t, err)
	q, err := qcow2.Open(f, fi.Size(), nil)
	require.NoError(t, err)
	bms, err := q.Bitmaps()
	require.NoError(t, err)
	require.NoError(t, f.Close())
	patchU32(t, p, int64(bms[0].EntryOffset)+12, func(v uint32) uint32 { return v | qcow2.BitmapFlagInUse })

	d := openAt(t, p, qemu.Active(), nil)
	_, err = listChanges(t, d, changeID(t, qemu.BitmapPoint("b1")))
	require.ErrorIs(t, err, cbt.ErrChangeIDInvalid)
	require.Contains(t, err.Error(), "in-use")
	got := imageBitmaps(t, p)
	require.Equal(t, []string{"in-use", "auto"}, got[0].Flags)
	require.True(t, got[0].InUse)
	require.False(t, got[0].Usable)
	if qemutools.Have(t, "qemu-img") {
		info := qemutools.Info(t, p)
		require.Equal(t, info.FormatSpecific.Data.Bitmaps[0].Flags, got[0].Flags)
	}
}

func TestBitmapsInconsistent(t *testing.T) {
	p := bitmapImage(t)
	// Clear autoclear bit 0 (bitmaps consistent): header bytes 88-95.
	patchU32(t, p, 92, func(v uint32) uint32 { return v &^ 1 })
	d := openAt(t, p, qemu.Active(), nil)
	_, err := listChanges(t, d, changeID(t, qemu.BitmapPoint("b1")))
	require.ErrorIs(t, err, cbt.ErrChangeIDInvalid)
	require.Contains(t, err.Error(), "inconsistent")
	im, err := qemu.OpenImage(p, nil)
	require.NoError(t, err)
	defer im.Close()
	require.False(t, im.Info().BitmapsConsistent)
	bms, err := im.Bitmaps()
	require.NoError(t, err)
	require.False(t, bms[0].Usable)
}

func imageBitmaps(t *testing.T, p string) []qemu.Bitmap {
	t.Helper()
	im, err := qemu.OpenImage(p, nil)
	require.NoError(t, err)
	defer im.Close()
	bms, err := im.Bitmaps()
	require.NoError(t, err)
	return bms
}

// patchU32 rewrites the big-endian 32-bit word at off of a file.
func patchU32(t testing.TB, p string, off int64, f func(uint32) uint32) {
	t.Helper()
	fh, err := os.OpenFile(p, os.O_RDWR, 0)
	require.NoError(t, err)
	defer fh.Close()
	var b [4]byte
	_, err = fh.ReadAt(b[:], off)
	require.NoError(t, err)
	binary.BigEndian.PutUint32(b[:], f(binary.BigEndian.Uint32(b[:])))
	_, err = fh.WriteAt(b[:], off)
	require.NoError(t, err)
}
