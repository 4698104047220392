// Package qemu serves changed-block tracking for qemu/KVM disks offline, from
// qcow2 files: internal snapshot tables, persistent dirty bitmaps and backing
// chains. It is pure Go (no cgo) and read-only: it never writes to an image
// nor takes a lock, and reads metadata only, never guest data. Points the
// caller asks for (OpenNext, DropPoint, PrunePoints) are made and removed by
// qemu's own tools, qemu-img and qemu-io, which must then be installed.
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
//     A bitmap made by OpenNext also refuses a resize since it was made (see
//     "Bitmaps and resizes" below);
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
// # Change IDs that cannot lie
//
// A change ID must never name a different instance of what it named: a
// snapshot deleted and made again under the same name, a bitmap removed and
// added again, a backing file committed into, rebased or replaced by an older
// copy. Each would turn the next incremental into a silent under-report. So
// the change IDs this package hands out carry guards, and a base whose guards
// do not hold gives cbt.ErrChangeIDInvalid (take a full backup; as a point to
// open, cbt.ErrNotFound):
//
//	qcow2:snapshot:NAME#SEC.NSEC#cCHAIN    the snapshot's creation date
//	qcow2:layer:PATH#SEC.NSEC#cCHAIN       the layer file's modification time
//	qcow2:bitmap:NAME#sSIZE#cCHAIN         the disk size when OpenNext made the bitmap
//
// CHAIN is 16 hex digits of a SHA-256 over the modification time and size of
// every backing file below the point: what a read at the point goes through.
// A commit into a backing file (qemu-img commit, a libvirt blockcommit), a
// write into it, a rebase onto another file (or onto a copy whose time
// differs) changes it, so a snapshot of an overlay whose base was committed
// into is refused even though the overlay's own tables did not change. A plain
// copy that keeps times (cp -p, rsync -a) keeps the guard: it reads the same.
// (The id replaces the snapshot's name when the name is empty.)
//
// A snapshot reference is resolved as an exact name, then as an id; failing
// both, the guards are stripped from its end and the rest resolved the same
// way, and the snapshot found must have that date. A layer reference is an
// absolute path, the same file as the given path, or the name the overlay
// records; its guards likewise.
//
// A bare name or path (qcow2:snapshot:NAME, qcow2:bitmap:NAME,
// qcow2:layer:PATH) is accepted as a point to open, but as a base only with
// Options.TrustUnguarded: the caller vouches that names are never reused.
// Without it, a bare base gives cbt.ErrChangeIDInvalid. A change ID handed out
// before chain guards existed ("NAME#SEC.NSEC") is accepted only where no
// backing file is below the point. Points above a backing file on a block
// device hand out no change ID (a device has no modification time that a
// commit would change), unless Options.TrustUnguarded.
//
// A disk at the active state hands out no change ID (Disk.ChangeID returns an
// error saying so): the active state is no fixed point. Use OpenNext, which
// makes the point for the backup, or open the disk at a snapshot. Nor does a
// disk at the top layer of a chain (it is the active state).
//
// # Backups that stay incremental: OpenNext and the rotation
//
// OpenNext makes the next point on the image with qemu-img (by default a
// persistent dirty bitmap, with NextOptions.Snapshot an internal snapshot)
// under a name no point had before, PREFIX-YYYYMMDDTHHMMSSZ-XXXXXXXX, and
// returns the disk whose ChangeID names it. The point is made before anything
// is listed, so a write that lands while the backup runs is in both the
// listing and the next point: listed twice, never lost. Each backup:
//
//	d, err := qemu.OpenNext(ctx, "vm.qcow2", nil, nil)       // makes cbt-...; err: cbt.ErrBusy if the VM runs
//	since, _ := cbt.ParseChangeID(stored)                     // the last backup's change ID ("" the first time: zero, a full backup)
//	for e, err := range d.Changes(ctx, since, nil) { ... }    // ErrChangeIDInvalid: list again with a zero since
//	next, err := d.ChangeID()                                 // store it once everything listed is copied
//	d.Close()                                                 // removes the new point if no listing ran to its end
//	qemu.PrunePoints(ctx, "vm.qcow2", []cbt.ChangeID{next}, nil, nil) // drops the previous point
//
// A bitmap's identity is its name: nothing in a qcow2 image records when a
// bitmap was made. OpenNext's names hold the time and 32 random bits, so no
// tool makes one again by itself; a bitmap removed and added again under the
// very name OpenNext gave it (by hand, copying the name) cannot be told apart.
//
// PrunePoints removes only points of OpenNext's name form (the user's own
// bitmaps and snapshots are never touched), so it also drops what a failed
// run left. DropPoint removes one point by its change ID. Keep the previous
// point until the new change ID is stored: a backup that fails after the
// listing lists since the previous point again.
//
// # Bitmaps and resizes
//
// A qemu dirty bitmap follows a resize of its image without recording it: a
// shrink drops the bits beyond the new size and a grow adds clear ones, so
// after a shrink and a grow back, what the shrink dropped reads as zeros with
// no bit set, and nothing in the image tells. A bitmap OpenNext makes
// therefore starts with one bit set, the granule of the disk's last byte (its
// tail canary, set with qemu-io and qemu-img bitmap --merge from a scratch
// image); a shrink clears it for good. A listing since such a bitmap refuses
// (cbt.ErrChangeIDInvalid) when the disk size differs from the size in its
// change ID or the canary is clear. The cost is that every incremental lists
// that one granule. A bare bitmap name, trusted with Options.TrustUnguarded,
// has no such guard: after a shrink and a grow, its listing misses what the
// shrink dropped. Do not trust bare bitmap names on disks that may shrink.
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
