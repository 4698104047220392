package qcow2

import (
	"encoding/binary"
	"strconv"
)

// synth builds small qcow2 images in memory for cases the qemu tools cannot
// produce (VM state L1 entries, tables that differ only in COPIED, tables
// beyond the end of the file). Cluster 0 holds the header, cluster 1 an empty
// refcount table; everything else is appended a cluster at a time.
type synth struct {
	cb   uint32
	ext  bool
	size uint64
	buf  []byte
	snap []synthSnap
}

type synthSnap struct {
	name     string
	l1       uint64
	l1Size   uint32
	diskSize uint64
}

func newSynth(cb uint32, ext bool, size uint64) *synth {
	s := &synth{cb: cb, ext: ext, size: size}
	s.buf = make([]byte, 2<<cb)
	return s
}

func (s *synth) cs() uint64 { return 1 << s.cb }

// alloc appends n zeroed clusters and returns the offset of the first.
func (s *synth) alloc(n int) uint64 {
	off := uint64(len(s.buf))
	s.buf = append(s.buf, make([]byte, uint64(n)*s.cs())...)
	return off
}

// table writes 64-bit words into fresh clusters and returns their offset.
func (s *synth) table(words []uint64) uint64 {
	n := (uint64(len(words))*8 + s.cs() - 1) / s.cs()
	off := s.alloc(int(max(n, 1)))
	for i, w := range words {
		binary.BigEndian.PutUint64(s.buf[off+uint64(i)*8:], w)
	}
	return off
}

// l2 writes an L2 table from sparse entries (index → words; two words each
// with extended L2) and returns its offset.
func (s *synth) l2(entries map[int][2]uint64) uint64 {
	per := 1
	if s.ext {
		per = 2
	}
	words := make([]uint64, int(s.cs()/8))
	for j, w := range entries {
		words[j*per] = w[0]
		if s.ext {
			words[j*per+1] = w[1]
		}
	}
	return s.table(words)
}

func (s *synth) addSnapshot(name string, l1 uint64, l1Size uint32, diskSize uint64) {
	s.snap = append(s.snap, synthSnap{name, l1, l1Size, diskSize})
}

// bytes returns the image with the header (active L1 at l1/l1Size) and the
// snapshot table written.
func (s *synth) bytes(l1 uint64, l1Size uint32) []byte {
	be := binary.BigEndian
	var snapOff uint64
	if len(s.snap) > 0 {
		var tbl []byte
		for i, sn := range s.snap {
			id := []byte(strconv.Itoa(i + 1))
			e := make([]byte, 40+24)
			be.PutUint64(e[0:], sn.l1)
			be.PutUint32(e[8:], sn.l1Size)
			be.PutUint16(e[12:], uint16(len(id)))
			be.PutUint16(e[14:], uint16(len(sn.name)))
			be.PutUint32(e[16:], 1700000000+uint32(i))
			be.PutUint32(e[36:], 24)
			be.PutUint64(e[48:], sn.diskSize)
			e = append(append(e, id...), sn.name...)
			for len(e)%8 != 0 {
				e = append(e, 0)
			}
			tbl = append(tbl, e...)
		}
		n := (uint64(len(tbl)) + s.cs() - 1) / s.cs()
		snapOff = s.alloc(int(n))
		copy(s.buf[snapOff:], tbl)
	}
	b := s.buf
	copy(b, Magic)
	be.PutUint32(b[4:], 3)
	be.PutUint32(b[20:], s.cb)
	be.PutUint64(b[24:], s.size)
	be.PutUint32(b[36:], l1Size)
	be.PutUint64(b[40:], l1)
	be.PutUint64(b[48:], s.cs())
	be.PutUint32(b[56:], 1)
	be.PutUint32(b[60:], uint32(len(s.snap)))
	be.PutUint64(b[64:], snapOff)
	if s.ext {
		be.PutUint64(b[72:], IncompatExtendedL2)
	}
	be.PutUint32(b[96:], 4)
	be.PutUint32(b[100:], 104)
	return b
}
