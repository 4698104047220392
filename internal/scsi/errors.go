package scsi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
)

// Sentinel errors. Every error this package makes for a refused argument, a
// command the device or host cannot take, a device that is busy, a
// malformed answer or a closed device wraps exactly one of them (test with
// errors.Is); a *SenseError, *StatusError or *HostError stays reachable
// with errors.As. The package gives no other meaning to them: a platform
// maps them to its own error classes.
var (
	// ErrInvalid: an argument is out of range (scan options, a CDB or data
	// buffer of a length SG_IO cannot take, a start beyond the capacity),
	// or the device refused a field of the command (ILLEGAL REQUEST other
	// than an invalid operation code: 24h/00 invalid field in CDB, 21h/00
	// LBA out of range).
	ErrInvalid = errors.New("scsi: invalid argument")

	// ErrUnsupported: the command cannot be sent to this device: the device
	// does not know it (ILLEGAL REQUEST, 20h/00 invalid operation code), the
	// host cannot pass it through (SG_IO answers ENOTTY, EINVAL or
	// EMSGSIZE), the file is no SCSI device, or the system has no SG_IO.
	ErrUnsupported = errors.New("scsi: not supported")

	// ErrBusy: the device did not execute the command but may later: UNIT
	// ATTENTION past the retries, NOT READY, a BUSY, TASK SET FULL,
	// RESERVATION CONFLICT, ACA ACTIVE or TASK ABORTED status, or a
	// transport failure that may pass (DID_NO_CONNECT, DID_BUS_BUSY,
	// DID_TIME_OUT, DID_IMM_RETRY, DID_REQUEUE, DID_TRANSPORT_DISRUPTED).
	ErrBusy = errors.New("scsi: device busy or not ready")

	// ErrMalformed: the device's answer breaks SPC-5 or SBC-4 (a short or
	// self-contradicting parameter data, undecodable sense data, more bytes
	// transferred than asked for): it cannot be trusted.
	ErrMalformed = errors.New("scsi: malformed answer")

	// ErrClosed: the device was closed.
	ErrClosed = errors.New("scsi: device closed")
)

// defaultRetries is how many times a command that met UNIT ATTENTION is sent again.
const defaultRetries = 5

// senseKind wraps err in the sentinel its sense data or status means:
// ILLEGAL REQUEST 20h/00 (invalid opcode) is ErrUnsupported, other ILLEGAL
// REQUEST ErrInvalid, UNIT ATTENTION, NOT READY and BUSY-like statuses
// ErrBusy. Other errors pass as they are.
func senseKind(err error) error {
	var se *SenseError
	if errors.As(err, &se) {
		s := se.Sense
		switch {
		case s.Key == KeyIllegalRequest && s.ASC == ASCInvalidOpcode && s.ASCQ == 0:
			return fmt.Errorf("%w by the device: %w", ErrUnsupported, err)
		case s.Key == KeyIllegalRequest:
			return fmt.Errorf("%w: the device rejected a field of the command: %w", ErrInvalid, err)
		case s.Key == KeyUnitAttention || s.Key == KeyNotReady:
			return fmt.Errorf("%w (try again later): %w", ErrBusy, err)
		}
		return err
	}
	var st *StatusError
	if errors.As(err, &st) {
		switch st.Status {
		case StatusBusy, StatusTaskSetFull, StatusReservationConflict, StatusACAActive, StatusTaskAborted:
			return fmt.Errorf("%w (try again later): %w", ErrBusy, err)
		}
	}
	return err
}

// execRetry sends cdb, sending it again up to retries times while the device
// answers UNIT ATTENTION, and returns the error with its sentinel (see
// senseKind). Context errors and errors that already wrap a sentinel of
// this package pass as they are.
func execRetry(ctx context.Context, dev Device, cdb, dataIn []byte, retries int, log *slog.Logger) (int, error) {
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		n, err := dev.Exec(ctx, cdb, dataIn)
		if err == nil {
			if n < 0 || n > len(dataIn) {
				return 0, fmt.Errorf("%w: the device reports %d bytes transferred into a %d-byte buffer", ErrMalformed, n, len(dataIn))
			}
			return n, nil
		}
		var se *SenseError
		if errors.As(err, &se) && se.Sense.Key == KeyUnitAttention && attempt < retries {
			if log != nil {
				log.DebugContext(ctx, "scsi: unit attention, sending the command again", "opcode", cdb[0], "attempt", attempt+1, "sense", se.Sense.String())
			}
			continue
		}
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || hasSentinel(err) {
			return 0, err
		}
		return 0, senseKind(err)
	}
}

// hasSentinel reports whether err wraps one of this package's sentinels.
func hasSentinel(err error) bool {
	for _, s := range [...]error{ErrInvalid, ErrUnsupported, ErrBusy, ErrMalformed, ErrClosed} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// hostNames names the Linux DID_* host status codes.
var hostNames = [...]string{"DID_OK", "DID_NO_CONNECT", "DID_BUS_BUSY", "DID_TIME_OUT", "DID_BAD_TARGET", "DID_ABORT",
	"DID_PARITY", "DID_ERROR", "DID_RESET", "DID_BAD_INTR", "DID_PASSTHROUGH", "DID_SOFT_ERROR", "DID_IMM_RETRY",
	"DID_REQUEUE", "DID_TRANSPORT_DISRUPTED", "DID_TRANSPORT_FAILFAST", "DID_TARGET_FAILURE", "DID_NEXUS_FAILURE",
	"DID_ALLOC_FAILURE", "DID_MEDIUM_ERROR", "DID_TRANSPORT_MARGINAL"}

// HostError is a transport failure the Linux SCSI layer reports in the
// host_status of SG_IO (DID_TIME_OUT, DID_NO_CONNECT, ...).
type HostError struct {
	HostStatus uint16
}

func (e *HostError) Error() string {
	name := "unknown"
	if int(e.HostStatus) < len(hostNames) {
		name = hostNames[e.HostStatus]
	}
	return fmt.Sprintf("scsi: transport failure: host status 0x%02x (%s)", e.HostStatus, name)
}
