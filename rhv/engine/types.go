package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/changedblocks/sdk/rhv/internal/ident"
)

// Int is an integer as the engine's JSON carries it: the engine writes
// numbers as strings ("10737418240"); a plain JSON number is accepted too.
type Int int64

// UnmarshalJSON implements json.Unmarshaler.
func (n *Int) UnmarshalJSON(b []byte) error {
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
		return fmt.Errorf("engine integer %q: %w", ident.Clip(string(b), 80), err)
	}
	*n = Int(v)
	return nil
}

// MarshalJSON writes the integer as the engine does, as a string.
func (n Int) MarshalJSON() ([]byte, error) {
	return json.Marshal(strconv.FormatInt(int64(n), 10))
}

// Ref is a reference to another object: {"id": "...", "href": "..."}.
type Ref struct {
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

// Backup is a VM backup as GET /vms/{vm}/backups/{id} returns it.
type Backup struct {
	ID               string    `json:"id,omitempty"`
	FromCheckpointID string    `json:"from_checkpoint_id,omitempty"`
	ToCheckpointID   string    `json:"to_checkpoint_id,omitempty"`
	Phase            string    `json:"phase,omitempty"`
	Description      string    `json:"description,omitempty"`
	Disks            *DiskList `json:"disks,omitempty"`
	Host             *Ref      `json:"host,omitempty"`
}

// DiskList is a list of disks as the engine's JSON wraps it:
// {"disk": [...]}.
type DiskList struct {
	Disk []Disk `json:"disk"`
}

// Disk is a disk as the engine describes it; a backup's disk list
// carries BackupMode.
type Disk struct {
	ID              string `json:"id"`
	Alias           string `json:"alias,omitempty"`
	Format          string `json:"format,omitempty"`      // "cow" or "raw"
	Backup          string `json:"backup,omitempty"`      // "incremental" or "none"
	BackupMode      string `json:"backup_mode,omitempty"` // "full" or "incremental"
	ProvisionedSize Int    `json:"provisioned_size,omitempty"`
	Status          string `json:"status,omitempty"`
}

// ImageTransfer is an image transfer as POST/GET /imagetransfers returns it.
type ImageTransfer struct {
	ID          string `json:"id,omitempty"`
	Phase       string `json:"phase,omitempty"`
	Direction   string `json:"direction,omitempty"`
	Format      string `json:"format,omitempty"`
	TransferURL string `json:"transfer_url,omitempty"`
	ProxyURL    string `json:"proxy_url,omitempty"`
	Disk        *Ref   `json:"disk,omitempty"`
	Backup      *Ref   `json:"backup,omitempty"`
	Shallow     string `json:"shallow,omitempty"`
	// InactivityTimeout in seconds, after which the engine ends an idle
	// transfer.
	InactivityTimeout Int `json:"inactivity_timeout,omitempty"`
}
