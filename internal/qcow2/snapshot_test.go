package qcow2

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// snapEntry encodes one snapshot table entry.
func snapEntry(id, name string, extra []byte) []byte {
	be := binary.BigEndian
	b := make([]byte, 40)
	be.PutUint64(b[0:], 0x10000)
	be.PutUint32(b[8:], 1)
	be.PutUint16(b[12:], uint16(len(id)))
	be.PutUint16(b[14:], uint16(len(name)))
	be.PutUint32(b[16:], 1795355765)
	be.PutUint32(b[20:], 123456789)
	be.PutUint64(b[24:], 42e9+7)
	be.PutUint32(b[32:], 999)
	be.PutUint32(b[36:], uint32(len(extra)))
	b = append(append(append(b, extra...), id...), name...)
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	return b
}

// testHeader is the header of the snapshot tables of these tests: 64 KiB
// clusters (an L1 entry maps 512 MiB), a disk of 1 MiB.
var testHeader = &Header{Version: 3, ClusterBits: 16, Size: 1 << 20}

func TestSnapshotTableFields(t *testing.T) {
	be := binary.BigEndian
	extra := make([]byte, 24)
	be.PutUint64(extra[0:], 806005)
	be.PutUint64(extra[8:], 16<<20)
	be.PutUint64(extra[16:], ^uint64(0)) // icount -1
	var tbl []byte
	tbl = append(tbl, snapEntry("1", "full", extra)...)
	tbl = append(tbl, snapEntry("2", "v2-style", nil)...)                   // no extra data
	tbl = append(tbl, snapEntry("3", "vmstate64", extra[:8])...)            // 64-bit VM state only
	tbl = append(tbl, snapEntry("4", "unknown-extra", make([]byte, 40))...) // longer extra data
	snaps, err := readSnapshotTable(bytes.NewReader(tbl), int64(len(tbl)), testHeader, 0, 4)
	require.NoError(t, err)
	require.Len(t, snaps, 4)

	s := snaps[0]
	assert.Equal(t, "1", s.ID)
	assert.Equal(t, "full", s.Name)
	assert.Equal(t, time.Unix(1795355765, 123456789), s.Date())
	assert.Equal(t, uint64(42e9+7), s.VMClockNsec)
	assert.Equal(t, uint64(806005), s.VMStateSize, "64-bit field wins")
	assert.True(t, s.HasDiskSize)
	assert.Equal(t, uint64(16<<20), s.DiskSize)
	assert.True(t, s.HasICount)
	assert.Equal(t, int64(-1), s.ICount)
	assert.Equal(t, uint64(0), s.EntryOffset)

	s = snaps[1]
	assert.Equal(t, uint64(999), s.VMStateSize, "32-bit field without extra data")
	assert.False(t, s.HasDiskSize)
	assert.False(t, s.HasICount)
	assert.Equal(t, uint64(len(snapEntry("1", "full", extra))), s.EntryOffset)

	s = snaps[2]
	assert.Equal(t, uint64(806005), s.VMStateSize)
	assert.False(t, s.HasDiskSize)

	s = snaps[3]
	assert.Equal(t, "unknown-extra", s.Name)
	assert.Len(t, s.ExtraData, 40)
	assert.True(t, s.HasICount)

	// The view of an entry without a disk size has the header's size.
	img := &Image{Header: Header{Size: 12345}}
	v, err := img.SnapshotView(&snaps[1])
	require.NoError(t, err)
	assert.Equal(t, int64(12345), v.DiskSize)
}

func TestSnapshotTableBounds(t *testing.T) {
	be := binary.BigEndian
	one := snapEntry("1", "a", make([]byte, 16))
	cases := []struct {
		name     string
		tbl      []byte
		n        uint32
		contains string
	}{
		{"count-beyond-file", one, 2, "cannot hold 2 entries"},
		{"too-many", one, MaxSnapshots + 1, "nb_snapshots = 65537 exceeds 65536"},
		{"extra-too-big", func() []byte { b := bytes.Clone(one); be.PutUint32(b[36:], 1025); return b }(), 1, "extra_data_size (entry byte 36) = 1025 exceeds 1024"},
		{"name-beyond-file", func() []byte { b := bytes.Clone(one); be.PutUint16(b[14:], 60000); return b }(), 1, "snapshot entry 0 at offset 0x0: 60057 bytes (extra data 16, id 1, name 60000) end beyond the end of the file"},
		{"second-entry-truncated", append(bytes.Clone(one), one[:30]...), 2, "snapshot entry 1 at offset 0x40: its first 40 bytes end beyond the end of the file (94 bytes)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := readSnapshotTable(bytes.NewReader(c.tbl), int64(len(c.tbl)), testHeader, 0, c.n)
			require.ErrorIs(t, err, ErrCorrupt)
			assert.Contains(t, err.Error(), c.contains)
		})
	}

	// The last entry's padding may be missing at the end of the file (obs:
	// qemu-img leaves it out with 512-byte clusters).
	unpadded := snapEntry("1", "ab", make([]byte, 16))[:40+16+1+2]
	snaps, err := readSnapshotTable(bytes.NewReader(unpadded), int64(len(unpadded)), testHeader, 0, 1)
	require.NoError(t, err)
	assert.Equal(t, "ab", snaps[0].Name)

	// A table larger than MaxSnapshotTableBytes is refused before reading it
	// all: 65536 entries with 1024 bytes of extra data.
	var tbl []byte
	n := 0
	for ; len(tbl) <= MaxSnapshotTableBytes; n++ {
		tbl = append(tbl, snapEntry(fmt.Sprint(n+1), "x", make([]byte, 1024))...)
	}
	_, err = readSnapshotTable(bytes.NewReader(tbl), int64(len(tbl)), testHeader, 0, uint32(n))
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), "is larger than 67108864 bytes")
}

// TestManySnapshots reads a table larger than the sequential reader's buffer,
// with names that cross its boundaries.
func TestManySnapshots(t *testing.T) {
	s := newSynth(9, false, 64<<10)
	l1 := s.table([]uint64{0, 0})
	for i := range 1000 {
		s.addSnapshot(fmt.Sprintf("snapshot-%04d-%s", i, bytes.Repeat([]byte{'x'}, i%37)), l1, 2, 64<<10)
	}
	img, err := openBytes(s.bytes(l1, 2))
	require.NoError(t, err)
	snaps, err := img.Snapshots()
	require.NoError(t, err)
	require.Len(t, snaps, 1000)
	for i, sn := range snaps {
		require.Equal(t, fmt.Sprintf("snapshot-%04d-%s", i, bytes.Repeat([]byte{'x'}, i%37)), sn.Name)
		require.Equal(t, fmt.Sprint(i+1), sn.ID)
	}
}

// TestLongNameAllocations is the regression test of a fuzz finding: a
// snapshot name of 64 KiB made every Diff format it (quoted) into messages
// that were never used, allocating many times the image size. Names now only
// reach messages on error, cut to 64 bytes.
func TestLongNameAllocations(t *testing.T) {
	s := newSynth(9, false, 64<<10)
	l1 := s.table([]uint64{s.l2(map[int][2]uint64{1: data(s.alloc(1))}), 0})
	name := string(bytes.Repeat([]byte{0}, 65535))
	s.addSnapshot(name, l1, 2, 64<<10)
	b := s.bytes(s.table([]uint64{0, 0}), 2)
	img, vs := views(t, b)
	checkAllocs(t, len(b), "Diff", func() {
		_, err := collectErr(img.Diff(vs[""], vs[name]))
		require.NoError(t, err)
	})
	v := vs[name]
	v.L1TableOffset = 1 << 40
	_, err := collectErr(img.Diff(vs[""], v))
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Less(t, len(err.Error()), 1024)
	assert.Contains(t, err.Error(), `snapshot "\x00\x00`)
}

// TestSnapshotDuplicateIDs: two entries with one id are a corrupt table
// (QEMU never writes them; a reference by id would be ambiguous), found
// wherever the second one is; two entries with one name are legal.
func TestSnapshotDuplicateIDs(t *testing.T) {
	extra := make([]byte, 16)
	var tbl []byte
	for _, e := range [][2]string{{"1", "a"}, {"2", "a"}, {"3", "b"}, {"2", "c"}} {
		tbl = append(tbl, snapEntry(e[0], e[1], extra)...)
	}
	_, err := readSnapshotTable(bytes.NewReader(tbl), int64(len(tbl)), testHeader, 0, 4)
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), `snapshot entries 1 and 3 (at offset 0xc0) both have id "2"`)

	// Streamed, the entries before the second one come first.
	var got []string
	for s, err := range snapshotTable(bytes.NewReader(tbl), int64(len(tbl)), testHeader, 0, 4) {
		if err != nil {
			require.ErrorIs(t, err, ErrCorrupt)
			got = append(got, "error")
			break
		}
		got = append(got, s.ID+s.Name)
	}
	assert.Equal(t, []string{"1a", "2a", "3b", "error"}, got)

	snaps, err := readSnapshotTable(bytes.NewReader(tbl), int64(len(tbl)), testHeader, 0, 3)
	require.NoError(t, err, "names may repeat")
	assert.Len(t, snaps, 3)
}

// TestNameSetCollisions checks that names whose hashes are equal are told
// apart by reading the earlier name again from the file.
func TestNameSetCollisions(t *testing.T) {
	file := []byte("alphabetaalpha")
	s := newNameSet()
	s.hash = func([]byte) uint64 { return 42 } // every name collides
	r := bytes.NewReader(file)
	add := func(off, n uint64, i uint32) (int, bool) {
		j, dup, err := s.add(r, int64(len(file)), file[off:off+n], nameLoc{off: off, n: uint32(n), index: i}, "name")
		require.NoError(t, err)
		return j, dup
	}
	_, dup := add(0, 5, 0) // alpha
	assert.False(t, dup)
	_, dup = add(5, 4, 1) // beta: same hash, another name
	assert.False(t, dup)
	j, dup := add(9, 5, 2) // alpha again
	assert.True(t, dup)
	assert.Equal(t, 0, j)
}

// TestSnapshotDiskSizeBound: a snapshot's disk size (or, without one, the
// image's) must be mapped by its own L1 table, as the header's size is by
// the active one; a disk size of 2^55 with a one-entry L1 table made a
// listing at the snapshot walk 2^55 bytes of nothing.
func TestSnapshotDiskSizeBound(t *testing.T) {
	be := binary.BigEndian
	extra := make([]byte, 16)
	be.PutUint64(extra[8:], 1<<55)
	huge := snapEntry("1", "huge", extra) // l1_size 1: 512 MiB mapped
	_, err := readSnapshotTable(bytes.NewReader(huge), int64(len(huge)), testHeader, 0, 1)
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), `snapshot entry 0 at offset 0x0: snapshot "huge" (id "1"): disk size (extra data bytes 8-15) 36028797018963968 needs 67108864 L1 entries of 536870912 bytes, but its L1 table has l1_size (entry byte 8) = 1`)

	be.PutUint64(extra[8:], 512<<20) // exactly what one entry maps
	ok := snapEntry("1", "ok", extra)
	_, err = readSnapshotTable(bytes.NewReader(ok), int64(len(ok)), testHeader, 0, 1)
	require.NoError(t, err)
	be.PutUint64(extra[8:], 512<<20+1)
	over := snapEntry("1", "over", extra)
	_, err = readSnapshotTable(bytes.NewReader(over), int64(len(over)), testHeader, 0, 1)
	require.ErrorIs(t, err, ErrCorrupt)

	// Without a disk size, the image's size must be mapped.
	v2 := snapEntry("1", "v2", nil)
	big := *testHeader
	big.Size = 1 << 40
	_, err = readSnapshotTable(bytes.NewReader(v2), int64(len(v2)), &big, 0, 1)
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), "the image's size (the entry records none) 1099511627776 needs 2048 L1 entries")
}
