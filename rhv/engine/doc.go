// Package engine is the oVirt engine's REST API (JSON) client and the
// incremental backup flow of oVirt 4.4+ built on it. Change IDs are of
// scheme "rhv" (rhv.Scheme): "checkpoint:<id>~<guard>".
//
// [Client] ([NewClient], [Options]) covers what changed-block tracking
// needs, with net/http only: VM backups ([Client.StartBackup],
// [Client.WaitBackup], [Client.BackupDisks], [Client.FinalizeBackup]),
// checkpoints, disks, image transfers ([Client.StartTransfer],
// [Client.WaitTransfer], [Client.FinalizeTransfer]) and SSO login
// ([Client.LoginSSO]). Certificates are checked unless turned off
// explicitly; requests that change nothing, or that are safe to repeat, are
// retried after a 5xx or a transport failure. An error answer is an
// [HTTPError] wrapped with a cbt class.
//
// [OpenBackup] runs the backup flow over it (start a backup from a
// checkpoint, wait for ready, read the disk's backup_mode, start an image
// transfer) and reads extents from ovirt-imageio with package rhv/imageio
// (context=zero for a full backup, context=dirty for an incremental one).
// The disk it returns holds the backup until Close, which finalizes the
// transfer and the backup, also after errors; its change ID
// "rhv:checkpoint:<id>~<guard>" is the base of the next incremental. A
// backup the engine made full for the disk (a missing bitmap) answers its
// base with cbt.ErrChangeIDInvalid and a zero base with the full listing.
//
// Checkpoint change IDs cannot lie. A client may choose a backup's
// to_checkpoint_id, so a checkpoint removed and made again under the same
// ID, or the same ID on another VM, would make the engine answer an
// incremental since a later point: the guard is a digest of the VM and disk
// the backup was of, the checkpoint ID and the engine's creation date of the
// checkpoint (GET /vms/{vm}/checkpoints/{id}), read when the backup is
// ready. OpenBackup checks it against the engine before it starts anything:
// a checkpoint the engine no longer knows for the VM, one made at another
// date (re-created), a change ID of another VM or disk, and a change ID
// without the guard ([CheckpointChangeID], or handed out before guards
// existed) are cbt.ErrChangeIDInvalid. A listing since a checkpoint the
// engine made after the backup's own one is cbt.ErrInvalidArgument.
//
// Limits: nothing here has run against a real engine or imageio server
// (none is reachable where the SDK is built); the client was tested against
// a server that follows the documented JSON and errors.
package engine
