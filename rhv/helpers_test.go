package rhv_test

// Test helpers of the volume driver: real qcow2 chains laid out as RHV lays
// them out, built with qemu-img and written with qemu-io.
//
// File-domain layout: <root>/images/<image>/<volume> and <volume>.meta (a
// vdsm v5 metadata record), backing names "<parent>" as vdsm writes them.
//
// Block-domain-like layout: <root>/lv/<volume>, a file per logical volume
// named by its UUID (what /dev/<domain>/<volume> is on a host), backing
// names "../<image>/<parent>" as vdsm writes them on block domains, an lvs
// listing with vdsm's tags in <root>/lvs.txt, and <root>/images/<image>/
// <volume> symlinks to the LVs (the host's /rhev/data-center/mnt/blockSD
// links), through which the qemu tools resolve the backing names.

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/qemutools"
	"github.com/changedblocks/sdk/rhv"
)

// diskLayout is where a test chain's files live and how they are named.
type diskLayout int

const (
	diskFileDomain diskLayout = iota
	diskBlockDomain
)

func (l diskLayout) String() string {
	if l == diskBlockDomain {
		return "block"
	}
	return "file"
}

// diskChain is a chain of real volumes under construction.
type diskChain struct {
	t      testing.TB
	layout diskLayout
	root   string
	domain string
	chain  rhv.Chain
	seq    int
}

// diskNewChain starts an empty chain of image img in a fresh directory.
func diskNewChain(t testing.TB, layout diskLayout, img string) *diskChain {
	t.Helper()
	qemutools.Need(t, "qemu-img", "qemu-io")
	root := t.TempDir()
	c := &diskChain{t: t, layout: layout, root: root, domain: diskUUID(0xd0, 1), chain: rhv.Chain{Image: img, Ordered: true}}
	require.NoError(t, os.MkdirAll(filepath.Join(root, "images", img), 0o755))
	if layout == diskBlockDomain {
		require.NoError(t, os.MkdirAll(filepath.Join(root, "lv"), 0o755))
	}
	return c
}

// diskVolumeSeq numbers the volumes the tests create: every volume of the
// process has its own UUID.
var diskVolumeSeq atomic.Uint64

// diskUUID returns a UUID made of a kind byte and a number.
func diskUUID(kind byte, n uint64) string {
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", uint32(kind)<<24|uint32(n>>32), uint16(n>>16), n&0xfff, (n>>12)&0xfff, n)
}

// imagePath is the path through the images tree (what the qemu tools open).
func (c *diskChain) imagePath(vol string) string {
	return filepath.Join(c.root, "images", c.chain.Image, vol)
}

// filePath is the file that holds a volume (what OpenVolume opens).
func (c *diskChain) filePath(vol string) string {
	if c.layout == diskBlockDomain {
		return filepath.Join(c.root, "lv", vol)
	}
	return c.imagePath(vol)
}

// options returns the VolumeOptions that find the chain's volumes.
func (c *diskChain) options() *rhv.VolumeOptions {
	if c.layout == diskBlockDomain {
		return &rhv.VolumeOptions{Dir: filepath.Join(c.root, "lv")}
	}
	return &rhv.VolumeOptions{Path: rhv.ImagesPath(filepath.Join(c.root, "images"))}
}

// backingName is the name an overlay records for its parent.
func (c *diskChain) backingName(parent string) string {
	if c.layout == diskBlockDomain {
		return "../" + c.chain.Image + "/" + parent
	}
	return parent
}

// diskVolSpec describes a volume to add.
type diskVolSpec struct {
	id     string
	raw    bool   // a RAW base
	size   int64  // virtual size
	opts   string // qemu-img create -o of a qcow2 volume
	legacy bool   // no .meta file
}

// add creates the next volume on top of the chain, its metadata and (on the
// block layout) its link, and returns its ID.
func (c *diskChain) add(s diskVolSpec) string {
	t := c.t
	t.Helper()
	c.seq++
	if s.id == "" {
		s.id = diskUUID(0xa0, diskVolumeSeq.Add(1))
	}
	parent := rhv.BlankUUID
	var extra []string
	if n := len(c.chain.Volumes); n > 0 {
		prev := c.chain.Volumes[n-1]
		parent = prev.ID
		f := "qcow2"
		if prev.Format == rhv.FormatRAW {
			f = "raw"
		}
		extra = []string{"-b", c.backingName(parent), "-F", f}
	}
	file := c.filePath(s.id)
	if c.layout == diskBlockDomain {
		// The LV exists first; the link makes the backing names resolvable.
		require.NoError(t, os.WriteFile(file, nil, 0o644))
		require.NoError(t, os.Symlink(filepath.Join("..", "..", "lv", s.id), c.imagePath(s.id)))
	}
	format := rhv.FormatCOW
	if s.raw {
		format = rhv.FormatRAW
		qemutools.CreateAs(t, "raw", c.imagePath(s.id), "", fmt.Sprint(s.size))
	} else {
		qemutools.Create(t, c.imagePath(s.id), s.opts, fmt.Sprint(s.size), extra...)
	}
	// The volume below stops being the leaf.
	if n := len(c.chain.Volumes); n > 0 {
		c.chain.Volumes[n-1].Role = rhv.RoleInternal
		c.writeMeta(c.chain.Volumes[n-1])
	}
	v := rhv.Volume{ID: s.id, Parent: parent, Image: c.chain.Image, Format: format, Type: "SPARSE",
		Role: rhv.RoleLeaf, Legality: rhv.LegalityLegal, Capacity: s.size, Sequence: int64(c.seq), CTime: 1700000000 + int64(c.seq), MDSlot: -1}
	if s.raw {
		v.Type = "PREALLOCATED"
	}
	c.chain.Volumes = append(c.chain.Volumes, v)
	if !s.legacy {
		c.writeMeta(v)
	}
	c.writeLVs()
	return s.id
}

// writeMeta writes a volume's metadata record as vdsm writes it on a v5
// domain (keys sorted, then EOF), as the .meta file on the file layout.
func (c *diskChain) writeMeta(v rhv.Volume) {
	if c.layout != diskFileDomain {
		return
	}
	parent := v.Parent
	if parent == "" {
		parent = rhv.BlankUUID
	}
	rec := fmt.Sprintf("CAP=%d\nCTIME=%d\nDESCRIPTION={\"DiskAlias\":\"disk1\",\"DiskDescription\":\"\"}\nDISKTYPE=DATA\nDOMAIN=%s\nFORMAT=%s\nGEN=0\nIMAGE=%s\nLEGALITY=%s\nPUUID=%s\nSEQ=%d\nTYPE=%s\nVOLTYPE=%s\nEOF\n",
		v.Capacity, v.CTime, c.domain, v.Format, v.Image, v.Legality, parent, v.Sequence, v.Type, v.Role)
	require.NoError(c.t, os.WriteFile(c.imagePath(v.ID)+".meta", []byte(rec), 0o644))
}

// writeLVs writes the block layout's lvs listing in vdsm's form.
func (c *diskChain) writeLVs() {
	if c.layout != diskBlockDomain {
		return
	}
	var b strings.Builder
	for i, v := range c.chain.Volumes {
		parent := v.Parent
		if parent == "" {
			parent = rhv.BlankUUID
		}
		fmt.Fprintf(&b, "  lvuuid-%d|%s|%s|-wi-a-----|%d|0|/dev/mapper/x(0)|IU_%s,MD_%d,PU_%s\n",
			i, v.ID, c.domain, 128<<20, v.Image, i+1, parent)
	}
	require.NoError(c.t, os.WriteFile(filepath.Join(c.root, "lvs.txt"), []byte(b.String()), 0o644))
}

// remove removes a volume's files (not from the chain model).
func (c *diskChain) remove(vol string) {
	c.t.Helper()
	require.NoError(c.t, os.Remove(c.filePath(vol)))
	if c.layout == diskBlockDomain {
		require.NoError(c.t, os.Remove(c.imagePath(vol)))
	} else {
		require.NoError(c.t, os.Remove(c.imagePath(vol)+".meta"))
	}
}

// ids returns the chain's volume IDs, base first.
func (c *diskChain) ids() []string {
	var out []string
	for _, v := range c.chain.Volumes {
		out = append(out, v.ID)
	}
	return out
}

// io runs qemu-io commands on a volume through the images tree.
func (c *diskChain) io(vol string, cmds ...string) {
	c.t.Helper()
	format := "qcow2"
	if v := c.chain.Volumes[c.chain.Index(vol)]; v.Format == rhv.FormatRAW {
		format = "raw"
	}
	qemutools.QemuIOAs(c.t, format, c.imagePath(vol), cmds...)
}

// export returns the guest contents of the view at a volume: the volume read
// through its backing chain, as qemu reads it.
func (c *diskChain) export(vol string) []byte {
	c.t.Helper()
	format := "qcow2"
	if v := c.chain.Volumes[c.chain.Index(vol)]; v.Format == rhv.FormatRAW {
		format = "raw"
	}
	return qemutools.ExportRawAs(c.t, format, c.imagePath(vol), "")
}

// present returns what a volume's own layer describes (qemu-img map,
// present at depth 0; all of a raw volume).
func (c *diskChain) present(vol string) []extent.Extent {
	c.t.Helper()
	v := c.chain.Volumes[c.chain.Index(vol)]
	if v.Format == rhv.FormatRAW {
		return []extent.Extent{{Offset: 0, Length: v.Capacity}}
	}
	return qemutools.MapPresent(c.t, c.imagePath(vol))
}

// diskRandomOps returns n random qemu-io commands on a disk of size bytes:
// data writes, zero writes (write -z), zero writes that unmap (write -zu)
// and discards, 512-byte aligned, often at the edges. A raw volume gets
// data writes only.
func diskRandomOps(rng *rand.Rand, n int, size int64, raw bool) []string {
	sectors := size / 512
	var cmds []string
	for range n {
		var len512 int64
		switch rng.IntN(4) {
		case 0:
			len512 = 1
		case 1:
			len512 = 1 + rng.Int64N(min(sectors, 300))
		default:
			len512 = 1 + rng.Int64N(max(sectors/8, 1))
		}
		var off int64
		switch rng.IntN(8) {
		case 0:
			off = 0
		case 1:
			off = sectors - len512
		default:
			off = rng.Int64N(sectors - len512 + 1)
		}
		o, l := off*512, len512*512
		op := rng.IntN(10)
		if raw {
			op = 0
		}
		switch {
		case op < 6:
			cmds = append(cmds, fmt.Sprintf("write -P %d %d %d", 1+rng.IntN(254), o, l))
		case op < 8:
			cmds = append(cmds, fmt.Sprintf("write -z %d %d", o, l))
		case op < 9:
			cmds = append(cmds, fmt.Sprintf("write -zu %d %d", o, l))
		default:
			cmds = append(cmds, fmt.Sprintf("discard %d %d", o, l))
		}
	}
	return cmds
}

// diskDiffs returns the ranges where a and b differ, in 512-byte sectors,
// and the bytes of the longer one beyond the shorter.
func diskDiffs(a, b []byte) []extent.Extent {
	n := min(len(a), len(b))
	var out []extent.Extent
	for off := 0; off < n; off += 512 {
		end := min(off+512, n)
		if string(a[off:end]) != string(b[off:end]) {
			out = append(out, extent.Extent{Offset: int64(off), Length: int64(end - off)})
		}
	}
	if m := max(len(a), len(b)); m > n {
		out = append(out, extent.Extent{Offset: int64(n), Length: int64(m - n)})
	}
	return extent.Normalize(out)
}

// diskNonZero returns the sectors of b that hold a non-zero byte.
func diskNonZero(b []byte) []extent.Extent {
	var out []extent.Extent
	zero := make([]byte, 512)
	for off := 0; off < len(b); off += 512 {
		end := min(off+512, len(b))
		if string(b[off:end]) != string(zero[:end-off]) {
			out = append(out, extent.Extent{Offset: int64(off), Length: int64(end - off)})
		}
	}
	return extent.Normalize(out)
}

// diskUncovered returns the first range of want that no extent of got
// covers; ok is false when everything is covered. got must be normalised.
func diskUncovered(got, want []extent.Extent) (extent.Extent, bool) {
	i := 0
	for _, w := range want {
		pos := w.Offset
		for pos < w.End() {
			for i < len(got) && got[i].End() <= pos {
				i++
			}
			if i == len(got) || got[i].Offset > pos {
				end := w.End()
				if i < len(got) {
					end = min(end, got[i].Offset)
				}
				return extent.Extent{Offset: pos, Length: end - pos}, true
			}
			pos = got[i].End()
		}
	}
	return extent.Extent{}, false
}
