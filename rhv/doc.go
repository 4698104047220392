// Package rhv serves changed-block tracking for Red Hat Virtualization /
// oVirt disks: it reads a disk's volume chain (engine rows, LV tags, .meta
// files, vdsm-tool dumps, REST), validates it, and reports what the COW
// layers above a snapshot volume allocated. Change IDs are of scheme "rhv"
// ([Scheme]): "volume:<uuid>..." for the chain, "checkpoint:<id>..." for
// the backups of package rhv/engine.
//
// The APIs of a running oVirt are in subpackages:
//
//   - [github.com/changedblocks/sdk/rhv/engine]: the engine's REST client
//     (engine.Client) and oVirt 4.4+'s incremental backup flow on it
//     (engine.OpenBackup: a backup from a checkpoint, its image transfer,
//     imageio's dirty extents), with its checkpoint change IDs;
//   - [github.com/changedblocks/sdk/rhv/imageio]: the client of an image
//     transfer's ovirt-imageio server (imageio.Client: what the ticket
//     offers, its zero and dirty extents).
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
// Limits: nothing here has run against a real engine or vdsm host (none is
// reachable where the SDK is built); the readers follow vdsm's and the
// engine's formats as their sources define them.
package rhv
