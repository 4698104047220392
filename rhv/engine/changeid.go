package engine

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/rhv"
	"github.com/changedblocks/sdk/rhv/internal/ident"
)

// checkpointPrefix starts the value of a checkpoint change ID.
const checkpointPrefix = "checkpoint:"

// checkpointGuardVersion starts a checkpoint guard.
const checkpointGuardVersion = "c1"

// CheckpointChangeID returns the unguarded change ID "rhv:checkpoint:<id>"
// of an oVirt checkpoint (a backup's to_checkpoint_id), for a caller that
// wants to name one. It is no base: OpenBackup refuses it as
// BackupOptions.Since with cbt.ErrChangeIDInvalid, because nothing in it
// proves that the checkpoint the engine knows under that ID now is the one
// a backup was taken at (see the package doc). Store the guarded change ID
// the disk OpenBackup returns hands out instead.
//
// Errors: cbt.ErrInvalidArgument for an empty or malformed ID.
func CheckpointChangeID(checkpointID string) (cbt.ChangeID, error) {
	if err := checkID("checkpoint", checkpointID); err != nil {
		return cbt.ChangeID{}, err
	}
	return cbt.NewChangeID(rhv.Scheme, checkpointPrefix+checkpointID)
}

// CheckpointOf returns the checkpoint ID a change ID
// "rhv:checkpoint:<id>[~<guard>]" names.
//
// Errors: cbt.ErrInvalidArgument for a change ID of another scheme, of
// another kind (a volume), or with a malformed ID or guard.
func CheckpointOf(id cbt.ChangeID) (string, error) {
	if id.Scheme() != rhv.Scheme {
		return "", fmt.Errorf("%w: rhv: change ID %q is not of scheme %q", cbt.ErrInvalidArgument, ident.Clip(id.String(), 80), rhv.Scheme)
	}
	cp, _, err := checkpointOfValue(id.Value())
	return cp, err
}

// checkpointOfValue parses the value part "checkpoint:<id>[~<guard>]".
func checkpointOfValue(v string) (cp, guard string, err error) {
	rest, ok := strings.CutPrefix(v, checkpointPrefix)
	if !ok {
		return "", "", fmt.Errorf("%w: rhv: change ID value %q names no checkpoint (want checkpoint:<id>)", cbt.ErrInvalidArgument, ident.Clip(v, 80))
	}
	cp, guard, guarded := strings.Cut(rest, "~")
	if err := checkID("checkpoint", cp); err != nil {
		return "", "", err
	}
	if guarded {
		if err := checkID("checkpoint guard", guard); err != nil {
			return "", "", err
		}
	}
	return cp, guard, nil
}

// checkpointGuard returns the guard of a checkpoint change ID: a digest of
// the VM and disk the backup was of, the checkpoint ID and the engine's
// creation date of the checkpoint. A checkpoint deleted and made again
// under the same ID (a client may choose to_checkpoint_id) has another
// creation date; the change ID of another VM's or disk's backup another VM
// or disk.
func checkpointGuard(vmID, diskID, checkpointID string, created int64) string {
	h := sha256.New()
	for _, s := range []string{checkpointGuardVersion, vmID, diskID, checkpointID} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	var d [8]byte
	binary.BigEndian.PutUint64(d[:], uint64(created))
	h.Write(d[:])
	return checkpointGuardVersion + hex.EncodeToString(h.Sum(nil)[:16])
}

// guardedCheckpoint returns the change-ID value of a checkpoint with its
// guard.
func guardedCheckpoint(checkpointID, guard string) string {
	return checkpointPrefix + checkpointID + "~" + guard
}
