package scsimodel

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/changedblocks/sdk/internal/scsi"
)

// maxAnswerDescriptors bounds the descriptors of one answer built without
// regard to the allocation length (Truncate), so that a huge LUN cannot make
// the model allocate without bound.
const maxAnswerDescriptors = 1 << 16

// Exec answers one command (see scsi.Device). The conditions the LUN models
// are *scsi.SenseError values; an empty CDB or invalid Runs are
// scsi.ErrInvalid, a closed LUN scsi.ErrClosed, and a done ctx its error.
func (l *LUN) Exec(ctx context.Context, cdb []byte, dataIn []byte) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, fmt.Errorf("%w: scsimodel: the LUN is closed", scsi.ErrClosed)
	}
	if len(cdb) == 0 {
		return 0, fmt.Errorf("%w: scsimodel: empty CDB", scsi.ErrInvalid)
	}
	l.cmds = append(l.cmds, append([]byte(nil), cdb...))
	if l.UnitAttentions > 0 {
		l.UnitAttentions--
		return 0, l.check(scsi.KeyUnitAttention, scsi.ASCPowerOnReset, 0)
	}
	switch {
	case cdb[0] == 0x00 && len(cdb) == 6: // TEST UNIT READY
		return 0, nil
	case cdb[0] == scsi.OpServiceActionIn16 && len(cdb) == 16:
		switch cdb[1] & 0x1f {
		case scsi.SAReadCapacity16:
			return l.readCapacity(cdb, dataIn), nil
		case scsi.SAGetLBAStatus:
			if l.No16 {
				return 0, l.invalidOpcode()
			}
			req := scsi.LBAStatusRequest{
				StartLBA:   binary.BigEndian.Uint64(cdb[2:10]),
				AllocLen:   binary.BigEndian.Uint32(cdb[10:14]),
				ReportType: cdb[14],
			}
			return l.getLBAStatus(req, false, dataIn)
		}
		return 0, l.invalidField()
	case cdb[0] == scsi.OpVariableLength && len(cdb) == 32:
		if cdb[7] != 0x18 {
			return 0, l.invalidField()
		}
		if binary.BigEndian.Uint16(cdb[8:10]) != scsi.SAGetLBAStatus {
			return 0, l.invalidField()
		}
		if l.No32 {
			return 0, l.invalidOpcode()
		}
		req := scsi.LBAStatusRequest{
			ReportType: cdb[10],
			StartLBA:   binary.BigEndian.Uint64(cdb[12:20]),
			ScanLen:    binary.BigEndian.Uint32(cdb[20:24]),
			ElementID:  binary.BigEndian.Uint32(cdb[24:28]),
			AllocLen:   binary.BigEndian.Uint32(cdb[28:32]),
		}
		if req.ElementID != 0 {
			return 0, l.invalidField()
		}
		return l.getLBAStatus(req, true, dataIn)
	case cdb[0] == scsi.OpRead16 && len(cdb) == 16 && l.Data != nil:
		return l.read16(cdb, dataIn)
	}
	return 0, l.invalidOpcode()
}

// check returns a CHECK CONDITION with the sense given, its bytes encoded in
// the format the LUN uses and decoded again as an initiator would.
func (l *LUN) check(key, asc, ascq byte) error {
	s := scsi.Sense{Key: key, ASC: asc, ASCQ: ascq}
	var b []byte
	if l.DescriptorSense {
		b = s.AppendDescriptor(nil)
	} else {
		b = s.AppendFixed(nil)
	}
	d, err := scsi.DecodeSense(b)
	if err != nil {
		return err
	}
	return &scsi.SenseError{Status: scsi.StatusCheckCondition, Sense: d}
}

func (l *LUN) invalidOpcode() error {
	return l.check(scsi.KeyIllegalRequest, scsi.ASCInvalidOpcode, 0)
}

func (l *LUN) invalidField() error {
	return l.check(scsi.KeyIllegalRequest, scsi.ASCInvalidFieldCDB, 0)
}

func (l *LUN) lbaOutOfRange() error {
	return l.check(scsi.KeyIllegalRequest, scsi.ASCLBAOutOfRange, 0)
}

// readCapacity answers READ CAPACITY(16).
func (l *LUN) readCapacity(cdb, dataIn []byte) int {
	ans := scsi.AppendReadCapacity16(nil, scsi.Capacity{BlockSize: l.BlockSize, Blocks: l.Blocks, LBPME: true, LBPRZ: l.LBPRZ})
	alloc := binary.BigEndian.Uint32(cdb[10:14])
	return copy(dataIn, ans[:min(uint64(alloc), uint64(len(ans)))])
}

// read16 answers READ(16) from Data.
func (l *LUN) read16(cdb, dataIn []byte) (int, error) {
	lba := binary.BigEndian.Uint64(cdb[2:10])
	blocks := uint64(binary.BigEndian.Uint32(cdb[10:14]))
	if lba > l.Blocks || blocks > l.Blocks-lba {
		return 0, l.lbaOutOfRange()
	}
	n := min(blocks*uint64(l.BlockSize), uint64(len(dataIn)))
	got, err := l.Data.ReadAt(dataIn[:n], int64(lba)*int64(l.BlockSize))
	if got < int(n) {
		return got, l.check(scsi.KeyMediumError, 0x11, 0) // UNRECOVERED READ ERROR
	}
	_ = err // a full read with io.EOF is fine
	return got, nil
}
