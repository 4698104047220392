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
// disk at an internal volume hands out "rhv:volume:<uuid>#<child>" (see
// [VolumePoint]): a base merged away, merged into (its child changed) or now
// the leaf gives cbt.ErrChangeIDInvalid. The leaf, still written, hands out
// none. Nothing is ever written to a volume.
//
// Incremental backup (oVirt 4.4+): [OpenBackup] runs the engine's backup
// flow over REST JSON with [EngineClient] (start a backup from a checkpoint,
// wait for ready, read the disk's backup_mode, start an image transfer) and
// reads extents from ovirt-imageio with [ImageioClient] (context=zero for a
// full backup, context=dirty for an incremental one). The disk it returns
// holds the backup until Close, which finalizes the transfer and the backup,
// also after errors; its change ID "rhv:checkpoint:<id>" is the base of the
// next incremental. A backup the engine made full for the disk (a missing
// bitmap) answers its base with cbt.ErrChangeIDInvalid and a zero base with
// the full listing. Certificates are checked unless turned off explicitly.
//
// Limits: nothing here has run against a real engine, vdsm host or imageio
// server (none is reachable where the SDK is built); the readers follow
// vdsm's and the engine's formats as their sources define them, and the
// clients were tested against servers that follow the documented JSON and
// errors.
package rhv
