package qemu_test

import (
	"context"
	"encoding/binary"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/internal/qemutools"
	"github.com/changedblocks/sdk/qemu"
)

// snapshotEntry is where an entry of a snapshot table lies: its offset, and
// the length of its extra data (its id follows it).
type snapshotEntry struct{ off, extra int64 }

// snapshotEntries returns where each entry of the snapshot table of the
// qcow2 image at path lies, read from the header (nb_snapshots at 60,
// snapshots_offset at 64) and the entries' lengths.
func snapshotEntries(t *testing.T, path string) []snapshotEntry {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	n := binary.BigEndian.Uint32(b[60:])
	off := int64(binary.BigEndian.Uint64(b[64:]))
	var out []snapshotEntry
	for range n {
		e := b[off:]
		extra := int64(binary.BigEndian.Uint32(e[36:]))
		out = append(out, snapshotEntry{off, extra})
		size := 40 + extra + int64(binary.BigEndian.Uint16(e[12:])) + int64(binary.BigEndian.Uint16(e[14:]))
		off += (size + 7) &^ 7
	}
	return out
}

// patchAt writes b at off of the file at path.
func patchAt(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteAt(b, off)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// TestDuplicateSnapshotIDs patches the id of the second of two snapshots
// qemu-img made ("2") to the first's ("1"): the table is corrupt (QEMU never
// writes two entries with one id), and every use of it says so with
// cbt.ErrCorrupt. Before, a listing since snapshot "1" gave
// cbt.ErrChangeIDInvalid (take a full backup, exit 3) for an ambiguity.
func TestDuplicateSnapshotIDs(t *testing.T) {
	p := newQcow2(t, "dup.qcow2", "", "4M")
	snapshot(t, p, "a")
	snapshot(t, p, "b")
	since := snapID(t, p, "a")
	es := snapshotEntries(t, p)
	require.Len(t, es, 2)
	patchAt(t, p, es[1].off+40+es[1].extra, []byte("1")) // the id follows the extra data

	im, err := qemu.OpenImage(p, nil)
	require.NoError(t, err, "OpenImage does not read the snapshot table")
	defer im.Close()
	_, err = im.Snapshots()
	require.ErrorIs(t, err, cbt.ErrCorrupt)
	assert.Contains(t, err.Error(), `snapshot entries 0 and 1`)
	assert.Contains(t, err.Error(), `both have id "1"`)

	for _, at := range []qemu.Point{qemu.SnapshotPoint("1"), qemu.SnapshotPoint("b")} {
		_, err = qemu.Open(p, at, nil)
		require.ErrorIs(t, err, cbt.ErrCorrupt, "at %s", at)
		assert.NotErrorIs(t, err, cbt.ErrChangeIDInvalid)
	}
	d := openAt(t, p, qemu.Active(), nil)
	for _, base := range []cbt.ChangeID{changeID(t, qemu.SnapshotPoint("1")), since} {
		_, err = listChanges(t, d, base)
		require.ErrorIs(t, err, cbt.ErrCorrupt, "since %s", base)
		assert.NotErrorIs(t, err, cbt.ErrChangeIDInvalid, "not a reason for a full backup")
	}
}

// TestSnapshotDiskSizeBeyondL1 patches the disk size a snapshot of an image
// with 512-byte clusters records to 2^55, far beyond what its L1 table maps:
// the table is corrupt, and a listing at or since the snapshot says so at
// once. Before, a listing at it walked 32 PiB page by page (2 MiB pages),
// for far longer than the test's deadline.
func TestSnapshotDiskSizeBeyondL1(t *testing.T) {
	p := newQcow2(t, "huge.qcow2", "cluster_size=512", "4M")
	qemutools.QemuIO(t, p, "write 0 64k")
	snapshot(t, p, "s")
	es := snapshotEntries(t, p)
	require.Len(t, es, 1)
	var size [8]byte
	binary.BigEndian.PutUint64(size[:], 1<<55)
	require.GreaterOrEqual(t, es[0].extra, int64(16))
	patchAt(t, p, es[0].off+40+8, size[:]) // extra data bytes 8-15: disk_size

	for _, c := range []struct {
		at, since qemu.Point
	}{
		{qemu.SnapshotPoint("s"), qemu.Point{}},
		{qemu.Active(), qemu.SnapshotPoint("s")},
	} {
		err := promptly(t, "listing", func() error {
			d, err := qemu.Open(p, c.at, nil)
			if err != nil {
				return err
			}
			defer d.Close()
			var since cbt.ChangeID
			if c.since != (qemu.Point{}) {
				since = changeID(t, c.since)
			}
			_, err = cbt.Collect(d.Changes(context.Background(), since, nil))
			return err
		})
		require.ErrorIs(t, err, cbt.ErrCorrupt)
		assert.Contains(t, err.Error(), "disk size (extra data bytes 8-15) 36028797018963968 needs 1099511627776 L1 entries of 32768 bytes, but its L1 table has l1_size (entry byte 8) = 128")
	}
}
