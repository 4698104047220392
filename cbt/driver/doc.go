// Package driver defines the narrow interface a platform implements to serve
// changed-block tracking through package cbt.
//
// A platform (vSphere, OCI, qemu, RHV, or the in-memory memcbt) implements
// [Disk]: static facts through Info, and one page of changes at a time through
// ChangedExtents. Everything shared (the paging loop, validation of what the
// driver returns, coalescing across pages, alignment, progress, error wrapping)
// lives once in package cbt, which wraps a driver.Disk in a *cbt.Disk. Users of
// the SDK never call a driver directly.
//
// A driver whose listing holds something across pages (a backup job and its
// NBD connection, as package qemu/libvirt's does; a delta device, as package
// oci's does) also implements [Lister]: cbt then begins one [Listing] per run
// of Changes, asks it for the pages, and ends it exactly once on every path,
// including a caller that stops iterating early or panics.
//
// A driver whose data can be read at its point also implements [Reader];
// Info.MaxRead bounds one read, and Info.NoRead says, for a driver that
// does not read, what to use instead.
//
// # Errors
//
// This package never imports cbt. The error classes are declared here and
// re-exported by cbt under the same names, so a driver returns, for example,
//
//	fmt.Errorf("%w: %w", driver.ErrChangeIDInvalid, platformErr)
//
// and the caller matches it with errors.Is(err, cbt.ErrChangeIDInvalid) while
// errors.As still reaches platformErr. [Class] and [HasClass] tell whether an
// error from a lower layer (a codec, a device or client the caller supplied)
// carries a class already, and [WithClass] classes one that does not, leaving
// context errors and classed errors as they are.
//
// # Pages, not streams
//
// Some drivers walk a stream: qemu/libvirt's live listing reads NBD block
// status from a connection its backup job holds, oci's attached listing (and
// cbtctl's scsi driver) a GET LBA STATUS scan. The contract stays one page per
// call, with cbt streaming the pages to its caller; it does not take a stream
// from the driver. Decided in issue 12, from what the drivers do:
//
//   - Most sources are not streams. vSphere's QueryChangedDiskAreas answers
//     a window per call; qemu and rhv compute the union of their layers
//     window by window (package internal/unionpage), bounded per page so that
//     memory stays bounded; rhv's imageio extents, oci's scanned delta and
//     memcbt answer from memory by binary search. Each would need an adapter
//     from windows to a stream, where one driver (libvirt, a 60-line pager
//     over iter.Pull2) needs one the other way today.
//   - A page says how far it is complete (next), which a stream of extents
//     does not: Progress.Scanned, the check that a driver advances, and a
//     safe resume point across a long unchanged stretch all come from it. A
//     stream contract would have to carry "examined up to" beside the
//     extents: a page again.
//   - Between pages cbt checks the context and holds the close lock only
//     while driver code runs. A pushed stream runs driver code inside the
//     caller's loop, so the lock would be held across the caller's loop body
//     (a Close there would deadlock) unless cbt pulled each extent: what
//     libvirt's pager already does, once, inside its Listing.
//   - What a stream holds is released by Listing.End, exactly once on every
//     path, which is all a stream contract would add for resources. The two
//     SCSI drivers restart the scan at each page's offset instead of holding
//     it: one extra command per page of thousands of extents.
//
// Revisit when a second driver keeps a stream across pages: move libvirt's
// pager into a helper drivers share, not into the contract.
package driver
