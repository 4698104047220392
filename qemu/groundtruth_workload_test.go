package qemu_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/qemutools"
	"github.com/changedblocks/sdk/qemu"
	"github.com/stretchr/testify/require"
)

// gtOp is one change the workload made to the image under test: the guest
// range it touched, and the command (for failure messages).
type gtOp struct {
	e   extent.Extent
	cmd string
}

// gtPoint is one point of a history: a snapshot, a bitmap, or the active
// state (the last point).
type gtPoint struct {
	kind    qemu.PointKind
	name    string
	ops     int   // operations applied before the point
	size    int64 // virtual size at the point
	minSize int64 // bitmaps: the smallest size the disk had from the point to the end
	gran    int64 // bitmaps: granularity
	// id is the change ID a backup taken at the point stores: cbttest.MustChangeID(t, d) of
	// a Disk opened at the snapshot right after it was taken; the bitmap's
	// point.
	id      cbt.ChangeID
	qid     string            // snapshots: the id qemu-img gave it
	deleted bool              // a snapshot deleted later
	sums    qemutools.Sectors // the contents at the point (snapshots, bitmaps: when added; active)
	// alloc is what a snapshot's view of a chain's top image allocates
	// itself (qemu-nbd's allocation depth), nil when not known.
	alloc []extent.Extent
}

func (p *gtPoint) String() string {
	if p.kind == qemu.PointActive {
		return "active"
	}
	return p.kind.String() + ":" + p.name
}

// gtLayer is one backing file of a chain history.
type gtLayer struct {
	path   string // absolute
	format string
	cs     int64
	size   int64
	sums   qemutools.Sectors // the export of the layer's own chain
}

// gtHistory is what buildHistory made: the image, the backing chain below it,
// every change and every point.
type gtHistory struct {
	w      gtWorkload
	seed   uint64
	path   string
	size   int64 // final virtual size
	ops    []gtOp
	points []*gtPoint // creation order; the last is the active state
	layers []*gtLayer // bottom first
}

func (h *gtHistory) active() *gtPoint { return h.points[len(h.points)-1] }

// opsBetween describes the operations of [from, to) that touch e.
func (h *gtHistory) opsTouching(from, to int, e extent.Extent) string {
	var b strings.Builder
	n := 0
	for i := from; i < to; i++ {
		op := h.ops[i]
		if op.e.Offset < e.End() && e.Offset < op.e.End() {
			if n < 8 {
				fmt.Fprintf(&b, "\n\t\top %d: %s", i, op.cmd)
			}
			n++
		}
	}
	if n == 0 {
		return " (no operation of the interval touches it)"
	}
	if n > 8 {
		fmt.Fprintf(&b, "\n\t\t... %d more", n-8)
	}
	return b.String()
}

// buildHistory makes a randomized history of workload w with the seed: the
// backing chain, then the image under test, then w.steps random steps
// (writes, zero writes, discards, compressed writes, snapshots taken,
// deleted and reverted to, bitmaps added, resizes), and finally exports every
// point.
func buildHistory(t testing.TB, w gtWorkload, seed uint64, sys gtSystem) *gtHistory {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 0x67745f71656d75)) // "gt_qemu"
	dir := t.TempDir()
	h := &gtHistory{w: w, seed: seed, path: filepath.Join(dir, "top.qcow2"), size: w.size}
	randomRange := func(size, maxLen int64) extent.Extent {
		off := rng.Int64N(size/512) * 512
		n := (1 + rng.Int64N(max(maxLen/512, 1))) * 512
		return extent.Extent{Offset: off, Length: min(n, size-off)}
	}
	pattern := func() int { return 1 + rng.IntN(255) }

	// The backing chain, bottom first. Each overlay names its backing file
	// relative to its own directory.
	var backingArgs []string
	for i, l := range w.chain {
		lay := &gtLayer{path: filepath.Join(dir, fmt.Sprintf("layer%d.%s", i, l.format)), format: l.format, cs: l.cs, size: w.size - l.less}
		if i == 0 {
			qemutools.CreateAs(t, l.format, lay.path, l.opts, fmt.Sprint(lay.size))
		} else {
			prev := h.layers[i-1]
			qemutools.CreateAs(t, l.format, lay.path, l.opts, fmt.Sprint(lay.size), "-b", filepath.Base(prev.path), "-F", prev.format)
		}
		var cmds []string
		for range 8 {
			e := randomRange(lay.size, 4*max(l.cs, 64<<10))
			switch k := rng.IntN(10); {
			case k < 7 || l.format == "raw":
				cmds = append(cmds, fmt.Sprintf("write -P %d %d %d", pattern(), e.Offset, e.Length))
			case k < 9:
				cmds = append(cmds, fmt.Sprintf("write -z %d %d", e.Offset, e.Length))
			default:
				cmds = append(cmds, fmt.Sprintf("write -zu %d %d", e.Offset, e.Length))
			}
		}
		qemutools.QemuIOAs(t, l.format, lay.path, cmds...)
		h.layers = append(h.layers, lay)
		backingArgs = []string{"-b", filepath.Base(lay.path), "-F", l.format}
	}
	for _, lay := range h.layers {
		raw := qemutools.ExportRawAs(t, lay.format, lay.path, "")
		require.Equal(t, lay.size, int64(len(raw)), "export of %s", lay.path)
		lay.sums = qemutools.SectorsOf(raw)
	}

	// The image under test.
	if w.compress {
		src := filepath.Join(dir, "src.qcow2")
		qemutools.Create(t, src, "", fmt.Sprint(w.size))
		var cmds []string
		for range 10 {
			e := randomRange(w.size, 6*w.cs)
			cmds = append(cmds, fmt.Sprintf("write -P %d %d %d", pattern(), e.Offset, e.Length))
		}
		qemutools.QemuIO(t, src, cmds...)
		args := []string{"convert", "-c", "-f", "qcow2", "-O", "qcow2"}
		if w.opts != "" {
			args = append(args, "-o", w.opts)
		}
		qemutools.QemuImg(t, append(args, src, h.path)...)
	} else {
		qemutools.Create(t, h.path, w.opts, fmt.Sprint(w.size), backingArgs...)
	}

	var pending []string
	flush := func() { qemutools.QemuIO(t, h.path, pending...); pending = nil }
	op := func(e extent.Extent, cmd string, qemuIO ...string) {
		pending = append(pending, qemuIO...)
		h.ops = append(h.ops, gtOp{e: e, cmd: cmd})
	}
	live := func() []*gtPoint {
		var out []*gtPoint
		for _, p := range h.points {
			if p.kind == qemu.PointSnapshot && !p.deleted {
				out = append(out, p)
			}
		}
		return out
	}
	snapPct, deletePct := w.snapPct, w.deletePct
	if snapPct == 0 {
		snapPct = 14
	}
	if deletePct == 0 {
		deletePct = 4
	}
	snapN, bitmapN := 0, 0
	for step := range w.steps {
		r := rng.IntN(100)
		switch {
		case r < snapPct:
			flush()
			snapN++
			name := fmt.Sprintf("s%d", snapN)
			qemutools.QemuImg(t, "snapshot", "-c", name, h.path)
			h.points = append(h.points, &gtPoint{kind: qemu.PointSnapshot, name: name, ops: len(h.ops), size: h.size, id: sys.snapshotID(t, h.path, name)})
			continue
		case r < snapPct+deletePct:
			if l := live(); len(l) > 1 {
				flush()
				p := l[rng.IntN(len(l))]
				qemutools.QemuImg(t, "snapshot", "-d", p.name, h.path)
				p.deleted = true
				continue
			}
		case r < snapPct+deletePct+3:
			// Revert the active state to a snapshot (qemu refuses while
			// bitmaps record writes). It takes the snapshot's size too.
			if l := live(); len(l) > 0 && bitmapN == 0 {
				flush()
				p := l[rng.IntN(len(l))]
				qemutools.QemuImg(t, "snapshot", "-a", p.name, h.path)
				old := h.size
				h.size = qemutools.Info(t, h.path).VirtualSize
				require.Equal(t, p.size, h.size, "size after reverting to %s", p)
				h.ops = append(h.ops, gtOp{e: extent.FromRange(0, max(old, h.size)), cmd: fmt.Sprintf("snapshot -a %s (size %d -> %d)", p.name, old, h.size)})
				continue
			}
		case r < snapPct+deletePct+7:
			if w.bitmaps && !w.v2 && bitmapN < 4 {
				flush()
				bitmapN++
				name := fmt.Sprintf("b%d", bitmapN)
				args := []string{"bitmap", "--add"}
				if g := []int64{0, 4 << 10, 64 << 10, 512, 1 << 20}[rng.IntN(5)]; g != 0 {
					args = append(args, "-g", fmt.Sprint(g))
				}
				qemutools.QemuImg(t, append(args, h.path, name)...)
				var gran int64
				for _, b := range qemutools.Info(t, h.path).FormatSpecific.Data.Bitmaps {
					if b.Name == name {
						gran = b.Granularity
					}
				}
				require.NotZero(t, gran, "bitmap %s", name)
				id, err := qemu.BitmapPoint(name).ChangeID()
				require.NoError(t, err)
				h.points = append(h.points, &gtPoint{kind: qemu.PointBitmap, name: name, ops: len(h.ops), size: h.size, minSize: h.size, gran: gran, id: id,
					sums: qemutools.SectorsOf(qemutools.ExportRaw(t, h.path, ""))})
				continue
			}
		case r < snapPct+deletePct+10:
			if w.resize && !w.v2 {
				flush()
				old := h.size
				if rng.IntN(5) < 3 || h.size-w.cs <= w.size/2 {
					h.size += (1 + rng.Int64N(2*w.cs/512)) * 512
					qemutools.QemuImg(t, "resize", "-q", "-f", "qcow2", h.path, fmt.Sprint(h.size))
				} else {
					h.size -= (1 + rng.Int64N(min(2*w.cs, h.size-w.size/2)/512)) * 512
					qemutools.QemuImg(t, "resize", "-q", "--shrink", "-f", "qcow2", h.path, fmt.Sprint(h.size))
				}
				h.ops = append(h.ops, gtOp{e: extent.FromRange(min(old, h.size), max(old, h.size)), cmd: fmt.Sprintf("resize %d -> %d", old, h.size)})
				for _, p := range h.points {
					if p.kind == qemu.PointBitmap {
						p.minSize = min(p.minSize, h.size)
					}
				}
				continue
			}
		}
		// A data operation.
		e := randomRange(h.size, 3*w.cs)
		switch k := rng.IntN(20); {
		case k < 3 && w.compressedWrites && !(w.v2 && len(w.chain) > 0):
			// Whole clusters, below the last partial one. A compressed write
			// cannot overwrite an allocated cluster: discard it first.
			full := h.size / w.cs * w.cs
			if full == 0 {
				continue
			}
			off := rng.Int64N(full/w.cs) * w.cs
			n := min(w.cs*(1+rng.Int64N(2)), full-off)
			ce := extent.Extent{Offset: off, Length: n}
			op(ce, fmt.Sprintf("write -c %d %d", off, n), fmt.Sprintf("write -zu %d %d", off, n), fmt.Sprintf("write -c -P %d %d %d", pattern(), off, n))
		case k < 13:
			c := fmt.Sprintf("write -P %d %d %d", step%250+1, e.Offset, e.Length)
			op(e, c, c)
		case k < 16:
			c := fmt.Sprintf("write -z %d %d", e.Offset, e.Length)
			op(e, c, c)
		case k < 18:
			c := fmt.Sprintf("write -zu %d %d", e.Offset, e.Length)
			op(e, c, c)
		default:
			c := fmt.Sprintf("discard %d %d", e.Offset, e.Length)
			op(e, c, c)
		}
	}
	flush()

	// Export every live snapshot and the active state as they are now.
	// obs: `qemu-img convert -l` exports a snapshot at the image's current
	// size, reading past the snapshot's own size what its tables map there:
	// zeros, but after a revert to a smaller snapshot (which keeps the rest of
	// the last cluster) stale bytes of the cluster the size cuts. The guest
	// saw neither: cut them off.
	// A snapshot larger than the image now would be cut: export from a copy
	// grown to the largest snapshot size (the snapshot tables stay as they
	// are).
	qids := map[string]string{}
	for _, s := range qemutools.Info(t, h.path).Snapshots {
		qids[s.Name] = s.ID
	}
	exportFrom, exportSize := h.path, h.size
	nbd := len(h.layers) > 0 && qemutools.Have(t, "qemu-nbd") && qemutools.Have(t, "nbdinfo")
	for _, p := range live() {
		exportSize = max(exportSize, p.size)
	}
	if exportSize > h.size {
		exportFrom = filepath.Join(dir, "grown.qcow2")
		b, err := os.ReadFile(h.path)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(exportFrom, b, 0o644))
		qemutools.QemuImg(t, "resize", "-q", "-f", "qcow2", exportFrom, fmt.Sprint(exportSize))
	}
	for _, p := range live() {
		p.qid = qids[p.name]
		require.NotEmpty(t, p.qid, "snapshot %s in qemu-img info", p.name)
		raw := qemutools.ExportRaw(t, exportFrom, p.name)
		require.Equal(t, exportSize, int64(len(raw)), "export of %s", p)
		s := qemutools.SectorsOf(raw)
		if p.size < exportSize {
			if tail := extent.ClipSlice(s.NonZero(), p.size, exportSize); len(tail) > 0 {
				t.Logf("export of %s past its disk size %d is not zero: %v", p, p.size, tail)
			}
		}
		p.sums = s.Truncate(p.size)
		require.Equal(t, p.size, p.sums.Size)
		if nbd {
			p.alloc = extent.ClipSlice(qemutools.LocalAllocation(t, exportFrom, "-l", "snapshot.name="+p.name), 0, p.size)
		}
	}
	if exportFrom != h.path {
		require.NoError(t, os.Remove(exportFrom))
	}
	h.points = append(h.points, &gtPoint{kind: qemu.PointActive, ops: len(h.ops), size: h.size, sums: qemutools.SectorsOf(qemutools.ExportRaw(t, h.path, ""))})
	require.Equal(t, h.size, h.active().sums.Size)

	var nSnap, nDel, nBitmap int
	for _, p := range h.points {
		switch {
		case p.kind == qemu.PointSnapshot && p.deleted:
			nDel++
		case p.kind == qemu.PointSnapshot:
			nSnap++
		case p.kind == qemu.PointBitmap:
			nBitmap++
		}
	}
	t.Logf("%s seed %d: %d operations, %d live snapshots, %d deleted, %d bitmaps, %d backing layers, size %d -> %d",
		w.name, seed, len(h.ops), nSnap, nDel, nBitmap, len(h.layers), w.size, h.size)
	return h
}
