package engine

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/changedblocks/sdk/cbt"
)

// BackupRequest starts a backup.
type BackupRequest struct {
	// ID, when set, is the ID the backup gets (a UUID). A client that sets it
	// can finalize the backup even when the answer to the POST is lost.
	ID string
	// FromCheckpointID, when set, makes the backup incremental from that
	// checkpoint; empty means a full backup.
	FromCheckpointID string
	// DiskIDs are the disks to back up (at least one).
	DiskIDs []string
	// RequireConsistency fails the backup when the guest could not be
	// frozen (engine 4.4.4+).
	RequireConsistency bool
	// Description is stored with the backup.
	Description string
}

// StartBackup starts a backup of a VM (POST /vms/{vm}/backups). The backup
// comes back in phase initializing or starting; WaitBackup waits for ready.
// The request is not retried (a repeat would start a second backup).
//
// Errors: cbt.ErrBusy (409: a backup or another operation is in progress on
// the VM; 5xx or a transport failure), cbt.ErrNotFound (no such VM, disk or
// checkpoint), cbt.ErrInvalidArgument (a malformed ID, 400, 401),
// cbt.ErrUnsupported (403, or another refusal), each wrapping an *HTTPError
// with the engine's fault detail; cbt.ErrCorrupt, with the backup the engine
// started (to be finalized), when it ignored the ID asked for.
func (c *Client) StartBackup(ctx context.Context, vmID string, r BackupRequest) (*Backup, error) {
	if err := checkID("VM", vmID); err != nil {
		return nil, err
	}
	if len(r.DiskIDs) == 0 {
		return nil, fmt.Errorf("%w: rhv: a backup needs at least one disk", cbt.ErrInvalidArgument)
	}
	in := Backup{ID: r.ID, FromCheckpointID: r.FromCheckpointID, Description: r.Description, Disks: &DiskList{}}
	for _, opt := range [][2]string{{"backup", r.ID}, {"checkpoint", r.FromCheckpointID}} {
		if opt[1] != "" {
			if err := checkID(opt[0], opt[1]); err != nil {
				return nil, err
			}
		}
	}
	for _, d := range r.DiskIDs {
		if err := checkID("disk", d); err != nil {
			return nil, err
		}
		in.Disks.Disk = append(in.Disks.Disk, Disk{ID: d})
	}
	path := "/vms/" + vmID + "/backups"
	if r.RequireConsistency {
		path += "?" + url.Values{"require_consistency": {"true"}}.Encode()
	}
	var out Backup
	if err := c.do(ctx, http.MethodPost, path, in, &out, false); err != nil {
		return nil, err
	}
	if r.ID != "" && out.ID != "" && out.ID != r.ID {
		// The backup runs all the same: hand it back with the error, so
		// that the caller finalizes the one that exists.
		return &out, fmt.Errorf("%w: rhv: the engine started backup %s of VM %s, not %s as asked (finalize backup %s if the caller does not)", cbt.ErrCorrupt, out.ID, vmID, r.ID, out.ID)
	}
	if out.ID == "" {
		return nil, fmt.Errorf("%w: rhv: the engine started a backup of VM %s but returned no backup ID", cbt.ErrCorrupt, vmID)
	}
	return &out, nil
}

// Backup reads a backup (GET /vms/{vm}/backups/{id}).
//
// Errors: cbt.ErrNotFound, cbt.ErrBusy, cbt.ErrInvalidArgument,
// cbt.ErrUnsupported, cbt.ErrCorrupt, as for StartBackup.
func (c *Client) Backup(ctx context.Context, vmID, backupID string) (*Backup, error) {
	if err := checkIDs("VM", vmID, "backup", backupID); err != nil {
		return nil, err
	}
	return get[Backup](ctx, c, "/vms/"+vmID+"/backups/"+backupID)
}

// BackupDisks lists a backup's disks with their backup mode
// (GET /vms/{vm}/backups/{id}/disks): "incremental" when the disk's bitmap
// for the from-checkpoint exists, "full" otherwise.
//
// Errors: as for Backup.
func (c *Client) BackupDisks(ctx context.Context, vmID, backupID string) ([]Disk, error) {
	if err := checkIDs("VM", vmID, "backup", backupID); err != nil {
		return nil, err
	}
	out, err := get[DiskList](ctx, c, "/vms/"+vmID+"/backups/"+backupID+"/disks")
	if err != nil {
		return nil, err
	}
	return out.Disk, nil
}

// Disk reads a disk (GET /disks/{id}).
//
// Errors: as for Backup.
func (c *Client) Disk(ctx context.Context, diskID string) (*Disk, error) {
	if err := checkID("disk", diskID); err != nil {
		return nil, err
	}
	return get[Disk](ctx, c, "/disks/"+diskID)
}

// WaitBackup polls the backup until it is in phase want (BackupReady or
// BackupSucceeded), for at most Options.PhaseTimeout. A backup that
// turns failed, or that reaches succeeded while ready was wanted, is an
// error.
//
// Errors: cbt.ErrUnsupported (the backup failed: see the engine's events for
// the cause, such as a missing bitmap), cbt.ErrBusy (the timeout passed), and
// those of Backup.
func (c *Client) WaitBackup(ctx context.Context, vmID, backupID, want string) (*Backup, error) {
	var last *Backup
	what := "backup " + backupID + " of VM " + vmID
	_, err := c.poll(ctx, what, func(ctx context.Context) (string, error) {
		b, err := c.Backup(ctx, vmID, backupID)
		if err != nil {
			return "", err
		}
		last = b
		return b.Phase, nil
	}, func(p string) bool { return p == want }, func(p string) bool {
		return p == BackupFailed || (want == BackupReady && (p == BackupSucceeded || p == BackupFinalizing))
	})
	if err != nil {
		return last, err
	}
	return last, nil
}

// FinalizeBackup ends a backup (POST /vms/{vm}/backups/{id}/finalize): the
// engine removes the exports and, for a backup that reached ready, keeps its
// to-checkpoint for the next incremental. Repeating it is harmless, so it is
// retried after a 5xx.
//
// Errors: as for Backup; cbt.ErrBusy for a 409 while a transfer of the
// backup is still active.
func (c *Client) FinalizeBackup(ctx context.Context, vmID, backupID string) error {
	if err := checkIDs("VM", vmID, "backup", backupID); err != nil {
		return err
	}
	return c.do(ctx, http.MethodPost, "/vms/"+vmID+"/backups/"+backupID+"/finalize", struct{}{}, nil, true)
}
