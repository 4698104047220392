package qemu_test

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// crafter writes a qcow2 image byte by byte, following the format
// (docs/interop/qcow2.txt), for shapes qemu-img does not make: huge snapshot
// tables and bitmap directories, huge L1 tables, sizes beyond what the
// tables map. The file is sparse: tables of zeros cost no disk. Cluster 0
// holds the header, cluster 1 an empty refcount table (never read), and
// everything else is appended cluster by cluster.
type crafter struct {
	t       testing.TB
	f       *os.File
	cb      uint32
	size    uint64 // virtual size
	end     int64  // file offset of the next cluster to allocate
	l1Off   uint64
	l1Size  uint32
	snapOff uint64
	nbSnaps uint32
	bmExt   []byte // the bitmaps extension's 24 bytes, nil for none
}

var be = binary.BigEndian

func newCrafter(t testing.TB, path string, cb uint32, size uint64) *crafter {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	c := &crafter{t: t, f: f, cb: cb, size: size, end: 2 << cb}
	return c
}

func (c *crafter) cs() int64 { return 1 << c.cb }

// alloc reserves n bytes (rounded up to clusters) and returns their offset.
func (c *crafter) alloc(n int64) uint64 {
	off := c.end
	c.end += max((n+c.cs()-1)/c.cs(), 1) * c.cs()
	require.NoError(c.t, c.f.Truncate(c.end))
	return uint64(off)
}

func (c *crafter) writeAt(b []byte, off uint64) {
	_, err := c.f.WriteAt(b, int64(off))
	require.NoError(c.t, err)
}

// l1 allocates an L1 table of n entries (all 0 but those in set) and returns
// its offset.
func (c *crafter) l1(n uint32, set map[uint32]uint64) uint64 {
	off := c.alloc(int64(n) * 8)
	for i, e := range set {
		var w [8]byte
		be.PutUint64(w[:], e)
		c.writeAt(w[:], off+uint64(i)*8)
	}
	return off
}

// l2 allocates an L2 table with data clusters for entries [0, n), each a
// fresh cluster, and returns its offset.
func (c *crafter) l2(n int) uint64 {
	off := c.alloc(c.cs())
	t := make([]byte, 8*n)
	for j := range n {
		be.PutUint64(t[8*j:], c.alloc(c.cs())|1<<63)
	}
	c.writeAt(t, off)
	return off
}

// snapEntry is one snapshot table entry.
type snapEntry struct {
	id, name string
	l1Off    uint64
	l1Size   uint32
	diskSize uint64
	date     uint32
}

func (s snapEntry) bytes() []byte {
	e := make([]byte, 40+16, 40+16+len(s.id)+len(s.name)+7)
	be.PutUint64(e[0:], s.l1Off)
	be.PutUint32(e[8:], s.l1Size)
	be.PutUint16(e[12:], uint16(len(s.id)))
	be.PutUint16(e[14:], uint16(len(s.name)))
	be.PutUint32(e[16:], s.date)
	be.PutUint32(e[36:], 16) // extra data: vm_state_size_large, disk_size
	be.PutUint64(e[48:], s.diskSize)
	e = append(append(e, s.id...), s.name...)
	for len(e)%8 != 0 {
		e = append(e, 0)
	}
	return e
}

// snapshots writes a snapshot table of n entries that entry(i) returns,
// streaming it to the file.
func (c *crafter) snapshots(n int, entry func(i int) snapEntry) {
	var buf []byte
	start := uint64(c.end)
	pos := start
	for i := range n {
		buf = append(buf, entry(i).bytes()...)
		if len(buf) >= 1<<20 || i == n-1 {
			c.end = int64(pos) + int64(len(buf))
			c.end = (c.end + c.cs() - 1) &^ (c.cs() - 1)
			require.NoError(c.t, c.f.Truncate(c.end))
			c.writeAt(buf, pos)
			pos += uint64(len(buf))
			buf = buf[:0]
		}
	}
	c.snapOff, c.nbSnaps = start, uint32(n)
}

// bitmaps writes a bitmap directory of n entries named by name(i), each
// with a one-entry bitmap table (shared, all clean) at granularity 64 KiB,
// flag auto, and sets the bitmaps extension.
func (c *crafter) bitmaps(n int, name func(i int) string) {
	table := c.alloc(8)
	var buf []byte
	start := uint64(c.end)
	pos := start
	for i := range n {
		nm := name(i)
		e := make([]byte, 24, 24+len(nm)+7)
		be.PutUint64(e[0:], table)
		be.PutUint32(e[8:], 1)
		be.PutUint32(e[12:], 2) // auto
		e[16] = 1               // dirty tracking
		e[17] = 16              // 64 KiB
		be.PutUint16(e[18:], uint16(len(nm)))
		e = append(e, nm...)
		for len(e)%8 != 0 {
			e = append(e, 0)
		}
		buf = append(buf, e...)
		if len(buf) >= 1<<20 || i == n-1 {
			c.end = (int64(pos) + int64(len(buf)) + c.cs() - 1) &^ (c.cs() - 1)
			require.NoError(c.t, c.f.Truncate(c.end))
			c.writeAt(buf, pos)
			pos += uint64(len(buf))
			buf = buf[:0]
		}
	}
	c.bmExt = make([]byte, 24)
	be.PutUint32(c.bmExt[0:], uint32(n))
	be.PutUint64(c.bmExt[8:], pos-start)
	be.PutUint64(c.bmExt[16:], start)
}

// finish writes the header and returns the path.
func (c *crafter) finish() string {
	h := make([]byte, 104)
	copy(h, "QFI\xfb")
	be.PutUint32(h[4:], 3)
	be.PutUint32(h[20:], c.cb)
	be.PutUint64(h[24:], c.size)
	be.PutUint32(h[36:], c.l1Size)
	be.PutUint64(h[40:], c.l1Off)
	be.PutUint64(h[48:], uint64(c.cs()))
	be.PutUint32(h[56:], 1)
	be.PutUint32(h[60:], c.nbSnaps)
	be.PutUint64(h[64:], c.snapOff)
	be.PutUint32(h[96:], 4)
	be.PutUint32(h[100:], 104)
	if c.bmExt != nil {
		be.PutUint64(h[88:], 1) // autoclear: bitmaps consistent
		h = be.AppendUint32(h, 0x23852875)
		h = be.AppendUint32(h, 24)
		h = append(h, c.bmExt...)
	}
	h = append(h, make([]byte, 8)...) // end of the header extensions
	c.writeAt(h, 0)
	return c.f.Name()
}

// The crafted images of the memory tests, as cbtctl would meet them.

// craftSnapshotTable is an image of 1 GiB with a snapshot table of 65536
// entries of 1 KiB each (64 MiB, the format limit), names of 960 bytes.
func craftSnapshotTable(t testing.TB, dir string) string {
	c := newCrafter(t, filepath.Join(dir, "snaptable.qcow2"), 16, 1<<30)
	c.l1Size = 2
	c.l1Off = c.l1(2, nil)
	name := make([]byte, 1024)
	for i := range name {
		name[i] = 'a' + byte(i%26)
	}
	c.snapshots(65536, func(i int) snapEntry {
		id := fmt.Sprint(i + 1)
		copy(name, fmt.Sprintf("%08d", i))
		return snapEntry{id: id, name: string(name[:1024-56-len(id)]), l1Off: c.l1Off, l1Size: 2, diskSize: 1 << 30, date: 1700000000 + uint32(i)}
	})
	return c.finish()
}

// craftBitmapDirectory is an image of 1 GiB with a bitmap directory of 65535
// entries of 1 KiB each (names of 1000 bytes).
func craftBitmapDirectory(t testing.TB, dir string) string {
	c := newCrafter(t, filepath.Join(dir, "bitmapdir.qcow2"), 16, 1<<30)
	c.l1Size = 2
	c.l1Off = c.l1(2, nil)
	c.bitmaps(65535, bitmapName)
	return c.finish()
}

// bitmapName is the name of bitmap i of craftBitmapDirectory: 1000 bytes.
func bitmapName(i int) string {
	name := make([]byte, 1000)
	for k := range name {
		name[k] = 'a' + byte(k%26)
	}
	copy(name, fmt.Sprintf("%08d", i))
	return string(name)
}

// craftHugeL1 is an image whose active L1 table and one snapshot's are 32
// MiB each (QEMU's limit, 4 Mi entries), a disk of 4 Mi L2 tables (2 PiB
// with 64 KiB clusters); a few L2 tables are present, one at each end.
func craftHugeL1(t testing.TB, dir string) string {
	const n = 4 << 20
	c := newCrafter(t, filepath.Join(dir, "hugel1.qcow2"), 16, n<<29)
	a0, a1, s0 := c.l2(3), c.l2(1), c.l2(2)
	c.l1Size = n
	c.l1Off = c.l1(n, map[uint32]uint64{0: a0 | 1<<63, n - 1: a1 | 1<<63})
	sl1 := c.l1(n, map[uint32]uint64{0: s0, n - 1: a1})
	c.snapshots(1, func(int) snapEntry {
		return snapEntry{id: "1", name: "s", l1Off: sl1, l1Size: n, diskSize: n << 29, date: 1700000000}
	})
	return c.finish()
}

// TestCraftImages writes the crafted images to $CBT_CRAFT_DIR, to measure
// cbtctl on them by hand (see the memory tests).
func TestCraftImages(t *testing.T) {
	dir := os.Getenv("CBT_CRAFT_DIR")
	if dir == "" {
		t.Skip("set CBT_CRAFT_DIR to write the crafted images there")
	}
	for _, p := range []string{craftSnapshotTable(t, dir), craftBitmapDirectory(t, dir), craftHugeL1(t, dir)} {
		t.Log(p)
	}
}
