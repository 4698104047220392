// Package vsphere serves changed-block tracking (CBT) for VMware vSphere
// disks through govmomi (v0.56.0), over a *vim25.Client the caller logged in.
//
// # What it does
//
//   - ListDisks reads a VM's disks (device key, label, capacity, backing kind:
//     flat, sparse, SeSparse, RDM virtual or physical, raw device; disk mode
//     and independence) and whether change tracking is supported and enabled.
//   - EnableCBT turns tracking on (ReconfigVM changeTrackingEnabled=true,
//     waiting for the task and re-reading the config). On a powered-on VM the
//     setting takes effect only at the next stun/unstun cycle (power on,
//     snapshot create, remove or revert, migration, resume); EnableResult
//     says so, and EnableOptions.StunWithSnapshot makes the cycle at once
//     with a temporary snapshot. Hardware versions below 7, physical RDMs and
//     independent disks cannot be tracked: cbt.ErrUnsupported.
//   - CreateSnapshot, ReadSnapshot and RemoveSnapshot take, read and remove a
//     VM snapshot; a Snapshot lists its copy of the disks with the change ID
//     each carries.
//   - OpenDisk returns the disk at a snapshot as a *cbt.Disk; OpenFCD does
//     the same for a first-class disk's snapshot through VSLM. A VM's current
//     state (no snapshot) is not served: it is no fixed point.
//
// # Change IDs
//
// The change ID of a disk at a snapshot is the changeId of the snapshot's
// disk backing, "<change-epoch UUID>/<n>", of scheme "vsphere", followed by
// the disk's capacity at that point:
//
//	vsphere:52 05 a2 ce 6d 6d c9 59-d3 2e ad 19 e3 96 73 6d/5#10737418240
//
// Store it (cbt.ChangeID.String) with the backup, and the VM, the snapshot's
// disk device key and the backup's data; remove the snapshot. The next backup
// takes a new snapshot, opens the disk at it and lists Changes since the
// stored change ID. A plain changeId (without the capacity) is accepted too;
// NewChangeID builds one from a changeId and a capacity stored elsewhere.
//
// Before asking the server, a base is refused with cbt.ErrChangeIDInvalid
// (take a full backup) when its UUID differs from the disk's (tracking was
// reset, the change ID is another disk's, or the disk was replaced under its
// device key: another VMDK has its own tracking file, so its own UUID) or
// when the disk's capacity changed since; and with cbt.ErrInvalidArgument
// when its number after '/' is larger than the disk's (a listing backwards:
// the base is a later point).
//
// A change ID names a point of the disk's tracking history, not the snapshot
// it was read from: it stays a correct base after its snapshot is removed,
// and a snapshot taken again under the same name gets a new change ID. What
// the change IDs cannot show: VMware documents (the KB "Reverting to a
// pre-existing snapshot under specific conditions can cause incremental
// backups based on CBT to become inconsistent") that after a VM is reverted
// to a snapshot, incrementals since a change ID taken before the revert may
// be wrong, and asks for a full backup after a revert; the same holds for a
// disk put back from an older copy with its tracking file. When the revert
// took the disk's number back below the base's, the listing is refused as
// above; when the number has grown past it again, nothing in the change IDs
// tells, so take a full backup after any revert or restore of the VM. A zero base asks for the areas in use ("*"), which ESXi
// answers only for VMFS disks whose tracking was enabled while the VM had no
// snapshot; otherwise it fails with cbt.ErrChangeIDInvalid and the first
// backup must read the whole disk.
//
// # Paging
//
// QueryChangedDiskAreas answers a window of the disk at a time (2 GiB on
// ESXi), at most about 2000 areas per answer, and a window may be empty while
// more of the disk remains. A disk of this package answers each page of
// package cbt with one call (more only to retry) and stops the page where the
// server's window stops (StartOffset+Length); cbt asks again from there until
// the capacity of the snapshot's disk. Neither an empty window nor a full or
// short answer ends a listing. A window that does not advance, or that starts
// after the offset asked (leaving bytes unreported), is cbt.ErrCorrupt; areas
// are clipped to the capacity, areas the server places beyond its own window
// are left to the window that covers them, and unsorted or overlapping areas
// are merged.
//
// # Errors and retries
//
// Errors wrap a class of package cbt (match with errors.Is) and a *FaultError
// holding the vSphere method, the fault and govmomi's error (reach it with
// errors.As); messages start with "vsphere:". Faults map as follows:
//
//	FileFault key vim.hostd.vmsvc.cbt.noTrack                cbt.ErrNotEnabled
//	FileFault key ...cbt.noEpoch or ...cbt.cannotGetChanges  cbt.ErrChangeIDInvalid (take a full backup)
//	InvalidArgument changeId                                 cbt.ErrChangeIDInvalid (take a full backup)
//	InvalidArgument startOffset (or none)                    cbt.ErrInvalidArgument
//	InvalidArgument deviceKey, snapshotId                    cbt.ErrNotFound
//	NotFound, ManagedObjectNotFound, FileNotFound            cbt.ErrNotFound
//	MethodNotFound, NotSupported, NoPermission               cbt.ErrUnsupported
//	InvalidState, TaskInProgress, InvalidPowerState          cbt.ErrBusy
//	NotAuthenticated                                         log in again (Options.Relogin) and retry;
//	                                                         cbt.ErrInvalidArgument without a hook
//	SystemError, other FileFaults, transport errors          retry with backoff (Options.Retries),
//	                                                         then cbt.ErrBusy
//
// A retried or re-logged call repeats the same offset, so a listing goes on
// where it stopped; nothing is missed or repeated. A FileFault that persists
// may mean a broken tracking file: reset tracking and take a full backup. A
// cancelled context ends everything with the context's own error, also
// during a backoff.
//
// # Testing
//
// Package vcsimcbt adds change tracking to govmomi's simulator (vcsim), which
// has none; this package's tests and example run on it.
package vsphere
