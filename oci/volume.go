package oci

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/core"

	"github.com/changedblocks/sdk/cbt"
)

// deltaTag is the freeform tag put on every delta volume this package
// creates, so that a leftover can be found (and its value, the second
// backup's OCID).
const deltaTag = "cbt-delta"

// cloud makes, waits for and removes delta volumes and their attachments.
type cloud struct {
	c    *Clients
	o    Options
	kind BackupKind
}

// spec returns the retry policy of a plain call: transient failures only.
func (cl *cloud) spec(ctx context.Context) policySpec {
	return policySpec{ctx: ctx, retries: cl.o.Retries, backoff: cl.o.RetryBackoff, interval: cl.o.PollInterval}
}

// cleanupSpec returns the retry policy of a teardown call: transient
// failures are retried until ctx (bounded by CleanupTimeout) ends, since a
// teardown given up leaves a billed volume behind.
func (cl *cloud) cleanupSpec(ctx context.Context) policySpec {
	s := cl.spec(ctx)
	s.retries = 1 << 20
	return s
}

// backupInfo is what this package reads of a backup.
type backupInfo struct {
	id      string
	size    int64     // bytes: the capacity of a volume made from it
	created time.Time // timeCreated; zero when the service gave none
	volume  string    // the OCID of the volume it was taken of; "" when not given
}

// backupSize returns the size in bytes of the volume a backup was taken of:
// the capacity of a volume made from it.
func (cl *cloud) backupSize(ctx context.Context, id string) (int64, error) {
	b, err := cl.readBackup(ctx, id, cbt.ErrNotFound)
	return b.size, err
}

// readBackup reads a backup: its size, creation time and volume. A backup
// that is gone (404, TERMINATING, TERMINATED) is of the class gone, a FAULTY
// one cbt.ErrUnsupported.
func (cl *cloud) readBackup(ctx context.Context, id string, gone error) (backupInfo, error) {
	md := common.RequestMetadata{RetryPolicy: cl.spec(ctx).policy()}
	var gb, mb *int64
	var state string
	var created *common.SDKTime
	var volume *string
	var err error
	if cl.kind == BootVolumeBackup {
		var r core.GetBootVolumeBackupResponse
		r, err = cl.c.Blockstorage.GetBootVolumeBackup(ctx, core.GetBootVolumeBackupRequest{BootVolumeBackupId: &id, RequestMetadata: md})
		gb, state, created, volume = r.SizeInGBs, string(r.LifecycleState), r.TimeCreated, r.BootVolumeId
	} else {
		var r core.GetVolumeBackupResponse
		r, err = cl.c.Blockstorage.GetVolumeBackup(ctx, core.GetVolumeBackupRequest{VolumeBackupId: &id, RequestMetadata: md})
		gb, mb, state, created, volume = r.SizeInGBs, r.SizeInMBs, string(r.LifecycleState), r.TimeCreated, r.VolumeId
	}
	if err != nil {
		return backupInfo{}, callError(ctx, err, map[int]error{http.StatusNotFound: gone}, "reading %s %s", cl.kind, id)
	}
	switch state {
	case "TERMINATING", "TERMINATED":
		return backupInfo{}, fmt.Errorf("%w: oci: %s %s is %s", gone, cl.kind, id, state)
	case "FAULTY":
		return backupInfo{}, fmt.Errorf("%w: oci: %s %s is FAULTY", cbt.ErrUnsupported, cl.kind, id)
	}
	b := backupInfo{id: id}
	if created != nil {
		b.created = created.Time
	}
	if volume != nil {
		b.volume = *volume
	}
	switch {
	case gb != nil && *gb > 0 && *gb <= 1<<33:
		b.size = *gb << 30
	case mb != nil && *mb > 0 && *mb <= 1<<43:
		b.size = *mb << 20
	default:
		return backupInfo{}, fmt.Errorf("%w: oci: %s %s gives no volume size", cbt.ErrCorrupt, cl.kind, id)
	}
	return b, nil
}

// readBase reads the first backup of a delta: one that is gone (404,
// TERMINATING, TERMINATED) is cbt.ErrChangeIDInvalid: take a full backup.
func (cl *cloud) readBase(ctx context.Context, id string) (backupInfo, error) {
	b, err := cl.readBackup(ctx, id, cbt.ErrChangeIDInvalid)
	if err != nil && errors.Is(err, cbt.ErrChangeIDInvalid) {
		err = fmt.Errorf("%w (the base backup does not exist anymore: take a full backup)", err)
	}
	return b, err
}

// checkBases checks a delta's two backups against each other before any
// volume is made: backups of different volumes (another volume's backup
// passed as the base, or a volume restored from a backup, which makes a new
// volume) are cbt.ErrChangeIDInvalid (the service would answer 403); a first
// backup created after the second is a listing backwards,
// cbt.ErrInvalidArgument. What the service does not say is not checked.
func checkBases(first, second backupInfo) error {
	if first.volume != "" && second.volume != "" && first.volume != second.volume {
		return fmt.Errorf("%w: oci: the base %s is a backup of volume %s, the disk's backup %s of volume %s: a delta needs two backups of the same volume (a volume restored from a backup is a new volume): take a full backup",
			cbt.ErrChangeIDInvalid, first.id, first.volume, second.id, second.volume)
	}
	if !first.created.IsZero() && !second.created.IsZero() && first.created.After(second.created) {
		return fmt.Errorf("%w: oci: the base %s (created %s) is later than the disk's backup %s (created %s): a listing goes forward in time; list since an earlier backup, or open the disk at a later one",
			cbt.ErrInvalidArgument, first.id, first.created.UTC().Format(time.RFC3339), second.id, second.created.UTC().Format(time.RFC3339))
	}
	return nil
}

// createDelta creates the volume holding the delta between two backups and
// returns its OCID. The retry token makes a resent request (after a network
// error or a 5xx) return the volume of the first instead of a second one.
// A 409 Conflict (a backup not AVAILABLE yet) is retried until BusyTimeout.
func (cl *cloud) createDelta(ctx context.Context, first, second, name, token string) (string, error) {
	spec := cl.spec(ctx)
	spec.busyUntil = time.Now().Add(cl.o.BusyTimeout)
	md := common.RequestMetadata{RetryPolicy: spec.policy()}
	tags := map[string]string{deltaTag: second}
	bs := cl.o.ChangeBlockSize
	var id *string
	var err error
	if cl.kind == BootVolumeBackup {
		var r core.CreateBootVolumeResponse
		r, err = cl.c.Blockstorage.CreateBootVolume(ctx, core.CreateBootVolumeRequest{
			CreateBootVolumeDetails: core.CreateBootVolumeDetails{
				CompartmentId:      &cl.o.CompartmentID,
				AvailabilityDomain: &cl.o.AvailabilityDomain,
				DisplayName:        &name,
				FreeformTags:       tags,
				SourceDetails: core.BootVolumeSourceFromBootVolumeBackupDeltaDetails{
					FirstBackupId: &first, SecondBackupId: &second, ChangeBlockSizeInBytes: &bs,
				},
			},
			OpcRetryToken:   &token,
			RequestMetadata: md,
		})
		id = r.Id
	} else {
		var r core.CreateVolumeResponse
		r, err = cl.c.Blockstorage.CreateVolume(ctx, core.CreateVolumeRequest{
			CreateVolumeDetails: core.CreateVolumeDetails{
				CompartmentId:      &cl.o.CompartmentID,
				AvailabilityDomain: &cl.o.AvailabilityDomain,
				DisplayName:        &name,
				FreeformTags:       tags,
				SourceDetails: core.VolumeSourceFromVolumeBackupDeltaDetails{
					FirstBackupId: &first, SecondBackupId: &second, ChangeBlockSizeInBytes: &bs,
				},
			},
			OpcRetryToken:   &token,
			RequestMetadata: md,
		})
		id = r.Id
	}
	if err != nil {
		return "", cl.createError(ctx, err, first, second)
	}
	if id == nil || *id == "" {
		return "", fmt.Errorf("%w: oci: creating the delta volume of %s and %s: the answer holds no volume OCID", cbt.ErrCorrupt, first, second)
	}
	return *id, nil
}

// createError classifies a failed CreateVolume of a delta: 403 means the
// backups are not of the same volume (or it was resized between them): take
// a full backup; 404 means a backup is gone, or the delta API is not
// available (the feature is off for the tenancy, or the performance level
// asked is not supported); which one is told by reading both backups.
func (cl *cloud) createError(ctx context.Context, err error, first, second string) error {
	what := fmt.Sprintf("creating the delta volume of %s %s since %s", cl.kind, second, first)
	switch statusOf(err) {
	case http.StatusForbidden:
		return callError(ctx, err, map[int]error{http.StatusForbidden: cbt.ErrChangeIDInvalid},
			"%s: the service refuses the pair: the backups are not of the same volume, or it was resized in between", what)
	case http.StatusConflict:
		return callError(ctx, err, nil, "%s: a backup is still not AVAILABLE after %v", what, cl.o.BusyTimeout)
	case http.StatusNotFound:
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if _, gerr := cl.backupSize(ctx, first); statusOf(gerr) == http.StatusNotFound {
			return callError(ctx, err, map[int]error{http.StatusNotFound: cbt.ErrChangeIDInvalid},
				"%s: the first backup does not exist (anymore)", what)
		}
		if _, gerr := cl.backupSize(ctx, second); statusOf(gerr) == http.StatusNotFound {
			return callError(ctx, err, nil, "%s: the second backup does not exist (anymore)", what)
		}
		return callError(ctx, err, map[int]error{http.StatusNotFound: cbt.ErrUnsupported},
			"%s: both backups exist, so the delta API is not available here (the feature is off for the tenancy, or the volume's performance level is not supported)", what)
	}
	return callError(ctx, err, nil, "%s", what)
}

// volumeState reads the lifecycle state of a volume.
func (cl *cloud) volumeState(r common.OCIResponse) string {
	switch v := r.(type) {
	case core.GetVolumeResponse:
		return string(v.LifecycleState)
	case core.GetBootVolumeResponse:
		return string(v.LifecycleState)
	}
	return ""
}

// waitVolume polls the volume until it is AVAILABLE.
func (cl *cloud) waitVolume(ctx context.Context, id string) error {
	spec := cl.spec(ctx)
	spec.pollUntil = time.Now().Add(cl.o.WaitTimeout)
	spec.pending = func(r common.OCIResponse) bool {
		switch cl.volumeState(r) {
		case "AVAILABLE", "FAULTY", "TERMINATING", "TERMINATED":
			return false
		}
		return true
	}
	md := common.RequestMetadata{RetryPolicy: spec.policy()}
	var r common.OCIResponse
	var err error
	if cl.kind == BootVolumeBackup {
		r, err = cl.c.Blockstorage.GetBootVolume(ctx, core.GetBootVolumeRequest{BootVolumeId: &id, RequestMetadata: md})
	} else {
		r, err = cl.c.Blockstorage.GetVolume(ctx, core.GetVolumeRequest{VolumeId: &id, RequestMetadata: md})
	}
	if err != nil {
		return callError(ctx, err, nil, "waiting for the delta volume %s", id)
	}
	switch st := cl.volumeState(r); st {
	case "AVAILABLE":
		return nil
	case "FAULTY":
		return fmt.Errorf("%w: oci: the delta volume %s is FAULTY: the service could not restore the delta", cbt.ErrUnsupported, id)
	case "TERMINATING", "TERMINATED":
		return fmt.Errorf("%w: oci: the delta volume %s is %s while waiting for it", cbt.ErrNotFound, id, st)
	default:
		if err := ctx.Err(); err != nil {
			return err
		}
		return fmt.Errorf("%w: oci: the delta volume %s is still %s after %v", cbt.ErrBusy, id, st, cl.o.WaitTimeout)
	}
}

// deleteVolume deletes a volume; one already gone is no error. A 409 (the
// volume is still attached or detaching) is retried until ctx ends.
func (cl *cloud) deleteVolume(ctx context.Context, id string) error {
	spec := cl.cleanupSpec(ctx)
	spec.busyUntil = time.Now().Add(cl.o.CleanupTimeout)
	md := common.RequestMetadata{RetryPolicy: spec.policy()}
	var err error
	if cl.kind == BootVolumeBackup {
		_, err = cl.c.Blockstorage.DeleteBootVolume(ctx, core.DeleteBootVolumeRequest{BootVolumeId: &id, RequestMetadata: md})
	} else {
		_, err = cl.c.Blockstorage.DeleteVolume(ctx, core.DeleteVolumeRequest{VolumeId: &id, RequestMetadata: md})
	}
	if err != nil && statusOf(err) != http.StatusNotFound {
		return callError(ctx, err, nil, "deleting the delta volume %s (delete it by hand: it is billed at the source volume's size)", id)
	}
	return nil
}
