// Package oci serves changed-block tracking for Oracle Cloud Infrastructure
// block volumes and boot volumes, between two of their backups, with the
// Block Volume service's delta API and SCSI GET LBA STATUS. It uses
// github.com/oracle/oci-go-sdk/v65 (v65.129.0); that import stays inside
// this package.
//
// # How changes are found
//
// OCI has no API that lists changed blocks. It can create a volume from the
// delta between two backups of the same volume (CreateVolume with a
// VolumeSourceFromVolumeBackupDeltaDetails source; CreateBootVolume with
// BootVolumeSourceFromBootVolumeBackupDeltaDetails for boot volumes): a
// thin volume in which exactly the blocks that differ are mapped, at a
// change block size of 4 KiB to 1 MiB. Open returns the disk at the second
// backup; each Changes listing since a first backup then
//
//  1. creates the delta volume (with a retry token: a resent request makes
//     no second volume), waiting while the service answers 409 because a
//     backup is not AVAILABLE yet (up to Options.BusyTimeout);
//  2. polls it until AVAILABLE (PROVISIONING, RESTORING; FAULTY is an
//     error). The Go SDK has no waiters: polling is a RetryPolicy built from
//     DefaultRetryPolicyWithoutEventualConsistency;
//  3. attaches it read-only by iSCSI with CHAP to Options.InstanceID (a
//     Linux instance: the service supports neither paravirtualized
//     attachments nor Windows here) and polls until ATTACHED;
//  4. logs in through Options.Connector (default IscsiadmConnector, the
//     documented iscsiadm steps) and opens the block device it names, by
//     its /dev/disk/by-path link, for SG_IO (Options.OpenDevice);
//  5. scans it whole with GET LBA STATUS(32), whose scan length keeps each
//     command within 1 GiB (OCI defines results only up to that), into
//     memory; every block not reported deallocated counts as changed;
//  6. closes the device, logs out, detaches (polling until DETACHED) and
//     deletes the volume;
//  7. only then yields the extents, page by page, from memory.
//
// So the delta volume (billed at the source volume's size while it exists)
// lives only for the scan, however long the caller then takes over each
// extent, and whether it iterates to the end or stops early. Step 6 runs on
// every path, errors and cancellation included, with a fresh context bounded by
// Options.CleanupTimeout. A create or attach whose answer was lost (a
// network error, a 5xx, a cancellation while it was out) is looked for by
// the listing's unique display name or by the volume, and undone too. A
// teardown that fails is logged and returned by Close, naming the volume
// or attachment left behind; the extents are right all the same. Delta
// volumes carry the freeform tag "cbt-delta" (its value the second
// backup's OCID), so that a leftover can be found. The delta is held in at
// most Options.MaxExtents extents (16 MiB by default); one with more is
// reported coarser, never leaving a changed byte out.
//
// The cloud steps need, besides iscsiadm and root (or CAP_SYS_RAWIO: SG_IO
// refuses GET LBA STATUS(32) to others), an IAM policy allowing the caller
// to read backups, create, read and delete volumes in the compartment, and
// attach and detach volumes on the instance.
//
// OpenAttached serves a delta volume already attached by other means; it
// neither detaches nor deletes it.
//
// # Change IDs
//
// Scheme "oci"; the value is the backup's OCID:
//
//	oci:ocid1.volumebackup.oc1.phx.<unique ID>
//
// A disk's ChangeID is its (second) backup's. Changes since the disk's own
// backup is empty and makes no volume. A zero since reports the whole disk
// as one extent: the delta API needs a first backup.
//
// An OCID is never given twice, so a backup deleted and taken again is
// another backup. Before any volume is made, each listing reads its base:
// one that is gone (deleted, TERMINATED) is cbt.ErrChangeIDInvalid; one of
// another volume is cbt.ErrChangeIDInvalid, which covers a volume restored
// from a backup (the service restores into a new volume, so the stored base,
// of the old volume, is refused rather than listed as if the restore had not
// happened); one created after the disk's backup is a listing backwards,
// cbt.ErrInvalidArgument (the delta volume holds the blocks that differ, the
// same either way, so only the creation times tell).
//
// # Errors
//
// The service's answers to the delta CreateVolume map to the cbt classes:
// 400 cbt.ErrInvalidArgument; 403 (the backups are not of the same volume,
// or it was resized between them) cbt.ErrChangeIDInvalid: take a full
// backup; 404 is told apart by reading both backups: the first gone is
// cbt.ErrChangeIDInvalid, the second gone cbt.ErrNotFound, both present
// cbt.ErrUnsupported (the delta feature is off for the tenancy, or the
// volume's performance level is not supported); 409 past BusyTimeout
// cbt.ErrBusy; 429 and 5xx (but 501) are retried with exponential backoff
// (Options.Retries, from Options.RetryBackoff up to 30 s), then 429 and 503
// are cbt.ErrBusy. A volume ending FAULTY is cbt.ErrUnsupported; a state
// not reached within Options.WaitTimeout is cbt.ErrBusy. Every error from
// the service wraps the SDK's error, so that
//
//	var se common.ServiceError
//	errors.As(err, &se) // se.GetHTTPStatusCode(), se.GetCode(), se.GetOpcRequestID()
//
// reaches it. Context errors are returned as they are.
//
// # Concurrency
//
// A Disk may serve several listings at once. It makes one delta volume at
// a time: a listing since the base another is making a volume for waits for
// it (its context can end the wait). Listings since the same base share the
// delta scanned for the first of them until one reaches its end, so that a
// caller who stops early and resumes since the same base makes no second
// volume; a listing since another base drops it and makes its own. The
// device of OpenAttached takes the commands of concurrent listings one at a
// time.
package oci
