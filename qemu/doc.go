// Package qemu will serve changed-block tracking for qemu/KVM disks: offline
// from qcow2 files (internal snapshot tables, persistent dirty bitmaps,
// backing chains), read-only and in pure Go; and, in a cgo subpackage, for
// running VMs through libvirt checkpoints, pull-mode backup jobs and NBD
// block status. Change IDs are of scheme "qcow2" and "libvirt".
//
// Status: not built yet. Nothing in this package works today; see the
// project's README for the platform matrix.
package qemu
