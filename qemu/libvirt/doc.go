// Package libvirt serves changed-block tracking for running qemu/KVM guests
// through libvirt: checkpoints (persistent dirty bitmaps kept by qemu in the
// guest's qcow2 images) and pull-mode backup jobs whose NBD export carries
// the dirty bitmap as a qemu:dirty-bitmap meta context, read by the SDK's
// pure-Go NBD client. It is the SDK's only cgo package (libvirt.org/go/libvirt);
// build it with libvirt's headers (libvirt-dev) or, without them, with
// -tags libvirt_dlopen, which loads libvirt.so.0 at run time. Without cgo
// (CGO_ENABLED=0) importing it fails to compile, with an undefined identifier
// that says how to build it; a program that must also build without cgo puts
// its use of this package behind //go:build cgo.
//
// # Checkpoints
//
// Conn.CreateCheckpoint makes a checkpoint of a running domain; each names
// its parent, the domain's latest one, so successive checkpoints form a
// chain (Conn.Checkpoints lists it, parents first). Conn.DeleteCheckpoint
// merges a checkpoint's bitmap into its parent's; MetadataOnly drops
// libvirt's record of a checkpoint whose bitmap is already gone. A transient
// domain forgets its checkpoints when it stops: save Checkpoint(...).XML and
// bring them back, parents first, with Conn.RedefineCheckpoint, which asks
// libvirt to check the bitmaps (REDEFINE_VALIDATE).
//
// # Changes
//
// Conn.OpenDisk returns a domain disk as a *cbt.Disk of scheme "libvirt".
// Changes(since) on a running or paused domain starts a pull-mode backup job
// (incremental since the checkpoint; DiskOptions.NewCheckpoint makes the next
// checkpoint in the same call, and the disk's ChangeID names it), serves the
// export on a unix socket in a private 0700 directory holding the job's
// scratch file, and reads qemu:dirty-bitmap:backup-<target> (or the bitmap
// libvirt reports) over NBD. The job is aborted and its socket and scratch
// file removed when the listing ends, on every path: done, failed, cancelled,
// stopped early by the caller, or a panic in the caller's loop. A zero since
// lists the allocated areas. DiskOptions.OnExport hands the caller a reader
// of the job's export, the disk's data at the job's point in time, to copy
// the extents from while iterating.
//
// On a shut-off domain, the checkpoint's bitmap is read from the qcow2 image
// itself (package qemu), with no daemon job; libvirt makes no checkpoints of
// shut-off domains, so NewCheckpoint gives cbt.ErrUnsupported there.
//
// # Change IDs
//
// A change ID names a checkpoint and carries guards:
// "checkpoint:NAME#tSECS#gNONCE#dUUID": the checkpoint's creation time, the
// nonce this package writes into the description of the checkpoints it makes
// (CreateCheckpoint, NewCheckpoint: "cbt-guard:NONCE"), and its domain's
// UUID. A listing since a change ID is refused with cbt.ErrChangeIDInvalid
// (take a full backup), never listed short, when:
//
//   - the checkpoint is gone (deleted, or its domain undefined and defined
//     again: undefining drops the checkpoint metadata);
//   - a checkpoint of that name is another one: deleted and made again, even
//     within the same second (the nonce tells them apart; creationTime counts
//     whole seconds), or on another domain (the UUID);
//   - the disk is another file or device than when the checkpoint was made
//     (the domain definition libvirt saves with the checkpoint names it): a
//     disk replaced under its target holds no bitmap of the checkpoint, or
//     one of its name that did not record the writes since (an external
//     snapshot taken since is fine: the old file is in the backing chain);
//   - the checkpoint does not track the disk, or its bitmap is missing or was
//     not saved cleanly (libvirt's "checkpoint inconsistent").
//
// A base later than the checkpoint the disk is opened at (DiskOptions.At) is
// a backwards listing, refused with cbt.ErrInvalidArgument: the creation
// times, or within one second the chain of parents, tell the order.
//
// Limits of these guards (take a full backup after any of these):
//
//   - A checkpoint made by other tools (virsh checkpoint-create) has no
//     nonce: deleted and made again under its name within the same second,
//     it cannot be told apart. Make checkpoints with this package.
//   - The bitmap lives in the image, out of libvirt's sight: a bitmap of the
//     checkpoint's name removed and added again with qemu-img, or an image
//     put back from an older copy at the same path (with the bitmaps it held
//     then), cannot be detected by libvirt or by this package, live or
//     offline; its listing misses what its bitmap did not record. Never edit
//     the bitmaps of a libvirt domain by hand, and give checkpoints unique
//     names (a checkpoint name used once is never confused by an older copy).
//   - A bare "checkpoint:NAME" (no guard) is accepted as the caller's word
//     that the checkpoint was not made again since.

// # Snapshots
//
// Conn.Snapshots lists a domain's snapshots; Conn.OpenSnapshotDisk opens a
// disk at an internal snapshot with package qemu (scheme "qcow2"), whose
// snapshot diffs work offline and while the domain runs.
//
// # Limits
//
// Only qcow2 disks can be tracked (libvirt keeps bitmaps in qcow2 images
// only); other disks give cbt.ErrUnsupported: copy them in full. One backup
// job runs on a domain at a time, so list a domain's disks one after the
// other; a checkpoint covers every qcow2 disk of the domain.
package libvirt
