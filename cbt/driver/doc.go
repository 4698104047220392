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
// NBD connection, as package qemu/libvirt's does) also implements [Lister]:
// cbt then begins one [Listing] per run of Changes, asks it for the pages,
// and ends it exactly once on every path, including a caller that stops
// iterating early or panics.
//
// This package never imports cbt. The error classes are declared here and
// re-exported by cbt under the same names, so a driver returns, for example,
//
//	fmt.Errorf("%w: %w", driver.ErrChangeIDInvalid, platformErr)
//
// and the caller matches it with errors.Is(err, cbt.ErrChangeIDInvalid) while
// errors.As still reaches platformErr.
package driver
