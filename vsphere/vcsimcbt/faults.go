package vcsimcbt

import (
	"github.com/vmware/govmomi/vim25/types"
)

// FaultMessage keys ESXi puts in the FileFault of a failed
// QueryChangedDiskAreas (vsphere-csi-driver TranslateVslmError).
const (
	// KeyNoTrack: change tracking is not enabled on the disk.
	KeyNoTrack = "vim.hostd.vmsvc.cbt.noTrack"
	// KeyNoEpoch: no epoch is available for the change ID "*".
	KeyNoEpoch = "vim.hostd.vmsvc.cbt.noEpoch"
	// KeyCannotGetChanges: changes cannot be computed for the change ID (it
	// belongs to another tracking generation, or the ctk file is corrupt).
	KeyCannotGetChanges = "vim.hostd.vmsvc.cbt.cannotGetChanges"
)

// Properties an InvalidArgument fault of QueryChangedDiskAreas names in its
// InvalidProperty field.
const (
	PropChangeID    = "changeId"
	PropStartOffset = "startOffset"
	PropDeviceKey   = "deviceKey"
	PropSnapshotID  = "snapshotId"
)

// FileFault returns a FileFault whose first FaultMessage has the given key
// (KeyNoTrack, KeyNoEpoch, KeyCannotGetChanges or any other) and message, and
// whose File names the disk file.
func FileFault(key, file, message string) *types.FileFault {
	return &types.FileFault{
		VimFault: types.VimFault{MethodFault: types.MethodFault{
			FaultMessage: []types.LocalizableMessage{{Key: key, Message: message}},
		}},
		File: file,
	}
}

// InvalidArgument returns an InvalidArgument fault naming the property
// (PropChangeID, PropStartOffset, PropDeviceKey or PropSnapshotID).
func InvalidArgument(property string) *types.InvalidArgument {
	return &types.InvalidArgument{InvalidProperty: property}
}

// NotFound returns a NotFound fault ("the object is gone").
func NotFound() *types.NotFound { return &types.NotFound{} }

// SystemError returns a SystemError fault with the given reason (a server-side
// failure a client retries).
func SystemError(reason string) *types.SystemError {
	return &types.SystemError{Reason: reason}
}

// NotAuthenticated returns the NotAuthenticated fault vcsim answers when a
// session is gone (the session expired in the middle of paging).
func NotAuthenticated(vm types.ManagedObjectReference) *types.NotAuthenticated {
	return &types.NotAuthenticated{NoPermission: types.NoPermission{
		Object:      &vm,
		PrivilegeId: "System.View",
	}}
}
