package qcow2

import (
	"fmt"
	"iter"
	"math"
	"strconv"

	"github.com/changedblocks/sdk/extent"
)

// View is one point in time of the virtual disk: an L1 table and the disk size
// it describes. The active view comes from the header (Image.ActiveView), the
// others from snapshot table entries (Image.SnapshotView).
type View struct {
	Name          string // "" for the active view, else the snapshot name (for messages only)
	L1TableOffset uint64
	L1Size        uint32 // entries
	DiskSize      int64  // bytes of guest disk; L1 entries beyond it map VM state
}

func (v View) String() string {
	if v.Name == "" {
		return "active view"
	}
	return "snapshot " + quoteName(v.Name)
}

// quoteName quotes a name read from the file for a message, cut to 64 bytes.
func quoteName(name string) string {
	if len(name) > 64 {
		return strconv.Quote(name[:64]) + "..."
	}
	return strconv.Quote(name)
}

// ActiveView is the view of the header: the active L1 table and size.
func (img *Image) ActiveView() View {
	return View{L1TableOffset: img.Header.L1TableOffset, L1Size: img.Header.L1Size, DiskSize: int64(img.Header.Size)}
}

// SnapshotView is the view a snapshot entry describes; its L1 table is checked
// when it is read. Its disk size is the one the entry records in its extra
// data; an entry without one (version 2 images may lack it) gets the image's
// current size, as QEMU does. It returns an error wrapping ErrCorrupt when
// that size exceeds 2^63-1 or what the entry's L1 table maps (l1_size
// entries of Header.L1Span bytes; AllSnapshots refuses such entries too).
func (img *Image) SnapshotView(s *Snapshot) (View, error) {
	size := img.Header.Size
	if s.HasDiskSize {
		size = s.DiskSize
	}
	ds, ok := toInt64(size)
	if !ok {
		return View{}, formatErr(ErrCorrupt, fileOff(s.EntryOffset), "snapshot entry", size, "snapshot %s (id %s) at offset %#x: disk size %d exceeds 2^63-1", quoteName(s.Name), quoteName(s.ID), s.EntryOffset, size)
	}
	if h := &img.Header; h.ClusterBits >= MinClusterBits {
		if need := h.L1EntriesFor(ds); need > int64(s.L1Size) {
			return View{}, formatErr(ErrCorrupt, fileOff(s.EntryOffset), "snapshot entry", s.L1Size, "snapshot %s (id %s) at offset %#x: disk size %d needs %d L1 entries, but its L1 table has %d", quoteName(s.Name), quoteName(s.ID), s.EntryOffset, ds, need, s.L1Size)
		}
	}
	return View{Name: s.Name, L1TableOffset: s.L1TableOffset, L1Size: s.L1Size, DiskSize: ds}, nil
}

// ReadL1 reads the whole L1 table of a view, entries as stored (COPIED
// included): L1Size entries, up to 32 MiB (walks never do that; they read
// the entries they need, window by window). It returns an error wrapping
// ErrCorrupt when the table is misaligned or ends beyond the end of the
// file, or when two of its entries point to the same L2 table (QEMU never
// shares an L2 table between two guest ranges, and refusing it keeps every
// walk linear in the file size), and ErrUnsupported when it is larger than
// 32 MiB. The table may be longer than the disk size needs (VM state).
func (img *Image) ReadL1(v View) ([]uint64, error) {
	if err := img.checkL1Table(v); err != nil {
		return nil, err
	}
	if v.L1Size == 0 {
		return nil, nil
	}
	b, err := readAt(img.r, img.size, v.L1TableOffset, uint64(v.L1Size)*8, "L1 table")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", v, err)
	}
	return decodeTable(b), nil
}

// MappedCluster is a guest cluster and its L2 entry.
type MappedCluster struct {
	GuestOffset int64
	Cluster
}

// Clusters walks the L2 tables of a view in ascending guest order and yields
// every cluster that starts below the view's disk size and is not
// ClusterUnallocated (for extended L2 entries: that has at least one subcluster
// allocated or zero). L2 tables are streamed through one reused buffer (not
// the L2 cache), one at a time. An error (ErrCorrupt for a bad L1 or L2 entry,
// or an I/O error) is yielded once and ends the sequence.
func (img *Image) Clusters(v View) iter.Seq2[MappedCluster, error] {
	return img.clustersRange(v, 0, math.MaxInt64)
}

// ClustersRange is Clusters limited to the clusters that overlap
// [off, end): it reads only the L1 entries and L2 tables that map that range.
func (img *Image) ClustersRange(v View, off, end int64) iter.Seq2[MappedCluster, error] {
	return img.clustersRange(v, off, end)
}

// clustersRange is Clusters limited to the clusters that overlap [off, end).
func (img *Image) clustersRange(v View, off, end int64) iter.Seq2[MappedCluster, error] {
	return func(yield func(MappedCluster, error) bool) {
		off = max(off, 0)
		if off >= end {
			return
		}
		if err := img.checkL1Table(v); err != nil {
			yield(MappedCluster{}, err)
			return
		}
		h := &img.Header
		cs, span, n := h.ClusterSize(), h.L1Span(), h.L2Entries()
		limit := min(int64(v.L1Size), h.L1EntriesFor(min(v.DiskSize, end)))
		l1 := l1Reader{img: img, v: v}
		defer l1.release()
		st := l2Stream{img: img}
		defer st.release()
		for i := off / span; i < limit; i++ {
			e, err := l1.entry(i, limit)
			if err != nil {
				yield(MappedCluster{}, err)
				return
			}
			l2off := e & L1OffsetMask
			if l2off == 0 {
				continue
			}
			t, err := st.read(l2off, func() string { return fmt.Sprintf("%s L1 entry %d", v, i) })
			if err != nil {
				yield(MappedCluster{}, err)
				return
			}
			base := i * span
			for j := max(off-base, 0) / cs; j < n; j++ {
				g := base + j*cs
				if g >= v.DiskSize || g >= end {
					break
				}
				w1, w2 := h.rawWords(t, j)
				if w1 == 0 && w2 == 0 {
					continue
				}
				c, err := h.DecodeL2Entry(w1, w2)
				if err != nil {
					yield(MappedCluster{}, fmt.Errorf("%s, guest offset %#x (L1 entry %d, L2 entry %d): %w", v, g, i, j, err))
					return
				}
				if c.Kind == ClusterUnallocated {
					continue
				}
				if !yield(MappedCluster{GuestOffset: g, Cluster: c}, nil) {
					return
				}
			}
		}
	}
}

// Lookup returns the L2 entry of the guest cluster holding guest offset off in a
// view (ClusterUnallocated when its L1 or L2 entry is 0 or beyond the table).
// Errors: a plain error for an offset outside the view; ErrCorrupt or
// ErrUnsupported for a bad L1 table, L2 table or entry (as Clusters); I/O
// errors.
func (img *Image) Lookup(v View, off int64) (Cluster, error) {
	var m l2Memo
	return img.lookup(v, off, &m)
}

// l2Memo keeps the L2 table of the L1 entry a series of lookups used last
// (tables from the cache stay valid after eviction), so that reading the
// clusters of one L2 table costs one L1 entry read, not one per cluster.
type l2Memo struct {
	i   int64
	t   []uint64 // nil: the L1 entry is 0
	set bool
}

// lookup is Lookup through m.
func (img *Image) lookup(v View, off int64, m *l2Memo) (Cluster, error) {
	if off < 0 || off >= v.DiskSize {
		return Cluster{}, fmt.Errorf("qcow2: guest offset %d outside the %s (%d bytes)", off, v, v.DiskSize)
	}
	if err := img.checkL1(v); err != nil {
		return Cluster{}, err
	}
	h := &img.Header
	i := off / h.L1Span()
	if i >= int64(v.L1Size) {
		return Cluster{}, nil
	}
	if !m.set || m.i != i {
		b, err := readAt(img.r, img.size, v.L1TableOffset+uint64(i)*8, 8, "L1 entry")
		if err != nil {
			return Cluster{}, err
		}
		var t []uint64
		if l2off := decodeTable(b)[0] & L1OffsetMask; l2off != 0 {
			if t, err = img.readL2(l2off, func() string { return fmt.Sprintf("%s L1 entry %d", v, i) }); err != nil {
				return Cluster{}, err
			}
		}
		m.i, m.t, m.set = i, t, true
	}
	if m.t == nil {
		return Cluster{}, nil
	}
	j := off % h.L1Span() / h.ClusterSize()
	w1, w2 := h.l2Words(m.t, j)
	c, err := h.DecodeL2Entry(w1, w2)
	if err != nil {
		return Cluster{}, fmt.Errorf("%s, guest offset %#x (L1 entry %d, L2 entry %d): %w", v, off, i, j, err)
	}
	return c, nil
}

// Allocated yields the guest ranges of a view that the image itself describes:
// data, zero-flagged (with or without preallocation) and compressed clusters, at
// subcluster precision with extended L2 entries; unallocated ranges (which read
// from the backing file, or as zeros) are left out. This is what `qemu-img map`
// reports as "present" at depth 0. Extents are ascending, clipped to the view's
// disk size, and adjacent ranges are merged. Memory is a window of the L1
// table (at most 64 KiB) and one raw L2 table; an error is yielded once and
// ends the sequence.
func (img *Image) Allocated(v View) iter.Seq2[extent.Extent, error] {
	return img.AllocatedRange(v, 0, math.MaxInt64)
}

// AllocatedRange is Allocated limited to the guest range [off, end): it reads
// only the L1 entries and L2 tables that map that range (the L1 table is
// checked as a whole once per Image) and yields the extents of Allocated
// clipped to it.
func (img *Image) AllocatedRange(v View, off, end int64) iter.Seq2[extent.Extent, error] {
	return img.maskRange(v, off, end, Cluster.AllocatedMask)
}

// ZeroRange yields the guest ranges of [off, end) that view v itself says
// read as zeros: zero clusters (with or without preallocation) and, with
// extended L2 entries, zero subclusters; ascending, merged, clipped to the
// view's disk size. Unallocated ranges are not zero ranges here (they read
// from the backing file). It reads what AllocatedRange reads.
func (img *Image) ZeroRange(v View, off, end int64) iter.Seq2[extent.Extent, error] {
	return img.maskRange(v, off, end, Cluster.ZeroMaskOf)
}

// maskRange yields, merged and clipped to [off, end), the subclusters of
// the clusters of that range that mask selects.
func (img *Image) maskRange(v View, off, end int64, mask func(Cluster) uint32) iter.Seq2[extent.Extent, error] {
	return func(yield func(extent.Extent, error) bool) {
		var co extent.Coalescer
		sub := img.Header.ClusterSize() / Subclusters // a full mask covers the cluster
		emit := func(e extent.Extent) bool {
			e, ok := extent.ClipTo(e, off, end)
			if !ok {
				return true
			}
			if out, ok := co.Push(e); ok {
				return yield(out, nil)
			}
			return true
		}
		for mc, err := range img.clustersRange(v, off, end) {
			if err != nil {
				yield(extent.Extent{}, err)
				return
			}
			if !emitMask(mc.GuestOffset, mask(mc.Cluster), sub, v.DiskSize, emit) {
				return
			}
		}
		if out, ok := co.Flush(); ok {
			yield(out, nil)
		}
	}
}

// emitMask emits the runs of set bits of a 32-bit subcluster mask of the
// cluster at base as extents clipped to limit. A full mask is one extent of 32
// subclusters. It reports whether to go on.
func emitMask(base int64, mask uint32, sub, limit int64, emit func(extent.Extent) bool) bool {
	for i := 0; i < Subclusters && mask != 0; {
		if mask&(1<<i) == 0 {
			i++
			continue
		}
		j := i
		for j < Subclusters && mask&(1<<j) != 0 {
			j++
		}
		s := base + int64(i)*sub
		if s >= limit {
			return true
		}
		e := min(base+int64(j)*sub, limit)
		if !emit(extent.Extent{Offset: s, Length: e - s}) {
			return false
		}
		i = j
	}
	return true
}
