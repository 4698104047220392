package scsi

import "encoding/binary"

// Operation codes and service actions.
const (
	// OpServiceActionIn16 is SERVICE ACTION IN(16); READ CAPACITY(16) and
	// GET LBA STATUS(16) are its service actions.
	OpServiceActionIn16 = 0x9e
	// OpVariableLength is the variable-length CDB opcode of GET LBA STATUS(32).
	OpVariableLength = 0x7f
	// OpRead16 is READ(16).
	OpRead16 = 0x88

	// SAReadCapacity16 is the service action of READ CAPACITY(16).
	SAReadCapacity16 = 0x10
	// SAGetLBAStatus is the service action of GET LBA STATUS(16) and (32).
	SAGetLBAStatus = 0x12
)

// Report types of GET LBA STATUS (SBC-4).
const (
	ReportAll         = 0  // every LBA
	ReportNonZero     = 1  // LBAs with a non-zero provisioning status
	ReportMapped      = 2  // mapped LBAs
	ReportDeallocated = 3  // deallocated LBAs
	ReportAnchored    = 4  // anchored LBAs
	ReportUnrecovered = 16 // LBAs that may return unrecovered errors
)

// ReadCapacityDataLen is the length of the READ CAPACITY(16) parameter data.
const ReadCapacityDataLen = 32

// ReadCapacity16CDB returns the 16-byte READ CAPACITY(16) CDB.
func ReadCapacity16CDB(allocLen uint32) []byte {
	cdb := make([]byte, 16)
	cdb[0] = OpServiceActionIn16
	cdb[1] = SAReadCapacity16
	binary.BigEndian.PutUint32(cdb[10:14], allocLen)
	return cdb
}

// LBAStatusRequest holds the fields of a GET LBA STATUS command.
type LBAStatusRequest struct {
	// StartLBA is the STARTING LOGICAL BLOCK ADDRESS.
	StartLBA uint64
	// AllocLen is the ALLOCATION LENGTH in bytes.
	AllocLen uint32
	// ReportType is the REPORT TYPE (ReportAll, ...).
	ReportType byte
	// ScanLen is the SCAN LENGTH in logical blocks, 0 for no limit (32-byte form only).
	ScanLen uint32
	// ElementID is the ELEMENT IDENTIFIER, 0 for all (32-byte form only).
	ElementID uint32
}

// GetLBAStatus32CDB returns the 32-byte GET LBA STATUS(32) CDB: opcode 0x7f,
// additional CDB length 0x18, service action 0x0012.
func GetLBAStatus32CDB(r LBAStatusRequest) []byte {
	cdb := make([]byte, 32)
	cdb[0] = OpVariableLength
	cdb[7] = 32 - 8
	binary.BigEndian.PutUint16(cdb[8:10], SAGetLBAStatus)
	cdb[10] = r.ReportType
	binary.BigEndian.PutUint64(cdb[12:20], r.StartLBA)
	binary.BigEndian.PutUint32(cdb[20:24], r.ScanLen)
	binary.BigEndian.PutUint32(cdb[24:28], r.ElementID)
	binary.BigEndian.PutUint32(cdb[28:32], r.AllocLen)
	return cdb
}

// GetLBAStatus16CDB returns the 16-byte GET LBA STATUS(16) CDB (SERVICE
// ACTION IN(16), service action 0x12). It has no scan length nor element
// identifier; those fields of r are ignored.
func GetLBAStatus16CDB(r LBAStatusRequest) []byte {
	cdb := make([]byte, 16)
	cdb[0] = OpServiceActionIn16
	cdb[1] = SAGetLBAStatus
	binary.BigEndian.PutUint64(cdb[2:10], r.StartLBA)
	binary.BigEndian.PutUint32(cdb[10:14], r.AllocLen)
	cdb[14] = r.ReportType
	return cdb
}

// Read16CDB returns the READ(16) CDB for blocks logical blocks from lba.
func Read16CDB(lba uint64, blocks uint32) []byte {
	cdb := make([]byte, 16)
	cdb[0] = OpRead16
	binary.BigEndian.PutUint64(cdb[2:10], lba)
	binary.BigEndian.PutUint32(cdb[10:14], blocks)
	return cdb
}
