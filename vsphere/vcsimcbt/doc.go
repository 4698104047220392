// Package vcsimcbt adds changed-block tracking (CBT) to govmomi v0.56.0's
// simulator (vcsim), which has none: vcsim answers QueryChangedDiskAreas with
// MethodNotFound and leaves every disk backing's changeId empty. Backup vendors
// and the SDK's own vsphere package use it to test paging loops, change-ID
// handling and fault handling against the behaviour ESXi documents, without a
// real host.
//
// # Wiring
//
// A Tracker hooks into a simulator Registry (Registry.AddHandler) to stamp
// change IDs into disk backings, and wraps a client's RoundTripper to answer
// QueryChangedDiskAreas; every other method goes to vcsim unchanged:
//
//	simulator.Test(func(ctx context.Context, c *vim25.Client) {
//		tr, err := vcsimcbt.New(simulator.Map(ctx), nil)
//		...
//		defer tr.Close()
//		tr.Install(c) // c.RoundTripper = tr.Wrap(c.RoundTripper)
//		// enable CBT (ReconfigVM changeTrackingEnabled=true), snapshot,
//		// tr.Write(vm, 204, off, n), snapshot again, then page through
//		// methods.QueryChangedDiskAreas with the first snapshot's changeId.
//	})
//
// (Wrapping the simulator's VirtualMachine object with Map().Put instead
// crashes CreateSnapshot in v0.56.0: the snapshot task type-asserts the
// registry's object to *simulator.VirtualMachine.)
//
// # Change IDs and tracking
//
// A change ID has the shape ESXi hands out,
// "<16 hex bytes as 'xx xx xx xx xx xx xx xx-xx xx xx xx xx xx xx xx'>/<n>",
// for example "52 05 a2 ce 6d 6d c9 59-d3 2e ad 19 e3 96 73 6d/5". The UUID
// part names a tracking generation of one disk (it changes on every tracking
// reset); n names a point in time within it. Points are handed out when
// tracking starts, at every snapshot (the snapshot's disk backings carry its
// change ID; the VM's current backings are restamped with the same one) and
// at every reset.
//
// Tracking follows the VM's config.changeTrackingEnabled, which ReconfigVM
// sets. On a powered-off VM it takes effect at once. On a powered-on VM it
// takes effect at the next stun/unstun cycle (power on, snapshot create,
// remove or revert), as the VDDK guide documents; vcsim itself does not
// enforce this, the Tracker does. Until then the disks are not tracked and
// queries get FileFault vim.hostd.vmsvc.cbt.noTrack. Options.EnableImmediately
// makes enabling immediate on every VM. A disk added while tracking is in
// effect is tracked from then on; physical-mode RDMs and independent disks
// are never tracked (KB 320557) and carry no change ID. A disk whose VMDK
// changes under the same device key (removed and another added with its key,
// or its backing pointed at another file) is another disk: its tracking
// starts afresh under a new UUID, as a new VMDK has its own tracking file.
//
// Guest writes exist only through Tracker.Write and Tracker.WriteAll (vcsim
// has no guest I/O).
// Every write is recorded with the point it follows, rounded out to the
// tracking block size (Options.BlockSize) for answers and kept exact for
// ground truth (Tracker.Written).
//
// # Answers
//
// An answer covers the window [startOffset, min(startOffset+Options.Window,
// capacity)) and returns its StartOffset and Length, as ESXi does (2 GiB
// windows by default). When more than Options.MaxExtents (default 2000)
// extents fall in the window, the answer stops at the end of the last
// extent it returns, and its Length says so. A window with no change is
// answered with an empty ChangedArea even when more of the disk remains.
// Extents that straddle startOffset are clipped to it; adjacent blocks are
// merged. The capacity is the one of the queried snapshot's copy of the disk
// (or of the VM's current disk when the request names no snapshot).
//
// "*" answers the areas in use: everything written up to the queried point,
// including writes from before tracking was enabled (ESXi pre-fills the ctk
// file with the allocated blocks). It requires that the VM had no snapshot
// when tracking was enabled; otherwise it fails with FileFault
// vim.hostd.vmsvc.cbt.noEpoch.
//
// # Faults
//
// Faults arise where the notes on ESXi say they do (see Tracker.Wrap for the
// full list): noTrack when tracking is off at the queried point, noEpoch for
// "*" as above, cannotGetChanges when the change ID's UUID belongs to another
// tracking generation (after a reset), InvalidArgument naming changeId,
// startOffset, deviceKey or snapshotId, and NotAuthenticated or
// ManagedObjectNotFound from vcsim itself (the query is first dispatched to
// vcsim, which checks the session and the VM reference). Any fault, including
// NotFound and SystemError, can also be injected for the Nth call with
// Tracker.FailCall (an injected NotAuthenticated also logs the session out,
// so the client must log in again, as after a real expiry). Tracker.Calls
// counts the calls, so tests can assert a client makes the minimal number
// (Tracker.MinimalCalls).
//
// Because every query is first dispatched to vcsim, vcsim logs one line per
// call ("... does not implement: QueryChangedDiskAreas") through the standard
// logger.
//
// # Resize
//
// The model reads disk capacities from the simulator: a ReconfigVM that grows
// a disk changes the capacity of later snapshots and of the current disk,
// while older snapshots keep theirs. The grown area counts as changed for
// queries spanning the resize (a false positive the API allows; ESXi's own
// answer there is undocumented, and a capacity change between base and target
// calls for a full backup anyway, notes §3.6).
//
// # Not modelled
//
// Revert to snapshot does not roll back recorded writes; first-class disks
// (VSLM) are not served; the VM's own current disk is answered only for
// powered-off VMs, as the API documents (a nil snapshot on a powered-on VM
// gets InvalidArgument snapshotId).
package vcsimcbt
