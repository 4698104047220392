// Package rhv will serve changed-block tracking for Red Hat Virtualization /
// oVirt disks: it reads a disk's volume chain (engine rows, LV tags, .meta
// files, vdsm-tool dumps, REST), validates it, reports what the COW layers
// above a snapshot volume allocated, and speaks to imageio for the dirty
// extents of oVirt 4.4+ incremental backups. Change IDs are of scheme "rhv"
// (a volume UUID or checkpoint ID).
//
// Status: not built yet. Nothing in this package works today; see the
// project's README for the platform matrix.
package rhv
