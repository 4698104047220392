// Package backup writes backups a user restores with qemu's own tools: a
// full backup is a standalone qcow2 file, each incremental a qcow2 overlay
// whose backing file is the previous backup (recorded by its name relative
// to the overlay, so a chain can move as a directory), and each file has a
// JSON manifest beside it (FILE.json) that says what it holds: the source
// disk, the point it was taken at and the change ID to store for the next
// incremental, the base it was taken since, the extents copied and, per
// chunk, a SHA-256.
//
//	m, err := backup.Full(ctx, d, "/backups/vm1/0001.qcow2", nil)
//	// store m.ChangeID; next time, with the disk at a later point:
//	m, err = backup.Incremental(ctx, d2, since, "/backups/vm1/0002.qcow2", "/backups/vm1/0001.qcow2", nil)
//	// restore: qemu-img convert -O raw /backups/vm1/0002.qcow2 disk.raw
//
// The copy is package copier's (parallel reads, bounded memory, progress);
// the qcow2 files are written by the SDK's own writer, which writes only
// these backup files and never a source image. A file is written under a
// temporary name and renamed into place, with its manifest, only when it is
// whole and synced: a failed or cancelled backup leaves nothing behind, and
// a file at a backup's name is always a whole backup.
//
// An incremental checks that the previous backup's manifest names the base
// it is taken since: a chain never gets an overlay of changes since another
// point than the one its newest file holds.
//
// A point made for the backup (qemu.OpenNext, a libvirt checkpoint) is kept
// by its platform once the listing reached it, which happens before the
// copy: when Full or Incremental fails, drop it (qemu.DropPoint), or it stays
// on the disk, unused, until the next rotation prunes it. cbtctl qemu backup
// does so.
package backup
