package qcow2write

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/changedblocks/sdk/internal/qcow2"
)

// Header layout of version 3 with the compression type byte.
const (
	headerLength       = 112 // 104 bytes, compression_type, 7 bytes of padding
	extBackingFormat   = 0xe2792aca
	refcountOrder      = 4 // 16-bit refcounts, qemu's default
	refcountEntryBytes = 2
)

// syncer is what an *os.File offers to make its writes durable.
type syncer interface{ Sync() error }

// Close writes the tables and then the header, making the file an image.
// When f has a Sync method (an *os.File), the data and tables are synced
// before the header is written and the header after, so that a file with
// the qcow2 magic is always whole. Close does not close f. Calls after
// Close return ErrClosed; a call still writing when Close runs fails with
// ErrClosed too. Errors: ErrClosed on a second call, or the io.WriterAt's.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	w.closed = true
	for _, t := range w.l2 {
		if t.pending > 0 {
			return fmt.Errorf("%w: Close while a cluster is still being written", ErrInvalid)
		}
	}

	l1Off := w.cs // the L1 table follows the header cluster
	l1 := make([]uint64, w.l1Entries)
	idx := make([]int64, 0, len(w.l2))
	for i := range w.l2 {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	for _, i := range idx {
		t := w.l2[i]
		if t.entries != nil {
			if err := w.writeTable(t); err != nil {
				return err
			}
		}
		l1[i] = uint64(t.host*w.cs) | qcow2.FlagCopied
	}
	l1b := make([]byte, len(l1)*8)
	for i, e := range l1 {
		binary.BigEndian.PutUint64(l1b[i*8:], e)
	}
	if _, err := w.f.WriteAt(l1b, l1Off); err != nil {
		return fmt.Errorf("qcow2write: write the L1 table at %d: %w", l1Off, err)
	}
	rtOff, rtClusters, err := w.writeRefcounts()
	if err != nil {
		return err
	}
	if err := w.sync("the data and tables"); err != nil {
		return err
	}
	hdr, err := w.header(l1Off, rtOff, rtClusters)
	if err != nil {
		return err
	}
	if _, err := w.f.WriteAt(hdr, 0); err != nil {
		return fmt.Errorf("qcow2write: write the header: %w", err)
	}
	return w.sync("the header")
}

// sync syncs f when it can.
func (w *Writer) sync(what string) error {
	if s, ok := w.f.(syncer); ok {
		if err := s.Sync(); err != nil {
			return fmt.Errorf("qcow2write: sync %s: %w", what, err)
		}
	}
	return nil
}

// refcount returns the refcount of host cluster c, one of the clusters
// before the refcount structures.
func (w *Writer) refcount(c int64) uint64 {
	if n, ok := w.shared[c]; ok {
		return uint64(n)
	}
	if w.failed[c] {
		return 0
	}
	return 1
}

// writeRefcounts places the refcount table and its blocks after every other
// cluster, writes them, and returns the table's offset and clusters. Every
// cluster before them has the refcount of refcount(); they have 1 each.
func (w *Writer) writeRefcounts() (int64, int64, error) {
	perBlock := w.cs / refcountEntryBytes
	used := w.next
	var blocks, table int64
	for {
		total := used + table + blocks
		nb := (total + perBlock - 1) / perBlock
		nt := w.clustersFor(nb * 8)
		if nb == blocks && nt == table {
			break
		}
		blocks, table = nb, nt
	}
	tableOff := used * w.cs
	first := used + table // the first refcount block
	total := first + blocks
	rt := make([]byte, table*w.cs)
	buf := make([]byte, w.cs)
	for b := range blocks {
		clear(buf)
		for i := range perBlock {
			c := b*perBlock + i
			var rc uint64
			switch {
			case c >= total:
			case c >= used:
				rc = 1
			default:
				rc = w.refcount(c)
			}
			binary.BigEndian.PutUint16(buf[i*refcountEntryBytes:], uint16(rc))
		}
		off := (first + b) * w.cs
		if _, err := w.f.WriteAt(buf, off); err != nil {
			return 0, 0, fmt.Errorf("qcow2write: write refcount block %d at %d: %w", b, off, err)
		}
		binary.BigEndian.PutUint64(rt[b*8:], uint64(off))
	}
	if _, err := w.f.WriteAt(rt, tableOff); err != nil {
		return 0, 0, fmt.Errorf("qcow2write: write the refcount table at %d: %w", tableOff, err)
	}
	w.next = total
	return tableOff, table, nil
}

// header encodes the header cluster's bytes: the version 3 header, the
// backing format extension, the end of extensions, the backing file name.
// It fails (ErrInvalid) when they do not fit in the first cluster, which is
// where qemu wants them.
func (w *Writer) header(l1Off, rtOff, rtClusters int64) ([]byte, error) {
	if len(w.opts.BackingFile) > qcow2.MaxBackingFileNameLen {
		return nil, fmt.Errorf("%w: backing file name of %d bytes: qemu takes at most %d", ErrInvalid, len(w.opts.BackingFile), qcow2.MaxBackingFileNameLen)
	}
	if w.opts.BackingFormat != "" && w.opts.BackingFile == "" {
		return nil, fmt.Errorf("%w: a backing format (%q) without a backing file", ErrInvalid, w.opts.BackingFormat)
	}
	h := make([]byte, headerLength, w.cs)
	be := binary.BigEndian
	copy(h, qcow2.Magic)
	be.PutUint32(h[4:], 3)
	be.PutUint32(h[20:], w.cbits)
	be.PutUint64(h[24:], uint64(w.size))
	be.PutUint32(h[36:], uint32(w.l1Entries))
	be.PutUint64(h[40:], uint64(l1Off))
	be.PutUint64(h[48:], uint64(rtOff))
	be.PutUint32(h[56:], uint32(rtClusters))
	if w.opts.Compression == Zstd {
		be.PutUint64(h[72:], qcow2.IncompatCompressionType)
		h[104] = byte(qcow2.CompressionZstd)
	}
	be.PutUint32(h[96:], refcountOrder)
	be.PutUint32(h[100:], headerLength)
	if f := w.opts.BackingFormat; f != "" {
		h = be.AppendUint32(h, extBackingFormat)
		h = be.AppendUint32(h, uint32(len(f)))
		h = append(h, f...)
		h = append(h, make([]byte, (8-len(f)%8)%8)...)
	}
	h = append(h, make([]byte, 8)...) // the end of the extensions
	if b := w.opts.BackingFile; b != "" {
		be.PutUint64(h[8:], uint64(len(h)))
		be.PutUint32(h[16:], uint32(len(b)))
		h = append(h, b...)
	}
	if int64(len(h)) > w.cs {
		return nil, fmt.Errorf("%w: the header, its extensions and the backing file name take %d bytes, more than one cluster (%d)", ErrInvalid, len(h), w.cs)
	}
	return h, nil
}
