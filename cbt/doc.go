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
//	store(d.ChangeID().String()) // the point this backup reached
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
// Platform packages implement package driver and wrap it with NewDisk; the
// in-memory platform memcbt serves tests and examples, and package cbttest
// holds the conformance suite every platform passes.
package cbt
