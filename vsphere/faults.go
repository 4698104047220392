package vsphere

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/changedblocks/sdk/cbt"
	"github.com/vmware/govmomi/vim25/types"
)

// The FileFault message keys ESXi uses for change tracking.
const (
	// KeyNoTrack: change tracking is off for the disk.
	KeyNoTrack = "vim.hostd.vmsvc.cbt.noTrack"
	// KeyNoEpoch: the disk has no tracking epoch for the change ID asked
	// (also what "*" gets when the allocated blocks cannot be told).
	KeyNoEpoch = "vim.hostd.vmsvc.cbt.noEpoch"
	// KeyCannotGetChanges: the change ID does not match the disk's tracking
	// file, or that file is corrupt.
	KeyCannotGetChanges = "vim.hostd.vmsvc.cbt.cannotGetChanges"
)

// FaultError is a vSphere fault (or a transport error) that a call of this
// package got, with the call's name. Every error of this package that comes
// from the server wraps one, so that
//
//	var fe *vsphere.FaultError
//	if errors.As(err, &fe) { ... fe.Fault.(*types.FileFault) ... }
//
// reaches the raw fault. Err is govmomi's own error (a SOAP fault, a task
// error or a transport error), also reachable with errors.As and
// govmomi's fault.As.
type FaultError struct {
	Method string                // the vSphere method, such as "QueryChangedDiskAreas"
	Fault  types.BaseMethodFault // nil for a transport error
	Err    error
}

func (e *FaultError) Error() string { return e.Method + ": " + e.Err.Error() }

// Unwrap returns govmomi's error.
func (e *FaultError) Unwrap() error { return e.Err }

// errf returns an error of class cls with a message prefixed "vsphere:".
func errf(cls error, format string, args ...any) error {
	return fmt.Errorf("%w: vsphere: "+format, append([]any{cls}, args...)...)
}

// methodFault returns the vSphere fault err carries (a SOAP fault or a task
// error), or nil.
func methodFault(err error) types.BaseMethodFault {
	var hf interface{ Fault() types.BaseMethodFault }
	if errors.As(err, &hf) {
		return hf.Fault()
	}
	return nil
}

// kind is what to do with an error from the server.
type kind int

const (
	final     kind = iota // return it with its class
	transient             // retry after a backoff
	relogin               // log in again, then retry
)

// classify returns the class of an error a vSphere call returned and whether
// it is worth retrying. ctx errors are not classified here.
func classify(err error) (k kind, cls error) {
	f := methodFault(err)
	if f == nil {
		// No fault: a transport error (connection reset, timeout, HTTP 5xx,
		// a body cut short). Retry; if it persists the server is unreachable.
		return transient, cbt.ErrBusy
	}
	switch f := f.(type) {
	case *types.NotAuthenticated:
		return relogin, cbt.ErrInvalidArgument
	case *types.SystemError:
		return transient, cbt.ErrBusy
	case *types.NotFound, *types.ManagedObjectNotFound, *types.FileNotFound:
		return final, cbt.ErrNotFound
	case *types.MethodNotFound, *types.NotSupported, *types.NotImplemented:
		return final, cbt.ErrUnsupported
	case types.BaseFileFault:
		switch messageKey(f.GetFileFault()) {
		case KeyNoTrack:
			return final, cbt.ErrNotEnabled
		case KeyNoEpoch, KeyCannotGetChanges:
			return final, cbt.ErrChangeIDInvalid
		}
		return transient, cbt.ErrBusy
	case types.BaseInvalidArgument:
		switch strings.ToLower(f.GetInvalidArgument().InvalidProperty) {
		case "changeid":
			return final, cbt.ErrChangeIDInvalid
		case "devicekey", "snapshotid", "snapshot", "id":
			return final, cbt.ErrNotFound
		}
		return final, cbt.ErrInvalidArgument
	case *types.InvalidState, *types.TaskInProgress, *types.InvalidPowerState:
		return final, cbt.ErrBusy
	case types.BaseNoPermission:
		return final, cbt.ErrUnsupported
	}
	return final, cbt.ErrUnsupported
}

// messageKey returns the first change-tracking key among the fault's
// messages, or the first key.
func messageKey(f types.BaseMethodFault) string {
	mf := f.GetMethodFault()
	if mf == nil {
		return ""
	}
	first := ""
	for _, m := range mf.FaultMessage {
		if strings.HasPrefix(m.Key, "vim.hostd.vmsvc.cbt.") {
			return m.Key
		}
		if first == "" {
			first = m.Key
		}
	}
	return first
}

// wrapCall returns the error of a vSphere call with its class, the method
// name and the fault: fmt.Errorf("%w: %w", class, *FaultError). Context
// errors are returned as they are.
func wrapCall(ctx context.Context, method string, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	k, cls := classify(err)
	return fmt.Errorf("%w: vsphere: %w%s", cls, &FaultError{Method: method, Fault: methodFault(err), Err: err}, advice(k, cls))
}

// advice tells the caller what to do about an error of kind k and class cls,
// where the class's own message does not (ErrChangeIDInvalid already says to
// take a full backup).
func advice(k kind, cls error) string {
	switch {
	case k == relogin:
		return " (the session is not authenticated: log in again, or set Options.Relogin so that listings log in and resume by themselves)"
	case cls == cbt.ErrNotEnabled:
		return " (enable change tracking with EnableCBT, take a new snapshot, and take a full backup from it)"
	case k == transient:
		return " (the server or the connection failed, which may pass: try again later)"
	case cls == cbt.ErrNotFound:
		return " (the VM, snapshot or disk is gone: list the VM's disks and snapshots again)"
	}
	return ""
}

// faultName is the type name of a fault, for messages.
func faultName(f types.BaseMethodFault) string {
	if f == nil {
		return "transport error"
	}
	t := reflect.TypeOf(f)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}
