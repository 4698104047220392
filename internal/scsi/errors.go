package scsi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/changedblocks/sdk/cbt/driver"
)

// defaultRetries is how many times a command that met UNIT ATTENTION is sent again.
const defaultRetries = 5

// classify wraps err in the cbt error class it belongs to: ILLEGAL REQUEST
// 20h/00 (invalid opcode) is ErrUnsupported, other ILLEGAL REQUEST (24h/00
// invalid field in CDB, 21h/00 LBA out of range) ErrInvalidArgument, UNIT
// ATTENTION, NOT READY and BUSY-like statuses ErrBusy. Context errors and
// errors already carrying a class pass through.
func classify(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || hasClass(err) {
		return err
	}
	var se *SenseError
	if errors.As(err, &se) {
		s := se.Sense
		switch {
		case s.Key == KeyIllegalRequest && s.ASC == ASCInvalidOpcode && s.ASCQ == 0:
			return fmt.Errorf("%w: the device does not support this command: %w", driver.ErrUnsupported, err)
		case s.Key == KeyIllegalRequest:
			return fmt.Errorf("%w: the device rejected a field of the command: %w", driver.ErrInvalidArgument, err)
		case s.Key == KeyUnitAttention || s.Key == KeyNotReady:
			return fmt.Errorf("%w: the device is not ready; try again later: %w", driver.ErrBusy, err)
		}
		return err
	}
	var st *StatusError
	if errors.As(err, &st) {
		switch st.Status {
		case StatusBusy, StatusTaskSetFull, StatusReservationConflict, StatusACAActive, StatusTaskAborted:
			return fmt.Errorf("%w: the device is busy; try again later: %w", driver.ErrBusy, err)
		}
	}
	return err
}

func hasClass(err error) bool {
	for _, c := range []error{driver.ErrChangeIDInvalid, driver.ErrNotEnabled, driver.ErrNotFound, driver.ErrUnsupported,
		driver.ErrInvalidArgument, driver.ErrCorrupt, driver.ErrBusy, driver.ErrClosed} {
		if errors.Is(err, c) {
			return true
		}
	}
	return false
}

// execRetry sends cdb, sending it again up to retries times while the device
// answers UNIT ATTENTION, and returns the classified error.
func execRetry(ctx context.Context, dev Device, cdb, dataIn []byte, retries int, log *slog.Logger) (int, error) {
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		n, err := dev.Exec(ctx, cdb, dataIn)
		if err == nil {
			if n < 0 || n > len(dataIn) {
				return 0, fmt.Errorf("%w: scsi: the device reports %d bytes transferred into a %d-byte buffer", driver.ErrCorrupt, n, len(dataIn))
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
		return 0, classify(err)
	}
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
