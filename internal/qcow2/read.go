package qcow2

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/changedblocks/sdk/extent"
)

// ReadView fills p with the guest bytes [off, off+len(p)) of view v as the
// image itself holds them: data clusters and subclusters read from data,
// compressed clusters decompressed (zlib or zstd), zero clusters and
// subclusters as zeros. The ranges the image leaves unallocated are zeros
// in p and returned, ascending and merged: they read from the backing file,
// or as zeros without one, which is the caller's to decide. Bytes past the
// view's disk size (a snapshot smaller than the image) read as zeros and
// are not returned.
//
// data is where data clusters live: the image's own reader, or with an
// external data file (Header.ExternalDataFile) that file. A data cluster
// that reaches past the end of data reads as zeros there, as qemu reads it.
//
// Errors: ErrUnsupported for an encrypted image; ErrCorrupt for a bad L1
// or L2 table or entry, or compressed data that does not decompress to a
// cluster; a plain error for a negative offset; I/O errors of data, wrapped.
func (img *Image) ReadView(v View, p []byte, off int64, data io.ReaderAt) ([]extent.Extent, error) {
	if img.Header.CryptMethod != CryptNone {
		return nil, fieldErr(ErrUnsupported, 32, "crypt_method", uint32(img.Header.CryptMethod), "the image is encrypted (%v): its data cannot be read without the key", img.Header.CryptMethod)
	}
	if off < 0 {
		return nil, fmt.Errorf("qcow2: read at negative guest offset %d", off)
	}
	var un []extent.Extent
	addUn := func(s, e int64) {
		if n := len(un); n > 0 && un[n-1].End() == s {
			un[n-1].Length += e - s
			return
		}
		un = append(un, extent.Extent{Offset: s, Length: e - s})
	}
	cs := img.Header.ClusterSize()
	end := off + int64(len(p))
	var dc decompressed
	var memo l2Memo
	for pos := off; pos < end; {
		if pos >= v.DiskSize {
			clear(p[pos-off:])
			break
		}
		cstart := pos - pos%cs
		cend := min(cstart+cs, end, v.DiskSize)
		c, err := img.lookup(v, pos, &memo)
		if err != nil {
			return nil, err
		}
		dst := p[pos-off : cend-off]
		switch {
		case c.Kind == ClusterCompressed:
			buf, err := dc.get(img, c, cstart)
			if err != nil {
				return nil, err
			}
			copy(dst, buf[pos-cstart:])
		case c.Extended:
			err = img.readSubclusters(c, dst, pos, cstart, data, addUn)
		default:
			err = img.readWhole(c.Kind, c.HostOffset, dst, pos, cstart, data, addUn)
		}
		if err != nil {
			return nil, err
		}
		pos = cend
	}
	return un, nil
}

// readWhole fills dst (guest bytes from pos, inside the cluster at cstart)
// for a cluster of one kind: data at host, zeros, or unallocated.
func (img *Image) readWhole(k ClusterKind, host uint64, dst []byte, pos, cstart int64, data io.ReaderAt, addUn func(s, e int64)) error {
	switch k {
	case ClusterData:
		return readData(data, dst, int64(host)+(pos-cstart), pos)
	case ClusterUnallocated:
		clear(dst)
		addUn(pos, pos+int64(len(dst)))
	default: // ClusterZero
		clear(dst)
	}
	return nil
}

// readSubclusters fills dst for a cluster with extended L2 entries, one
// run of subclusters of the same state at a time.
func (img *Image) readSubclusters(c Cluster, dst []byte, pos, cstart int64, data io.ReaderAt, addUn func(s, e int64)) error {
	sub := img.Header.SubclusterSize()
	end := pos + int64(len(dst))
	for pos < end {
		i := int((pos - cstart) / sub)
		k := c.Subcluster(i)
		j := i + 1
		for j < Subclusters && c.Subcluster(j) == k {
			j++
		}
		runEnd := min(cstart+int64(j)*sub, end)
		part := dst[:runEnd-pos]
		if err := img.readWhole(k, c.HostOffset, part, pos, cstart, data, addUn); err != nil {
			return err
		}
		dst = dst[len(part):]
		pos = runEnd
	}
	return nil
}

// readData reads guest bytes at host offset host of data; what lies past
// its end reads as zeros.
func readData(data io.ReaderAt, dst []byte, host, guest int64) error {
	n, err := data.ReadAt(dst, host)
	if n == len(dst) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		clear(dst[n:])
		return nil
	}
	return fmt.Errorf("qcow2: read the data of guest offset %d at host offset %d: %w", guest, host, err)
}

// decompressed holds the cluster a ReadView call decompressed last.
type decompressed struct {
	at  int64 // guest offset of the cluster, -1 for none
	buf []byte
	ok  bool
}

// get returns the decompressed cluster at guest offset cstart.
func (d *decompressed) get(img *Image, c Cluster, cstart int64) ([]byte, error) {
	if d.ok && d.at == cstart {
		return d.buf, nil
	}
	cs := img.Header.ClusterSize()
	if d.buf == nil {
		d.buf = make([]byte, cs)
	}
	if err := img.decompress(c, d.buf, cstart); err != nil {
		d.ok = false
		return nil, err
	}
	d.at, d.ok = cstart, true
	return d.buf, nil
}

// decompress fills dst (one cluster) from compressed cluster c.
func (img *Image) decompress(c Cluster, dst []byte, guest int64) error {
	in, err := readAt(img.r, img.size, c.HostOffset, min(c.CompressedSize, uint64(img.size)-min(c.HostOffset, uint64(img.size))), "compressed cluster")
	if err != nil {
		return err
	}
	var r io.Reader
	switch img.Header.CompressionType {
	case CompressionZlib:
		fr := flateReaders.Get().(io.ReadCloser)
		defer flateReaders.Put(fr)
		if err := fr.(flate.Resetter).Reset(bytes.NewReader(in), nil); err != nil {
			return atErr(ErrCorrupt, c.HostOffset, "compressed cluster", "guest offset %d: %v", guest, err)
		}
		r = fr
	case CompressionZstd:
		zr := zstdReaders.Get().(*zstd.Decoder)
		defer zstdReaders.Put(zr)
		if err := zr.Reset(bytes.NewReader(in)); err != nil {
			return atErr(ErrCorrupt, c.HostOffset, "compressed cluster", "guest offset %d: %v", guest, err)
		}
		r = zr
	default:
		return fieldErr(ErrUnsupported, 104, "compression_type", uint8(img.Header.CompressionType), "")
	}
	if _, err := io.ReadFull(r, dst); err != nil {
		return atErr(ErrCorrupt, c.HostOffset, "compressed cluster", "guest offset %d, %d bytes, does not decompress to %d bytes: %v", guest, len(in), len(dst), err)
	}
	return nil
}

var (
	flateReaders = sync.Pool{New: func() any { return flate.NewReader(bytes.NewReader(nil)) }}
	zstdReaders  = sync.Pool{New: func() any {
		// One goroutine, and no window beyond qemu's largest cluster: a
		// crafted frame cannot make the decoder allocate more.
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(4<<20), zstd.WithDecoderMaxMemory(8<<20), zstd.WithDecoderLowmem(true))
		if err != nil {
			panic(err) // only for invalid options
		}
		return d
	}}
)
