// Package oci will serve changed-block tracking for Oracle Cloud
// Infrastructure Block Volumes: it creates a volume from the delta between two
// volume backups, attaches it by iSCSI, scans it with SCSI GET LBA STATUS over
// SG_IO to find the mapped (changed) blocks, and deletes the volume on every
// path. Change IDs are of scheme "oci" (the backup OCID).
//
// Status: not built yet. Nothing in this package works today; see the
// project's README for the platform matrix.
package oci
