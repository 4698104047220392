package rhv

import (
	"context"
	"errors"
	"net/http"
)

// EngineCheckpoint is a VM checkpoint as GET /vms/{vm}/checkpoints/{id}
// returns it: a point an incremental backup can start from, made by the
// backup whose to_checkpoint_id it is.
type EngineCheckpoint struct {
	ID       string `json:"id"`
	ParentID string `json:"parent_id,omitempty"`
	// CreationDate is when the engine made the checkpoint, in milliseconds
	// since the epoch.
	CreationDate EngineInt  `json:"creation_date,omitempty"`
	State        string     `json:"state,omitempty"` // "created" or "invalid"
	VM           *EngineRef `json:"vm,omitempty"`
}

// engineCheckpointList is the engine's JSON wrapping of a checkpoint list.
type engineCheckpointList struct {
	Checkpoint []EngineCheckpoint `json:"checkpoint"`
}

// Checkpoint reads a checkpoint of a VM (GET /vms/{vm}/checkpoints/{id}).
//
// Errors: cbt.ErrNotFound (no such VM, or the VM has no such checkpoint:
// removed, or of another VM), and those of Backup.
func (c *EngineClient) Checkpoint(ctx context.Context, vmID, checkpointID string) (*EngineCheckpoint, error) {
	if err := errors.Join(engPathID("VM", vmID), engPathID("checkpoint", checkpointID)); err != nil {
		return nil, err
	}
	var out EngineCheckpoint
	if err := c.do(ctx, http.MethodGet, "/vms/"+vmID+"/checkpoints/"+checkpointID, nil, &out, true); err != nil {
		return nil, err
	}
	return &out, nil
}

// Checkpoints lists a VM's checkpoints (GET /vms/{vm}/checkpoints), each
// with its parent: the engine keeps them as one line, oldest first.
//
// Errors: as for Checkpoint.
func (c *EngineClient) Checkpoints(ctx context.Context, vmID string) ([]EngineCheckpoint, error) {
	if err := engPathID("VM", vmID); err != nil {
		return nil, err
	}
	var out engineCheckpointList
	if err := c.do(ctx, http.MethodGet, "/vms/"+vmID+"/checkpoints", nil, &out, true); err != nil {
		return nil, err
	}
	return out.Checkpoint, nil
}
