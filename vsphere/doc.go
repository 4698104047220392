// Package vsphere will serve changed-block tracking for VMware vSphere disks
// through govmomi: listing a VM's disks and whether CBT is enabled, enabling
// it, taking and removing snapshots, and opening a disk at a snapshot as a
// *cbt.Disk whose Changes pages through QueryChangedDiskAreas until the
// capacity (change IDs of scheme "vsphere", the snapshot disk backing's
// changeId). Its subpackage vcsimcbt will add a faithful CBT model to
// govmomi's simulator.
//
// Status: not built yet. Nothing in this package works today; see the
// project's README for the platform matrix.
package vsphere
