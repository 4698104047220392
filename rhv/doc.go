// Package rhv serves changed-block tracking for Red Hat Virtualization /
// oVirt disks: it reads a disk's volume chain (engine rows, LV tags, .meta
// files, vdsm-tool dumps, REST), validates it, reports what the COW layers
// above a snapshot volume allocated, and speaks to imageio for the dirty
// extents of oVirt 4.4+ incremental backups. Change IDs are of scheme "rhv":
// "volume:<uuid>..." for the chain, "checkpoint:<id>" for backups.
//
// Volume chains: readers turn what each source says into []Volume —
// [ReadEngine] (the engine's images rows as psql prints them), [ReadREST]
// (disksnapshots JSON), [ReadLVs] (a block domain's LV tags) completed by
// [ReadMetadataSlots] (its metadata LV), [ReadMetaDir] (a file domain's .meta
// files; [ParseMetadata] parses one record exactly as vdsm does) and
// [ReadDump] (vdsm-tool dump-volume-chains, text or JSON). [BuildChain] and
// [BuildChains] order them base first by the metadata parent (vdsm's truth)
// and return [Finding] values, not errors: the six chain errors of
// dump-volume-chains under vdsm's names, ILLEGAL, LOCKED, half-created and
// removed volumes, PU_ tags that disagree with the metadata, invalid or
// cleared records. A broken chain still comes back (Ordered false). [Compare]
// reports where two sources (the engine and the storage) disagree.
//
// Changes from the snapshot chain: [OpenVolume] returns the disk at a volume
// of a chain (default the leaf), reading the volumes' qcow2 tables offline
// from files or block devices found by [VolumeOptions] ([ImagesPath] for a
// file domain, [DirPath] for /dev/<domain>). Its Changes(since volume B) is
// the union of what the COW layers above B allocated (zero clusters
// included), a zero base everything allocated down the chain (a RAW base all
// of it). Each qcow2 backing name must agree with the metadata parent. The
// disk at an internal volume hands out "rhv:volume:<uuid>#<child>~<guard>"
// (see [VolumePoint]); the leaf, still written, hands out none. Nothing is
// ever written to a volume.
//
// Volume change IDs cannot lie: a listing since one is refused with
// cbt.ErrChangeIDInvalid ("take a full backup"), never listed short, when
// the point may no longer hold the state it named:
//
//   - the base volume was merged away (no longer in the chain), merged into
//     (its child is another volume now), or is now the leaf;
//   - the guard differs: a digest of every volume from the chain's base up
//     to the point, taken when the change ID was handed out and again when
//     listing: the volumes' IDs and order, their qcow2 header facts (size,
//     backing file and format, granularity) and allocation (every range
//     their own tables map), and for regular files (file domains) their size
//     and modification time in nanoseconds. A volume at or below the point
//     written, replaced, restored from an older copy or re-created under its
//     UUID, the chain rebuilt under the same UUIDs, a volume below rebased,
//     or a snapshot below the point deleted (its volume merged: the view at
//     the point is kept, but nothing proves it) changes the guard. Deleting
//     an older snapshot therefore makes the next backup full: delete
//     snapshots below the stored point right before a full backup, or keep
//     them. The metadata's CTIME is not part of it: a copy carries the old
//     one back, lvs tags and vdsm-tool's text do not carry it, and the
//     files' own state changes either way;
//   - the change ID carries no guard: a bare "rhv:volume:<uuid>" from
//     [VolumeChangeID], or "volume:<uuid>#<child>" handed out before guards
//     existed. Nothing proves those safe, so they are refused with a message
//     that says to take a full backup and store the change ID handed out
//     now.
//
// Limits of the guard: on block devices (an activated block domain) a
// device's modification time says nothing (the node is made anew at each
// activation), so a qcow2 volume is guarded by its allocation alone and a
// RAW base by its size: an LV overwritten in place with older data of the
// same allocation (dd of an older copy) is not detected. Rewriting the
// bitmaps of an internal volume on a file domain (removing an incremental
// backup checkpoint) changes its modification time and makes the next
// listing since a volume change ID refused (a full backup, never a short
// one).
//
// Incremental backup (oVirt 4.4+): [OpenBackup] runs the engine's backup
// flow over REST JSON with [EngineClient] (start a backup from a checkpoint,
// wait for ready, read the disk's backup_mode, start an image transfer) and
// reads extents from ovirt-imageio with [ImageioClient] (context=zero for a
// full backup, context=dirty for an incremental one). The disk it returns
// holds the backup until Close, which finalizes the transfer and the backup,
// also after errors; its change ID "rhv:checkpoint:<id>~<guard>" is the base
// of the next incremental. A backup the engine made full for the disk (a
// missing bitmap) answers its base with cbt.ErrChangeIDInvalid and a zero
// base with the full listing. Certificates are checked unless turned off
// explicitly.
//
// Checkpoint change IDs cannot lie either. A client may choose a backup's
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
// Limits: nothing here has run against a real engine, vdsm host or imageio
// server (none is reachable where the SDK is built); the readers follow
// vdsm's and the engine's formats as their sources define them, and the
// clients were tested against servers that follow the documented JSON and
// errors.
package rhv
