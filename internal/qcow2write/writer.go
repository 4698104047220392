package qcow2write

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/changedblocks/sdk/internal/qcow2"
)

// Errors. Every error of this package wraps one of them or is the error of
// the io.WriterAt, wrapped next to what was being written.
var (
	// ErrInvalid means a call broke this package's rules: an option out of
	// range, a cluster not aligned or outside the disk, a cluster written
	// twice.
	ErrInvalid = errors.New("qcow2write: invalid argument")
	// ErrClosed means the Writer was closed (or its Close failed).
	ErrClosed = errors.New("qcow2write: writer closed")
)

// Compression is the algorithm of compressed clusters.
type Compression int

// Compressions.
const (
	NoCompression Compression = iota
	Zlib                      // raw deflate with a 4 KiB window, as qemu reads it
	Zstd                      // one zstd frame per cluster
)

func (c Compression) String() string {
	switch c {
	case NoCompression:
		return "none"
	case Zlib:
		return "zlib"
	case Zstd:
		return "zstd"
	}
	return fmt.Sprintf("Compression(%d)", int(c))
}

// Options are the image's parameters. The zero value (or nil) is a
// standalone image with 64 KiB clusters and no compression.
type Options struct {
	// ClusterSize is a power of two from 512 bytes to 2 MiB; 0 means 64 KiB.
	ClusterSize int64
	// BackingFile is the backing file name recorded in the header, as given
	// ("" for none). It is not opened or checked.
	BackingFile string
	// BackingFormat is recorded in the backing format extension ("" to
	// leave it out; qemu then probes the backing file).
	BackingFormat string
	// Compression compresses each data cluster that gets smaller by it.
	Compression Compression
}

// DefaultClusterSize is the cluster size of Options' zero value, qemu's
// default too.
const DefaultClusterSize = 64 << 10

// pendingEntry marks an L2 entry whose cluster is being written. Bit 1 is
// reserved in every L2 entry, so no entry the writer makes has it.
const pendingEntry uint64 = 1 << 1

// Writer writes one qcow2 image. Its methods are safe for concurrent use.
type Writer struct {
	f         io.WriterAt
	size      int64
	cbits     uint32
	cs        int64
	l2Entries int64
	l1Entries int64
	opts      Options
	comp      compressor // nil without compression

	r        io.ReaderAt // f, when it reads: L2 tables are then evicted and read back
	mu       sync.Mutex
	l2       map[int64]*l2Table // L2 tables by L1 index, made when first needed
	resident int64              // tables with their entries in memory
	clock    uint64             // counts table uses, for eviction
	next     int64              // the next host cluster to allocate
	failed   map[int64]bool     // data clusters allocated whose write failed: refcount 0
	shared   map[int64]uint32   // host clusters holding compressed clusters: how many
	pack     int64              // the host cluster compressed clusters are packed into, -1 for none
	packUsed int64              // bytes of it used
	closed   bool
}

// New starts an image of size bytes (a multiple of 512) on f, which should
// be empty: the writer writes from offset 0 and never reads. Errors wrap
// ErrInvalid for an option or size out of range.
func New(f io.WriterAt, size int64, opts *Options) (*Writer, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.ClusterSize == 0 {
		o.ClusterSize = DefaultClusterSize
	}
	cbits, err := clusterBits(o.ClusterSize)
	if err != nil {
		return nil, err
	}
	if size <= 0 || size%512 != 0 {
		return nil, fmt.Errorf("%w: disk size %d: want a positive multiple of 512", ErrInvalid, size)
	}
	w := &Writer{
		f: f, size: size, cbits: cbits, cs: o.ClusterSize, opts: o,
		l2Entries: o.ClusterSize / 8,
		r:         readerOf(f),
		l2:        map[int64]*l2Table{}, failed: map[int64]bool{}, shared: map[int64]uint32{},
		pack: -1,
	}
	span := w.l2Entries * w.cs
	w.l1Entries = (size + span - 1) / span
	if w.l1Entries*8 > qcow2.MaxL1Bytes {
		return nil, fmt.Errorf("%w: disk size %d needs an L1 table of %d bytes with %d-byte clusters, more than qemu's %d", ErrInvalid, size, w.l1Entries*8, w.cs, qcow2.MaxL1Bytes)
	}
	if _, err := w.header(0, 0, 0); err != nil {
		return nil, err
	}
	if w.comp, err = newCompressor(o.Compression, w.cs); err != nil {
		return nil, err
	}
	w.next = 1 + w.clustersFor(w.l1Entries*8) // the header, then the L1 table
	return w, nil
}

// clusterBits checks a cluster size and returns its log2.
func clusterBits(cs int64) (uint32, error) {
	for b := uint32(qcow2.MinClusterBits); b <= qcow2.MaxClusterBits; b++ {
		if cs == 1<<b {
			return b, nil
		}
	}
	return 0, fmt.Errorf("%w: cluster size %d: want a power of two from 512 to 2 MiB", ErrInvalid, cs)
}

// ClusterSize returns the image's cluster size: every call writes whole
// clusters of it.
func (w *Writer) ClusterSize() int64 { return w.cs }

// Size returns the disk size the image records.
func (w *Writer) Size() int64 { return w.size }

// clustersFor returns how many clusters n bytes take.
func (w *Writer) clustersFor(n int64) int64 { return (n + w.cs - 1) / w.cs }

// checkRange checks that [off, off+n) starts at a cluster boundary, lies
// inside the disk, and ends at a cluster boundary or at the disk's end.
func (w *Writer) checkRange(op string, off, n int64) error {
	switch {
	case off < 0 || n <= 0 || off >= w.size || n > w.size-off:
		return fmt.Errorf("%w: %s [%d, +%d) is not inside the disk of %d bytes", ErrInvalid, op, off, n, w.size)
	case off%w.cs != 0:
		return fmt.Errorf("%w: %s at %d: not aligned to the cluster size %d", ErrInvalid, op, off, w.cs)
	case (off+n)%w.cs != 0 && off+n != w.size:
		return fmt.Errorf("%w: %s [%d, +%d) ends inside a cluster (size %d) that is not the disk's last", ErrInvalid, op, off, n, w.cs)
	}
	return nil
}

// reserve marks the L2 entry of guest cluster off as being written. It
// fails when the cluster was written or is being written.
func (w *Writer) reserve(off int64) error {
	if w.closed {
		return ErrClosed
	}
	idx := off / w.cs
	t, err := w.table(idx / w.l2Entries)
	if err != nil {
		return err
	}
	if t.entries[idx%w.l2Entries] != 0 {
		return fmt.Errorf("%w: the cluster at %d is written twice", ErrInvalid, off)
	}
	t.entries[idx%w.l2Entries] = pendingEntry
	t.pending++
	return nil
}

// settle ends what reserve started: the entry becomes e (0 when the write
// failed, leaving the cluster unwritten). The table is resident: a table
// with pending entries is never evicted.
func (w *Writer) settle(off int64, e uint64) {
	idx := off / w.cs
	t := w.l2[idx/w.l2Entries]
	t.entries[idx%w.l2Entries] = e
	t.pending--
}

// WriteCluster writes the guest cluster at off (a multiple of the cluster
// size) with data: a whole cluster, or for the disk's last cluster when the
// disk size is not a multiple of the cluster size, the bytes up to the disk's
// end. With compression, the cluster is stored compressed when that is
// smaller. Each cluster is written at most once, by WriteCluster or
// WriteZeros. Errors wrap ErrInvalid or ErrClosed, or are the io.WriterAt's;
// after a write error the cluster stays unwritten and may be written again.
func (w *Writer) WriteCluster(off int64, data []byte) error {
	if err := w.checkRange("write", off, int64(len(data))); err != nil {
		return err
	}
	if int64(len(data)) > w.cs {
		return fmt.Errorf("%w: write at %d of %d bytes: one call writes one cluster (%d bytes)", ErrInvalid, off, len(data), w.cs)
	}
	if int64(len(data)) < w.cs {
		full := make([]byte, w.cs)
		copy(full, data)
		data = full
	}
	w.mu.Lock()
	err := w.reserve(off)
	w.mu.Unlock()
	if err != nil {
		return err
	}
	var e uint64
	if w.comp != nil {
		e, err = w.writeCompressed(off, data)
	} else {
		e, err = w.writeData(off, data)
	}
	w.mu.Lock()
	w.settle(off, e)
	w.mu.Unlock()
	return err
}

// writeData stores a cluster as it is in a new host cluster and returns its
// L2 entry, 0 after a failed write.
func (w *Writer) writeData(off int64, data []byte) (uint64, error) {
	w.mu.Lock()
	host := w.next
	w.next++
	w.mu.Unlock()
	if _, err := w.f.WriteAt(data, host*w.cs); err != nil {
		w.mu.Lock()
		w.failed[host] = true
		w.mu.Unlock()
		return 0, fmt.Errorf("qcow2write: write the cluster at guest offset %d to host offset %d: %w", off, host*w.cs, err)
	}
	return uint64(host*w.cs) | qcow2.FlagCopied, nil
}

// writeCompressed stores a cluster compressed when that is smaller, packed
// after the compressed clusters before it, and returns its L2 entry.
func (w *Writer) writeCompressed(off int64, data []byte) (uint64, error) {
	buf := w.comp.get()
	defer w.comp.put(buf)
	c, ok := w.comp.compress(buf, data)
	if !ok {
		return w.writeData(off, data)
	}
	n := int64(len(c))
	w.mu.Lock()
	if w.pack < 0 || w.packUsed+n > w.cs {
		w.pack = w.next
		w.packUsed = 0
		w.next++
	}
	host, pos := w.pack, w.pack*w.cs+w.packUsed
	w.packUsed += n
	w.shared[host]++
	w.mu.Unlock()
	if _, err := w.f.WriteAt(c, pos); err != nil {
		w.mu.Lock()
		w.shared[host]--
		w.mu.Unlock()
		return 0, fmt.Errorf("qcow2write: write the compressed cluster at guest offset %d to host offset %d: %w", off, pos, err)
	}
	x := 62 - (w.cbits - 8)
	sectors := uint64((pos%512+n+511)/512 - 1)
	return qcow2.FlagCompressed | sectors<<x | uint64(pos), nil
}

// WriteZeros marks the guest clusters of [off, off+n) as reading zeros: an
// L2 entry with the zero flag and no host cluster, which hides the backing
// file's data there. off is a multiple of the cluster size and off+n one too
// or the disk's end. Errors wrap ErrInvalid (a cluster already written) or
// ErrClosed; on an error no cluster of the range is changed.
func (w *Writer) WriteZeros(off, n int64) error {
	if err := w.checkRange("zero", off, n); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for c := off; c < off+n; c += w.cs {
		if err := w.reserve(c); err != nil {
			for u := off; u < c; u += w.cs {
				w.settle(u, 0)
			}
			return err
		}
	}
	for c := off; c < off+n; c += w.cs {
		w.settle(c, qcow2.FlagZero)
	}
	return nil
}
