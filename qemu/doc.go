// Package qemu serves changed-block tracking for qemu/KVM disks offline, from
// qcow2 files: internal snapshot tables, persistent dirty bitmaps and backing
// chains. It is pure Go (no cgo), read-only (it never writes to an image it
// inspects) and reads metadata only, never guest data.
//
// # Points in time
//
// A Point is one state of an image that a backup can start from or reach,
// written as a change ID of scheme "qcow2":
//
//	qcow2:active            the image as it is now (its header's tables)
//	qcow2:snapshot:NAME     an internal snapshot, by name or by id
//	qcow2:bitmap:NAME       a persistent dirty bitmap (as a base only)
//	qcow2:layer:PATH        a backing file of the image's chain
//
// Open returns a *cbt.Disk for a point; its Changes(since) reports:
//
//   - since a snapshot: the clusters whose L1/L2 mapping differs between the
//     snapshot and the disk's point (the copy-on-write rule of qcow2 makes an
//     equal mapping equal data), clipped to the disk size each view records;
//   - since a bitmap: the bitmap's dirty extents (an in_use, inconsistent or
//     disabled bitmap gives cbt.ErrChangeIDInvalid saying why);
//   - since a backing layer: what the layers above it allocate (data or zero);
//   - with a zero base: every allocated area down the backing chain.
//
// # Running VMs
//
// An image a running qemu holds for writing (it keeps OFD locks on the file)
// gives cbt.ErrBusy, unless Options.ForceShare is set. With ForceShare the
// snapshot tables are reliable (qemu never rewrites them in place) but the
// active tables and bitmaps on disk are not: qemu caches them in memory.
// Use the libvirt checkpoint path for running VMs.
package qemu
