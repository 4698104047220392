package rhv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// EngineInt is an integer as the engine's JSON carries it: the engine writes
// numbers as strings ("10737418240"); a plain JSON number is accepted too.
type EngineInt int64

// UnmarshalJSON implements json.Unmarshaler.
func (n *EngineInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		b = []byte(s)
	}
	if string(b) == "null" || len(b) == 0 {
		*n = 0
		return nil
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("engine integer %q: %w", engClip(string(b)), err)
	}
	*n = EngineInt(v)
	return nil
}

// MarshalJSON writes the integer as the engine does, as a string.
func (n EngineInt) MarshalJSON() ([]byte, error) {
	return json.Marshal(strconv.FormatInt(int64(n), 10))
}

// EngineRef is a reference to another object: {"id": "...", "href": "..."}.
type EngineRef struct {
	ID   string `json:"id"`
	Href string `json:"href,omitempty"`
}

// Backup phases (the engine's BackupPhase, lower case in JSON).
const (
	BackupInitializing = "initializing"
	BackupStarting     = "starting"
	BackupReady        = "ready"
	BackupFinalizing   = "finalizing"
	BackupSucceeded    = "succeeded"
	BackupFailed       = "failed"
)

// Backup modes of a disk in a backup (DiskBackupMode).
const (
	BackupModeFull        = "full"
	BackupModeIncremental = "incremental"
)

// Image transfer phases (ImageTransferPhase) this package looks at.
const (
	TransferInitializing      = "initializing"
	TransferTransferring      = "transferring"
	TransferFinalizingSuccess = "finalizing_success"
	TransferFinishedSuccess   = "finished_success"
	TransferFinalizingFailure = "finalizing_failure"
	TransferFinishedFailure   = "finished_failure"
	TransferCancelledSystem   = "cancelled_system"
	TransferCancelledUser     = "cancelled_user"
	TransferPausedSystem      = "paused_system"
	TransferPausedUser        = "paused_user"
)

// EngineBackup is a VM backup as GET /vms/{vm}/backups/{id} returns it.
type EngineBackup struct {
	ID               string          `json:"id,omitempty"`
	FromCheckpointID string          `json:"from_checkpoint_id,omitempty"`
	ToCheckpointID   string          `json:"to_checkpoint_id,omitempty"`
	Phase            string          `json:"phase,omitempty"`
	Description      string          `json:"description,omitempty"`
	Disks            *EngineDiskList `json:"disks,omitempty"`
	Host             *EngineRef      `json:"host,omitempty"`
}

// EngineDiskList is a list of disks as the engine's JSON wraps it:
// {"disk": [...]}.
type EngineDiskList struct {
	Disk []EngineDisk `json:"disk"`
}

// EngineDisk is a disk as the engine describes it; a backup's disk list
// carries BackupMode.
type EngineDisk struct {
	ID              string    `json:"id"`
	Alias           string    `json:"alias,omitempty"`
	Format          string    `json:"format,omitempty"`      // "cow" or "raw"
	Backup          string    `json:"backup,omitempty"`      // "incremental" or "none"
	BackupMode      string    `json:"backup_mode,omitempty"` // "full" or "incremental"
	ProvisionedSize EngineInt `json:"provisioned_size,omitempty"`
	Status          string    `json:"status,omitempty"`
}

// ImageTransfer is an image transfer as POST/GET /imagetransfers returns it.
type ImageTransfer struct {
	ID          string     `json:"id,omitempty"`
	Phase       string     `json:"phase,omitempty"`
	Direction   string     `json:"direction,omitempty"`
	Format      string     `json:"format,omitempty"`
	TransferURL string     `json:"transfer_url,omitempty"`
	ProxyURL    string     `json:"proxy_url,omitempty"`
	Disk        *EngineRef `json:"disk,omitempty"`
	Backup      *EngineRef `json:"backup,omitempty"`
	Shallow     string     `json:"shallow,omitempty"`
	// InactivityTimeout in seconds, after which the engine ends an idle
	// transfer.
	InactivityTimeout EngineInt `json:"inactivity_timeout,omitempty"`
}
