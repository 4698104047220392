package rhv

import (
	"fmt"
	"strings"

	"github.com/changedblocks/sdk/cbt"
)

// checkpointPrefix starts the value of a checkpoint change ID.
const checkpointPrefix = "checkpoint:"

// CheckpointChangeID returns the change ID "rhv:checkpoint:<id>" of an oVirt
// checkpoint (a backup's to_checkpoint_id): what a backup taken with
// OpenBackup stores, to pass as BackupOptions.Since next time.
//
// Errors: cbt.ErrInvalidArgument for an empty or malformed ID.
func CheckpointChangeID(checkpointID string) (cbt.ChangeID, error) {
	if err := engPathID("checkpoint", checkpointID); err != nil {
		return cbt.ChangeID{}, err
	}
	return cbt.NewChangeID(Scheme, checkpointPrefix+checkpointID)
}

// CheckpointOf returns the checkpoint ID a change ID "rhv:checkpoint:<id>"
// names.
//
// Errors: cbt.ErrInvalidArgument for a change ID of another scheme, of
// another kind (a volume), or with a malformed ID.
func CheckpointOf(id cbt.ChangeID) (string, error) {
	if id.Scheme() != Scheme {
		return "", fmt.Errorf("%w: rhv: change ID %q is not of scheme %q", cbt.ErrInvalidArgument, engClip(id.String()), Scheme)
	}
	return checkpointOfValue(id.Value())
}

// checkpointOfValue parses the value part "checkpoint:<id>".
func checkpointOfValue(v string) (string, error) {
	cp, ok := strings.CutPrefix(v, checkpointPrefix)
	if !ok {
		return "", fmt.Errorf("%w: rhv: change ID value %q names no checkpoint (want checkpoint:<id>)", cbt.ErrInvalidArgument, engClip(v))
	}
	if err := engPathID("checkpoint", cp); err != nil {
		return "", err
	}
	return cp, nil
}
