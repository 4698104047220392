package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// craftedTables says what a crafted image holds: n snapshots or n bitmaps,
// entry i named by name(i) (and, for a snapshot, with the id id(i)).
type craftedTables struct {
	snapshots, bitmaps int
	id, name           func(i int) string
}

// craftImage writes a qcow2 image of 1 GiB with 64 KiB clusters byte by
// byte, after docs/interop/qcow2.txt (as qemu/craft_test.go does), for
// tables qemu-img does not make: the largest the format allows. Cluster 0
// holds the header, cluster 1 an empty refcount table (never read), cluster
// 2 the L1 table (nothing allocated), cluster 3 the one table every bitmap
// shares (all clean); the snapshot table or the bitmap directory follows.
// The file is sparse.
func craftImage(t *testing.T, c craftedTables) string {
	t.Helper()
	const cs = 64 << 10
	path := filepath.Join(t.TempDir(), "crafted.qcow2")
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	be := binary.BigEndian
	const l1, bitmapTable, tables = 2 * cs, 3 * cs, 4 * cs
	_, err = f.Seek(tables, 0)
	require.NoError(t, err)
	w := bufio.NewWriter(f)
	size := 0
	for i := range c.snapshots {
		id, name := c.id(i), c.name(i)
		e := make([]byte, 56, 56+len(id)+len(name)+7)
		be.PutUint64(e[0:], l1)
		be.PutUint32(e[8:], 2) // L1 entries: 1 GiB
		be.PutUint16(e[12:], uint16(len(id)))
		be.PutUint16(e[14:], uint16(len(name)))
		be.PutUint32(e[16:], 1700000000+uint32(i)) // date
		be.PutUint32(e[36:], 16)                   // extra data: vm_state_size_large, disk_size
		be.PutUint64(e[48:], 1<<30)
		e = append(append(e, id...), name...)
		e = append(e, make([]byte, (8-len(e)%8)%8)...)
		size += len(e)
		_, err = w.Write(e)
		require.NoError(t, err)
	}
	for i := range c.bitmaps {
		name := c.name(i)
		e := make([]byte, 24, 24+len(name)+7)
		be.PutUint64(e[0:], bitmapTable)
		be.PutUint32(e[8:], 1)  // table entries
		be.PutUint32(e[12:], 2) // flags: auto
		e[16] = 1               // type: dirty tracking
		e[17] = 16              // granularity 64 KiB
		be.PutUint16(e[18:], uint16(len(name)))
		e = append(e, name...)
		e = append(e, make([]byte, (8-len(e)%8)%8)...)
		size += len(e)
		_, err = w.Write(e)
		require.NoError(t, err)
	}
	require.NoError(t, w.Flush())
	require.NoError(t, f.Truncate(tables+int64(size+cs-1)/cs*cs+cs))

	h := make([]byte, 104)
	copy(h, "QFI\xfb")
	be.PutUint32(h[4:], 3)      // version
	be.PutUint32(h[20:], 16)    // cluster bits
	be.PutUint64(h[24:], 1<<30) // size
	be.PutUint32(h[36:], 2)     // L1 entries
	be.PutUint64(h[40:], l1)
	be.PutUint64(h[48:], cs) // refcount table
	be.PutUint32(h[56:], 1)
	if c.snapshots > 0 {
		be.PutUint32(h[60:], uint32(c.snapshots))
		be.PutUint64(h[64:], tables)
	}
	be.PutUint32(h[96:], 4)    // refcount order
	be.PutUint32(h[100:], 104) // header length
	if c.bitmaps > 0 {
		be.PutUint64(h[88:], 1) // autoclear: bitmaps consistent
		h = be.AppendUint32(h, 0x23852875)
		h = be.AppendUint32(h, 24)
		h = be.AppendUint32(h, uint32(c.bitmaps))
		h = be.AppendUint32(h, 0)
		h = be.AppendUint64(h, uint64(size))
		h = be.AppendUint64(h, tables)
	}
	h = append(h, make([]byte, 8)...) // end of the header extensions
	_, err = f.WriteAt(h, 0)
	require.NoError(t, err)
	return path
}

// longName is a name of n bytes starting with i.
func longName(i, n int) string {
	b := make([]byte, n)
	for k := range b {
		b[k] = 'a' + byte(k%26)
	}
	copy(b, fmt.Sprintf("%08d", i))
	return string(b)
}

// craftSnapshotTable is an image with the largest snapshot table QEMU
// reads: 65536 entries of 1 KiB (64 MiB).
func craftSnapshotTable(t *testing.T) string {
	id := func(i int) string { return fmt.Sprint(i + 1) }
	return craftImage(t, craftedTables{snapshots: 65536, id: id, name: func(i int) string { return longName(i, 1024-56-len(id(i))) }})
}

// craftBitmapDirectory is an image with the largest bitmap directory QEMU
// reads: 65535 entries of 1 KiB.
func craftBitmapDirectory(t *testing.T) string {
	return craftImage(t, craftedTables{bitmaps: 65535, name: func(i int) string { return longName(i, 1000) }})
}

// craftTabbedBitmapDirectory is craftBitmapDirectory with names of tabs
// but their first 8 bytes: a text table's cells, a thousand a row.
func craftTabbedBitmapDirectory(t *testing.T) string {
	return craftImage(t, craftedTables{bitmaps: 65535, name: func(i int) string { return fmt.Sprintf("%08d", i) + strings.Repeat("\t", 992) }})
}
