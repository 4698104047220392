package scsi

import (
	"context"
	"fmt"
)

// Device sends one SCSI command and moves data in (reads). Implementations:
// the SG_IO device (Linux, see Open) and the model in package scsimodel.
type Device interface {
	// Exec sends cdb and reads up to len(dataIn) bytes. It returns the number
	// of bytes transferred. A CHECK CONDITION status is returned as a
	// *SenseError (decoded sense, errors.As-able), other non-GOOD statuses and
	// transport failures as other errors (a *StatusError, a *HostError); a
	// closed device is ErrClosed.
	Exec(ctx context.Context, cdb []byte, dataIn []byte) (int, error)
	// Close releases the device.
	Close() error
}

// SCSI status codes (SAM-5).
const (
	StatusGood                = 0x00
	StatusCheckCondition      = 0x02
	StatusConditionMet        = 0x04
	StatusBusy                = 0x08
	StatusReservationConflict = 0x18
	StatusTaskSetFull         = 0x28
	StatusACAActive           = 0x30
	StatusTaskAborted         = 0x40
)

// SenseError is a command that ended with CHECK CONDITION (or another status
// that carried sense data). Match it with errors.As.
type SenseError struct {
	// Status is the SCSI status byte (normally StatusCheckCondition).
	Status byte
	// Sense is the decoded sense data.
	Sense Sense
}

func (e *SenseError) Error() string {
	return fmt.Sprintf("scsi: status 0x%02x: %s", e.Status, e.Sense.String())
}

// StatusError is a command that ended with a status other than GOOD and
// CHECK CONDITION (BUSY, RESERVATION CONFLICT, TASK SET FULL, ...) and no sense.
type StatusError struct {
	Status byte
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("scsi: status 0x%02x (%s)", e.Status, statusName(e.Status))
}

func statusName(s byte) string {
	switch s {
	case StatusGood:
		return "GOOD"
	case StatusCheckCondition:
		return "CHECK CONDITION"
	case StatusConditionMet:
		return "CONDITION MET"
	case StatusBusy:
		return "BUSY"
	case StatusReservationConflict:
		return "RESERVATION CONFLICT"
	case StatusTaskSetFull:
		return "TASK SET FULL"
	case StatusACAActive:
		return "ACA ACTIVE"
	case StatusTaskAborted:
		return "TASK ABORTED"
	}
	return "unknown status"
}
