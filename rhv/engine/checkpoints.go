package engine

import (
	"context"
)

// Checkpoint is a VM checkpoint as GET /vms/{vm}/checkpoints/{id}
// returns it: a point an incremental backup can start from, made by the
// backup whose to_checkpoint_id it is.
type Checkpoint struct {
	ID       string `json:"id"`
	ParentID string `json:"parent_id,omitempty"`
	// CreationDate is when the engine made the checkpoint, in milliseconds
	// since the epoch.
	CreationDate Int    `json:"creation_date,omitempty"`
	State        string `json:"state,omitempty"` // "created" or "invalid"
	VM           *Ref   `json:"vm,omitempty"`
}

// checkpointList is the engine's JSON wrapping of a checkpoint list.
type checkpointList struct {
	Checkpoint []Checkpoint `json:"checkpoint"`
}

// Checkpoint reads a checkpoint of a VM (GET /vms/{vm}/checkpoints/{id}).
//
// Errors: cbt.ErrNotFound (no such VM, or the VM has no such checkpoint:
// removed, or of another VM), and those of Backup.
func (c *Client) Checkpoint(ctx context.Context, vmID, checkpointID string) (*Checkpoint, error) {
	if err := checkIDs("VM", vmID, "checkpoint", checkpointID); err != nil {
		return nil, err
	}
	return get[Checkpoint](ctx, c, "/vms/"+vmID+"/checkpoints/"+checkpointID)
}

// Checkpoints lists a VM's checkpoints (GET /vms/{vm}/checkpoints), each
// with its parent: the engine keeps them as one line, oldest first.
//
// Errors: as for Checkpoint.
func (c *Client) Checkpoints(ctx context.Context, vmID string) ([]Checkpoint, error) {
	if err := checkID("VM", vmID); err != nil {
		return nil, err
	}
	out, err := get[checkpointList](ctx, c, "/vms/"+vmID+"/checkpoints")
	if err != nil {
		return nil, err
	}
	return out.Checkpoint, nil
}
