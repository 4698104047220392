package qcow2write

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zstd"
)

// zlibWindow is the deflate window qemu inflates compressed clusters with
// (window bits -12): a back-reference farther than 4 KiB would not read back.
const zlibWindow = 4096

// compressor compresses one cluster at a time, from many goroutines.
type compressor interface {
	// compress returns the compressed form of a cluster, appended to
	// buf[:0], and whether it is smaller than the cluster (when not, the
	// cluster is stored as it is).
	compress(buf, cluster []byte) ([]byte, bool)
	get() []byte
	put([]byte)
}

// newCompressor returns the compressor of c, nil for NoCompression.
func newCompressor(c Compression, cs int64) (compressor, error) {
	switch c {
	case NoCompression:
		return nil, nil
	case Zlib:
		return &zlibCompressor{bufPool: bufPool{size: int(cs)}}, nil
	case Zstd:
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true))
		if err != nil {
			return nil, fmt.Errorf("qcow2write: zstd: %w", err)
		}
		return &zstdCompressor{bufPool: bufPool{size: int(cs)}, enc: enc}, nil
	}
	return nil, fmt.Errorf("%w: compression %v", ErrInvalid, c)
}

// bufPool hands out buffers of a cluster's size.
type bufPool struct {
	size int
	p    sync.Pool
}

func (p *bufPool) get() []byte {
	if b, ok := p.p.Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, p.size)
}

func (p *bufPool) put(b []byte) { p.p.Put(&b) }

// worthIt reports whether n compressed bytes are fewer than a cluster's cs,
// qemu's rule too: compressed clusters are packed, so any saving counts.
func worthIt(n, cs int) bool { return n > 0 && n < cs }

type zlibCompressor struct {
	bufPool
	writers sync.Pool
}

func (z *zlibCompressor) compress(buf, cluster []byte) ([]byte, bool) {
	out := bytes.NewBuffer(buf[:0])
	fw, _ := z.writers.Get().(*flate.Writer)
	if fw == nil {
		var err error
		if fw, err = flate.NewWriterWindow(out, zlibWindow); err != nil {
			return nil, false
		}
	} else {
		fw.Reset(out)
	}
	defer z.writers.Put(fw)
	if _, err := fw.Write(cluster); err != nil {
		return nil, false
	}
	if err := fw.Close(); err != nil {
		return nil, false
	}
	return out.Bytes(), worthIt(out.Len(), len(cluster))
}

type zstdCompressor struct {
	bufPool
	enc *zstd.Encoder
}

func (z *zstdCompressor) compress(buf, cluster []byte) ([]byte, bool) {
	out := z.enc.EncodeAll(cluster, buf[:0])
	return out, worthIt(len(out), len(cluster))
}
