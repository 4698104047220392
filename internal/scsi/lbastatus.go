package scsi

import (
	"encoding/binary"
	"fmt"
)

// Provisioning status values of an LBA status descriptor (SBC-4).
const (
	ProvMappedOrUnknown = 0 // mapped, or unknown on older devices
	ProvDeallocated     = 1
	ProvAnchored        = 2
	ProvMapped          = 3
	ProvUnknown         = 4
)

// Completion conditions of GET LBA STATUS parameter data (SBC-4).
const (
	CondNone      = 0 // no indication (older devices)
	CondAllocLen  = 1 // the answer met the allocation length
	CondScanLen   = 2 // the answer met the scan length
	CondCapacity  = 3 // the answer met the capacity of the medium
	lbaHeaderLen  = 8
	lbaDescLen    = 16
	minLBAStatLen = lbaHeaderLen + lbaDescLen
)

// Deallocated reports whether provisioning status prov says the blocks are
// deallocated: the one status that proves a block maps no storage of its
// own. Mapped, mapped-or-unknown (what older devices report for mapped),
// anchored, unknown and reserved values do not. Scan yields every block
// for which it is false.
func Deallocated(prov byte) bool { return prov == ProvDeallocated }

// LBADescriptor is one LBA status descriptor.
type LBADescriptor struct {
	// LBA is the first logical block of the run.
	LBA uint64
	// Blocks is the number of logical blocks in the run.
	Blocks uint32
	// Provisioning is the PROVISIONING STATUS (ProvMapped, ...), 4 bits.
	Provisioning byte
	// Accessibility is the LBA ACCESSIBILITY field (byte 12 bits 7:4).
	Accessibility byte
	// Additional is the ADDITIONAL STATUS (1: may contain unrecovered errors).
	Additional byte
}

// End returns the LBA after the run, saturated at the largest uint64.
func (d LBADescriptor) End() uint64 {
	if d.LBA > ^uint64(0)-uint64(d.Blocks) {
		return ^uint64(0)
	}
	return d.LBA + uint64(d.Blocks)
}

// LBAStatus is decoded GET LBA STATUS parameter data.
type LBAStatus struct {
	// Length is the PARAMETER DATA LENGTH the device wrote (total bytes - 4).
	Length uint32
	// Condition is the COMPLETION CONDITION (CondNone ... CondCapacity).
	Condition byte
	// RTP is set when the device honoured the REPORT TYPE.
	RTP bool
	// Descriptors are the complete descriptors received.
	Descriptors []LBADescriptor
	// Truncated is set when Length announces more bytes than were received.
	Truncated bool
}

// DecodeLBAStatus decodes GET LBA STATUS parameter data: b holds the bytes
// transferred. Descriptors cut short by the allocation length are dropped
// (Truncated says so). The errors are ErrMalformed: a missing header, or a
// PARAMETER DATA LENGTH too small to hold one.
func DecodeLBAStatus(b []byte) (LBAStatus, error) {
	if len(b) < lbaHeaderLen {
		return LBAStatus{}, fmt.Errorf("%w: GET LBA STATUS returned %d bytes, less than its 8-byte header", ErrMalformed, len(b))
	}
	var s LBAStatus
	s.Length = binary.BigEndian.Uint32(b[0:4])
	s.Condition = (b[7] >> 1) & 0x7
	s.RTP = b[7]&1 != 0
	total := uint64(s.Length) + 4
	if total < lbaHeaderLen {
		return LBAStatus{}, fmt.Errorf("%w: GET LBA STATUS parameter data length %d is below the 4-byte minimum", ErrMalformed, s.Length)
	}
	avail := uint64(len(b))
	if total > avail {
		s.Truncated = true
	} else {
		avail = total
	}
	n := (avail - lbaHeaderLen) / lbaDescLen
	s.Descriptors = make([]LBADescriptor, n)
	for i := range s.Descriptors {
		d := b[lbaHeaderLen+i*lbaDescLen:]
		s.Descriptors[i] = LBADescriptor{
			LBA:           binary.BigEndian.Uint64(d[0:8]),
			Blocks:        binary.BigEndian.Uint32(d[8:12]),
			Provisioning:  d[12] & 0x0f,
			Accessibility: d[12] >> 4,
			Additional:    d[13],
		}
	}
	return s, nil
}

// AppendLBAStatus appends s encoded as GET LBA STATUS parameter data to b.
// The PARAMETER DATA LENGTH written is s.Length when non-zero, else the
// length of the descriptors given (the devices's full answer is longer than
// what it may send; a model sets Length to say so).
func AppendLBAStatus(b []byte, s LBAStatus) []byte {
	length := s.Length
	if length == 0 {
		length = uint32(lbaHeaderLen - 4 + lbaDescLen*len(s.Descriptors))
	}
	b = binary.BigEndian.AppendUint32(b, length)
	flags := (s.Condition & 0x7) << 1
	if s.RTP {
		flags |= 1
	}
	b = append(b, 0, 0, 0, flags)
	for _, d := range s.Descriptors {
		b = binary.BigEndian.AppendUint64(b, d.LBA)
		b = binary.BigEndian.AppendUint32(b, d.Blocks)
		b = append(b, d.Accessibility<<4|d.Provisioning&0x0f, d.Additional, 0, 0)
	}
	return b
}
