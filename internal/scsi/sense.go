package scsi

import (
	"encoding/binary"
	"fmt"
)

// Sense keys (SPC-5).
const (
	KeyNoSense        = 0x0
	KeyRecoveredError = 0x1
	KeyNotReady       = 0x2
	KeyMediumError    = 0x3
	KeyHardwareError  = 0x4
	KeyIllegalRequest = 0x5
	KeyUnitAttention  = 0x6
	KeyDataProtect    = 0x7
	KeyAbortedCommand = 0xb
)

// Additional sense codes the package acts on.
const (
	ASCInvalidOpcode   = 0x20 // INVALID COMMAND OPERATION CODE (ASCQ 0)
	ASCLBAOutOfRange   = 0x21 // LOGICAL BLOCK ADDRESS OUT OF RANGE (ASCQ 0)
	ASCInvalidFieldCDB = 0x24 // INVALID FIELD IN CDB (ASCQ 0)
	ASCPowerOnReset    = 0x29 // POWER ON, RESET, OR BUS DEVICE RESET OCCURRED
)

// Sense response codes (byte 0 & 0x7f).
const (
	SenseFixedCurrent       = 0x70
	SenseFixedDeferred      = 0x71
	SenseDescriptorCurrent  = 0x72
	SenseDescriptorDeferred = 0x73
)

// Sense is decoded sense data, fixed (0x70/0x71) or descriptor (0x72/0x73) format.
type Sense struct {
	// ResponseCode is byte 0 & 0x7f: 0x70/0x71 fixed, 0x72/0x73 descriptor.
	ResponseCode byte
	// Key is the sense key (KeyIllegalRequest, KeyUnitAttention, ...).
	Key byte
	// ASC and ASCQ are the additional sense code and qualifier.
	ASC, ASCQ byte
	// Information is the INFORMATION field when InfoValid is set.
	Information uint64
	// InfoValid is set when Information holds a value.
	InfoValid bool
}

// Descriptor reports whether the sense data came in descriptor format.
func (s Sense) Descriptor() bool { return s.ResponseCode == 0x72 || s.ResponseCode == 0x73 }

// Deferred reports whether the sense data is a deferred error.
func (s Sense) Deferred() bool { return s.ResponseCode == 0x71 || s.ResponseCode == 0x73 }

// String formats the sense key and ASC/ASCQ.
func (s Sense) String() string {
	return fmt.Sprintf("sense key 0x%x (%s), asc/ascq 0x%02x/0x%02x (%s)", s.Key, keyName(s.Key), s.ASC, s.ASCQ, ascName(s.ASC, s.ASCQ))
}

func keyName(k byte) string {
	names := [...]string{"NO SENSE", "RECOVERED ERROR", "NOT READY", "MEDIUM ERROR", "HARDWARE ERROR",
		"ILLEGAL REQUEST", "UNIT ATTENTION", "DATA PROTECT", "BLANK CHECK", "VENDOR SPECIFIC",
		"COPY ABORTED", "ABORTED COMMAND", "reserved", "VOLUME OVERFLOW", "MISCOMPARE", "COMPLETED"}
	return names[k&0xf]
}

func ascName(asc, ascq byte) string {
	switch {
	case asc == 0 && ascq == 0:
		return "no additional sense information"
	case asc == ASCInvalidOpcode && ascq == 0:
		return "invalid command operation code"
	case asc == ASCLBAOutOfRange && ascq == 0:
		return "logical block address out of range"
	case asc == ASCInvalidFieldCDB && ascq == 0:
		return "invalid field in CDB"
	case asc == ASCPowerOnReset:
		return "power on, reset, or bus device reset occurred"
	case asc == 0x2a:
		return "parameters changed"
	case asc == 0x04:
		return "logical unit not ready"
	case asc == 0x3a:
		return "medium not present"
	}
	return "see SPC-5 annex"
}

// DecodeSense decodes sense data in fixed or descriptor format. Fields
// missing from short data read as zero. Errors are ErrMalformed: empty data or
// an unknown response code.
func DecodeSense(b []byte) (Sense, error) {
	if len(b) == 0 {
		return Sense{}, fmt.Errorf("%w: empty sense data", ErrMalformed)
	}
	s := Sense{ResponseCode: b[0] & 0x7f}
	switch s.ResponseCode {
	case 0x70, 0x71:
		if len(b) > 2 {
			s.Key = b[2] & 0xf
		}
		if len(b) >= 7 && b[0]&0x80 != 0 {
			s.InfoValid = true
			s.Information = uint64(binary.BigEndian.Uint32(b[3:7]))
		}
		// The additional sense length (byte 7) bounds the rest.
		end := len(b)
		if len(b) > 7 && int(b[7])+8 < end {
			end = int(b[7]) + 8
		}
		if end > 12 {
			s.ASC = b[12]
		}
		if end > 13 {
			s.ASCQ = b[13]
		}
	case 0x72, 0x73:
		if len(b) > 1 {
			s.Key = b[1] & 0xf
		}
		if len(b) > 2 {
			s.ASC = b[2]
		}
		if len(b) > 3 {
			s.ASCQ = b[3]
		}
		if len(b) > 8 {
			end := len(b)
			if int(b[7])+8 < end {
				end = int(b[7]) + 8
			}
			s.decodeDescriptors(b[8:end])
		}
	default:
		return Sense{}, fmt.Errorf("%w: sense data with unknown response code 0x%02x", ErrMalformed, s.ResponseCode)
	}
	return s, nil
}

// decodeDescriptors reads the sense data descriptors of descriptor format;
// only the information descriptor (type 0) is kept.
func (s *Sense) decodeDescriptors(b []byte) {
	for len(b) >= 2 {
		typ, n := b[0], int(b[1])+2
		if n > len(b) {
			return
		}
		if typ == 0 && n >= 12 && b[2]&0x80 != 0 {
			s.InfoValid = true
			s.Information = binary.BigEndian.Uint64(b[4:12])
		}
		b = b[n:]
	}
}

// AppendFixed appends s in fixed format (18 bytes) to b, deferred when s is.
func (s Sense) AppendFixed(b []byte) []byte {
	code := byte(SenseFixedCurrent)
	if s.Deferred() {
		code = SenseFixedDeferred
	}
	if s.InfoValid {
		code |= 0x80
	}
	b = append(b, code, 0, s.Key&0xf)
	b = binary.BigEndian.AppendUint32(b, uint32(s.Information))
	return append(b, 10, 0, 0, 0, 0, s.ASC, s.ASCQ, 0, 0, 0, 0)
}

// AppendDescriptor appends s in descriptor format to b, deferred when s is, with an information
// descriptor when InfoValid is set.
func (s Sense) AppendDescriptor(b []byte) []byte {
	code := byte(SenseDescriptorCurrent)
	if s.Deferred() {
		code = SenseDescriptorDeferred
	}
	addl := byte(0)
	if s.InfoValid {
		addl = 12
	}
	b = append(b, code, s.Key&0xf, s.ASC, s.ASCQ, 0, 0, 0, addl)
	if s.InfoValid {
		b = append(b, 0, 10, 0x80, 0)
		b = binary.BigEndian.AppendUint64(b, s.Information)
	}
	return b
}
