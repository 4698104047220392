// Package cbt is the portable changed-block tracking API: which byte ranges
// of a virtual disk changed between two points in time, on vSphere, OCI Block
// Volumes, qemu/KVM and RHV/oVirt alike.
//
// A platform package hands out a *Disk: a disk at one point in time (a
// snapshot, a backup, a bitmap, a checkpoint). Its Changes method lists what
// changed since an earlier point, named by a ChangeID that the previous backup
// stored:
//
//	d, err := qemu.OpenSnapshot(path, "s2", nil) // or vsphere..., oci..., rhv..., memcbt...
//	if err != nil { ... }
//	defer d.Close()
//	since, err := cbt.ParseChangeID(stored) // "" (the zero ChangeID) asks for everything allocated
//	for e, err := range d.Changes(ctx, since, nil) {
//		if errors.Is(err, cbt.ErrChangeIDInvalid) {
//			// the base is stale or tracking was reset: take a full backup
//		}
//		if err != nil { ... }
//		copyRange(e.Offset, e.Length)
//	}
//	next, err := d.ChangeID() // the point this backup reached (an error: this point can be no base)
//	store(next.String())
//
// # Guarantees
//
// Extents come in ascending order, never overlapping, never adjacent, never
// empty, inside [0, Capacity). A listing may report unchanged bytes (up to
// the platform's Granularity, and whatever Alignment and CoalesceGap ask
// for); it never leaves a changed byte out. Package cbt enforces the order and
// bounds on every platform's answer (a violation is ErrCorrupt naming the
// driver), pages through the platform until the whole range is covered, and
// merges what pages repeat. A listing resumed at StartOffset, or limited with
// Length, is exactly the matching part of the whole listing, so a copy can be
// resumed, or split into ranges copied in parallel.
//
// # Reading
//
// Where the platform serves data, Disk.ReadAt reads the disk at its point:
// the same point its listings end at, for as long as the Disk is open, so
// that what was listed and what is read can never describe two different
// points. Reads are safe for concurrent use and take a context; Readable
// says up front whether a disk reads and, if not, what to use instead. The
// platforms read as they gain a data plane (memcbt reads today).
//
// # Errors
//
// Errors wrap one of the classes ErrChangeIDInvalid, ErrNotEnabled,
// ErrNotFound, ErrUnsupported, ErrInvalidArgument, ErrCorrupt, ErrBusy and
// ErrClosed (match with errors.Is), and, where a platform produced them, the
// platform's own error (reach it with errors.As). Errors from a Disk are
// *Error values naming the operation and the disk. A cancelled or expired
// context ends a listing with the context's own error, unwrapped.
//
// # Platforms
//
// Each platform package returns *Disk values (change-ID scheme in brackets):
//
//   - github.com/changedblocks/sdk/vsphere: VM disks at snapshots and
//     first-class disks, through QueryChangedDiskAreas ("vsphere");
//   - github.com/changedblocks/sdk/qemu: qcow2 images offline: internal
//     snapshots, persistent dirty bitmaps, backing chains ("qcow2");
//   - github.com/changedblocks/sdk/qemu/libvirt: running (and shut-off)
//     qemu/KVM domains through libvirt checkpoints and pull-mode backups
//     over NBD; the only cgo package ("libvirt");
//   - github.com/changedblocks/sdk/rhv: RHV / oVirt volume chains, and
//     incremental backups through the engine and imageio ("rhv");
//   - github.com/changedblocks/sdk/oci: OCI block volumes between two
//     backups, scanned with SCSI GET LBA STATUS ("oci");
//   - github.com/changedblocks/sdk/cbt/memcbt: an in-memory platform for
//     tests and examples ("mem").
//
// Platform packages implement package driver and wrap it with NewDisk;
// package cbttest holds the conformance suite every platform passes.
//
// # Points that can be no base
//
// Not every point a Disk can be opened at can be the base of a later
// incremental: the active state of an image that is still written, the leaf
// volume of a chain, a live disk listed without making a checkpoint. For
// those, ChangeID returns an error (ErrUnsupported) saying why and how to
// open the disk so that it has a change ID (qemu.OpenNext, a snapshot,
// libvirt.DiskOptions.NewCheckpoint). A backup that stored an empty change ID
// instead would silently make the next one a full backup.
package cbt
