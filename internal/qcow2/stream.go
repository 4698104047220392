package qcow2

import (
	"bytes"
	"encoding/binary"

	"github.com/changedblocks/sdk/extent"
)

// Sequential walks (Diff, Allocated, Clusters) stream L2 tables: each is read
// into a reused raw buffer of one cluster and compared or decoded in place,
// without going through the L2 cache (a walk reads every table once, so the
// cache would only churn). The buffers come from a per-Image pool and are taken
// only once an L2 offset has been checked against the file size, so that memory
// stays bounded by the input.

// rawBlock is the unit in which two raw L2 tables are compared with
// bytes.Equal before looking at their entries.
const rawBlock = 512

// zeroBlock stands for a block of an absent L2 table (all entries 0).
var zeroBlock [rawBlock]byte

// l2Stream reads L2 tables into one reused raw buffer.
type l2Stream struct {
	img *Image
	buf *[]byte
}

// read returns the raw L2 table at the host offset off (an L1 entry masked
// with L1OffsetMask), or nil when off is 0 (an absent table); what names the L1
// entry for errors. The table is valid until the next read or release.
func (s *l2Stream) read(off uint64, what func() string) ([]byte, error) {
	if off == 0 {
		return nil, nil
	}
	img := s.img
	cs := uint64(img.Header.ClusterSize())
	if err := img.checkL2At(off, what); err != nil {
		return nil, err
	}
	if s.buf == nil {
		if p, ok := img.rawBufs.Get().(*[]byte); ok && uint64(len(*p)) == cs {
			s.buf = p
		} else {
			b := make([]byte, cs) // only after the file proved to hold cs bytes there
			s.buf = &b
		}
	}
	buf := *s.buf
	if err := readFull(img.r, buf, int64(off), "L2 table"); err != nil {
		return nil, err
	}
	return buf, nil
}

// release returns the buffer to the pool.
func (s *l2Stream) release() {
	if s.buf != nil {
		s.img.rawBufs.Put(s.buf)
		s.buf = nil
	}
}

// rawWords returns the two words of L2 entry j of the raw table t (nil means
// an absent table: all entries 0). The second word is 0 without extended L2
// entries.
func (h *Header) rawWords(t []byte, j int64) (uint64, uint64) {
	if t == nil {
		return 0, 0
	}
	if h.ExtendedL2() {
		return binary.BigEndian.Uint64(t[16*j:]), binary.BigEndian.Uint64(t[16*j+8:])
	}
	return binary.BigEndian.Uint64(t[8*j:]), 0
}

// diffL2Raw is diffL2 on raw (big-endian) tables of one cluster each (nil:
// absent, all entries 0): blocks of rawBlock bytes that are equal are skipped
// with bytes.Equal, and only the entries of the other blocks are compared,
// COPIED masked. It emits exactly what diffL2 emits on the decoded tables.
func diffL2Raw(h *Header, ta, tb []byte, base, limit int64, emit func(extent.Extent) bool) bool {
	cs, n := h.ClusterSize(), h.L2Entries()
	per := int64(8) // bytes per entry
	if h.ExtendedL2() {
		per = 16
	}
	blk := min(int64(rawBlock), n*per) // a table is at least 512 bytes; be safe anyway
	epb := blk / per                   // entries per block
	sub := cs / Subclusters
	for j0 := int64(0); j0 < n; j0 += epb {
		if base+j0*cs >= limit {
			break
		}
		pa, pb := zeroBlock[:blk], zeroBlock[:blk]
		if ta != nil {
			pa = ta[j0*per : j0*per+blk]
		}
		if tb != nil {
			pb = tb[j0*per : j0*per+blk]
		}
		if bytes.Equal(pa, pb) {
			continue
		}
		for k := int64(0); k < epb; k++ {
			g := base + (j0+k)*cs
			if g >= limit {
				break
			}
			o := k * per
			a1, b1 := binary.BigEndian.Uint64(pa[o:]), binary.BigEndian.Uint64(pb[o:])
			var mask uint32
			switch {
			case (a1^b1)&^FlagCopied != 0:
				mask = 0xffffffff
			case per == 16:
				if x := binary.BigEndian.Uint64(pa[o+8:]) ^ binary.BigEndian.Uint64(pb[o+8:]); x != 0 {
					mask = uint32(x) | uint32(x>>32)
				}
			}
			if mask != 0 && !emitMask(g, mask, sub, limit, emit) {
				return false
			}
		}
	}
	return true
}
