// Package qemu serves changed-block tracking for qemu/KVM disks offline, from
// qcow2 files: internal snapshot tables, persistent dirty bitmaps and backing
// chains. It is pure Go (no cgo), read-only (it never writes to an image it
// inspects and never takes a lock) and reads metadata only, never guest data.
//
// # Points in time
//
// A Point is one state of an image that a backup can start from or reach,
// written as a change ID of scheme "qcow2":
//
//	qcow2:active            the image as it is now (its header's tables)
//	qcow2:snapshot:NAME     an internal snapshot of the top image, by name or id
//	qcow2:bitmap:NAME       a persistent dirty bitmap of the top image (a base only)
//	qcow2:layer:PATH        a file of the backing chain
//
// Open returns a *cbt.Disk for a point (its name is the image path, its
// capacity the disk size of that point, its granularity the top image's
// allocation unit); its Changes(since) reports:
//
//   - since a snapshot: the clusters whose L1/L2 mapping differs between the
//     snapshot and the disk's point (the copy-on-write rule of qcow2 makes an
//     equal mapping equal data), and the bytes between two different disk
//     sizes; the disk must be at the active state or a snapshot of the top
//     image;
//   - since a bitmap: the bitmap's dirty extents; the disk must be at the
//     active state of the top image (a bitmap is not snapshotted). An in-use,
//     inconsistent or disabled bitmap gives cbt.ErrChangeIDInvalid saying why
//     and what to do; Image.Bitmaps reports the same as Bitmap.Usable/Reason.
//     A qemu bitmap does not record a resize: after a shrink and a grow the
//     bytes between the two sizes read as zeros again with no bit set, and
//     the bitmap keeps no record of the size it started at; take a full backup
//     after shrinking a disk;
//   - since a backing layer: what every layer above it, up to the disk's
//     point, allocates (data or zero), and the bytes beyond the smallest disk
//     size on the way; nothing since the disk's own layer, and a layer above
//     the disk's point gives cbt.ErrInvalidArgument;
//   - since "active": nothing at the active state; anywhere else
//     cbt.ErrChangeIDInvalid ("active" names no fixed point);
//   - with a zero base: every allocated area down the backing chain (a raw
//     base counts where the file system reports data, in 512-byte sectors, or
//     all of it when it cannot tell).
//
// A base that no longer exists (a deleted snapshot or bitmap, a layer that was
// committed or rebased away) gives cbt.ErrChangeIDInvalid: take a full backup.
//
// # Change IDs of snapshots
//
// Snapshot names get reused: a vendor rotating a snapshot "backup-latest"
// deletes and re-creates it before every backup. A change ID naming only
// "backup-latest" would then silently match the new snapshot, and the next
// incremental would miss every write in between. So the ChangeID a snapshot
// disk hands out (and Snapshot.Point) carries the snapshot's creation date:
//
//	qcow2:snapshot:backup-latest#1764518400.123456000
//
// (the id replaces the name when the name is empty). A reference is resolved
// as an exact name first, then as an id; failing both, a trailing
// "#SEC.NSEC" is stripped, the rest resolved the same way, and the snapshot
// found must have that date. When it does not (the snapshot was deleted and
// re-created), the change ID as a base gives cbt.ErrChangeIDInvalid ("take a
// full backup") and as a point to open cbt.ErrNotFound. Plain names and ids
// are accepted too, unguarded.
//
// A disk at the active state hands out no change ID (the zero ChangeID): the
// active state is no fixed point. Take a snapshot, or use a bitmap, to have
// one.
//
// # Change IDs of layers
//
// A layer is a fixed point only while nothing writes to it: while an overlay
// sits on it, qemu only reads it, but a commit (qemu-img commit, a libvirt
// blockcommit) writes the overlay's data into it, and a file may be replaced.
// So the ChangeID a layer disk hands out (and Layer.Point) is its absolute
// path guarded by the file's modification time:
//
//	qcow2:layer:/images/base.qcow2#1764518400.123456789
//
// A layer reference is resolved as an absolute path, the same file as the
// given path, or the name the overlay records; failing these, a trailing
// "#SEC.NSEC" is stripped, the rest resolved the same way, and the file's
// modification time must match. When it does not, the change ID as a base
// gives cbt.ErrChangeIDInvalid and as a point to open cbt.ErrNotFound (a file
// merely copied without its times also gives a full backup: safe, if costly).
// The top image of the chain is still written: a disk at it hands out no
// change ID, and as a base it gives cbt.ErrChangeIDInvalid.
//
// A Disk sees the image as it was when it was opened: reopen it after the
// image changed (a new snapshot, a removed bitmap, a new overlay).
//
// # Running VMs
//
// A running qemu (or qemu-nbd, or qemu-img while it writes) holds OFD locks on
// the files it opens; a file held for writing gives cbt.ErrBusy, unless
// Options.ForceShare is set (Linux only; elsewhere locks are not checked).
// With ForceShare the snapshot tables are reliable (qemu never rewrites them in
// place) but the active tables and bitmaps on disk are not (qemu caches them in
// memory): every listing that would read the active tables of a file held for
// writing gives cbt.ErrBusy, and so does a listing since a bitmap of a top
// image held for writing (Image.Bitmaps reports it not Usable, saying why):
// busy, not a reason for a full backup, since qemu stores the bitmap when the
// VM stops cleanly. A snapshot-to-snapshot listing of the top image works. Use
// the libvirt checkpoint path for running VMs.
//
// # Files
//
// Images and backing files are opened without ever blocking in the open (a
// FIFO opened the ordinary way waits for a writer, forever if none comes),
// and only regular files and block devices (a qcow2 image on a logical
// volume) are read: a FIFO, a socket, a character device or a directory is
// refused before anything is read from it, the message saying what it is.
// Who named the path decides the class: a path the caller passed (OpenImage,
// Open, OpenLayerFile) of such a kind, too long for the system or otherwise
// malformed is cbt.ErrInvalidArgument; a backing file an image names is
// cbt.ErrUnsupported (the image is well formed, but names a file that cannot
// be read as an image here).
//
// # Memory
//
// Nothing is read whole that can be read in pieces. Whatever the image
// (within the limits of the format and of QEMU, which every table is
// checked against before anything is allocated for it):
//
//   - A listing (Disk.Changes) holds at most 40 MiB of image metadata, plus
//     for each file of the chain one or two L2 tables (a cluster each: 64
//     KiB by default, at most 2 MiB) and a 64 KiB window of an L1 table,
//     besides the extents of one page; a few MiB for common images. It reads
//     the L1 entries and L2 tables of the range it lists, never a whole L1
//     table (up to 32 MiB); the check that no two L1 entries share an L2
//     table streams the table once per file and view, holding 4 bytes per L2
//     table (8 in files of 2 TiB or more: at most 32 MiB at QEMU's limit of
//     4 Mi entries); a listing since a bitmap holds its table (at most 8 MiB
//     at QEMU's limit of 512 MiB of bitmap). Resolving a snapshot or a bitmap
//     streams the table and keeps the entries the name matches.
//     Options.L2CacheBytes bounds a cache listings do not use.
//   - Image.AllSnapshots and Image.AllBitmaps hold one entry at a time and
//     24 bytes per entry read (at most 16 MiB in all); Image.Snapshots and
//     Image.Bitmaps hold the lists they return, about the table's size (the
//     names; at most 64 MiB each, the format's limit) plus 150 bytes per
//     entry.
//
// # Errors
//
// Errors wrap a class of package cbt (match with errors.Is) together with the
// underlying error, and their messages start with "qemu:". Malformed metadata
// is cbt.ErrCorrupt, unsupported features cbt.ErrUnsupported; an I/O error
// reading a file is cbt.ErrCorrupt and a file the process may not read
// cbt.ErrUnsupported (the *fs.PathError is wrapped too); a cancelled context
// ends a listing with the context's own error.
package qemu
