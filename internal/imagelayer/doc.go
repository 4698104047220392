// Package imagelayer opens one file of a disk image's backing chain on its
// own, raw or qcow2, and describes it through one interface, Layer: its
// path, format, backing file name and format (as a qcow2 header records
// them; never followed), virtual size, allocation granularity, the guest
// bytes one L2 table maps, whether another process held it for writing
// when it was opened, and the guest ranges the file itself describes
// (Allocated). A qcow2 layer is also a Qcow2Layer, which hands out its
// decoded image (package qcow2) for what only qcow2 has: internal
// snapshots, persistent bitmaps, views.
//
// # Opening
//
// Open reads regular files and block devices only and never blocks opening
// one: the file is opened through package hostfile, and a FIFO, a socket, a
// character device or a directory is refused before anything is read from
// it. The format is "raw", "qcow2", or "" to probe: a file that starts with
// the qcow2 magic is qcow2, anything else raw. Open checks qemu's write
// lock (the open file description lock a running qemu, qemu-nbd or
// qemu-img keeps on byte 101 of an image it writes; Linux only) without
// taking one, and refuses a file so held unless Options.ForceShare is set.
// Nothing is ever written.
//
// # Allocation
//
// Allocated yields, ascending, the guest ranges in a window that the layer
// itself describes: for a qcow2 file, the data, zero and compressed
// clusters of its active tables (a zero cluster counts: it hides what the
// backing file holds there); for a raw file, its data regions as the file
// system reports them (SEEK_DATA and SEEK_HOLE), widened to 512-byte
// sectors, or all of it when the file system cannot tell. Like a format
// reader, it takes no context: the caller checks its own between extents.
//
// # Errors
//
// The package holds no platform policy and no SDK error class. An error it
// makes wraps one of ErrPath (the path names no image file), ErrFormat (a
// format other than raw and qcow2) and ErrBusy (held for writing); the
// errors of the file system (a *fs.PathError: fs.ErrNotExist,
// fs.ErrPermission, ...), of the kernel and of package qcow2
// (qcow2.ErrNotQcow2, qcow2.ErrCorrupt, qcow2.ErrUnsupported) pass through,
// with what was being done. The caller maps them to its own classes.
//
// # Reading
//
// ReadAt reads guest bytes, safe for concurrent use: a raw layer reads its
// file (zeros past its end); a qcow2 layer reads through its active tables
// (qcow2.Image.ReadView: data, compressed and zero clusters, from the file
// or from the external data file its header names, opened on the first
// read relative to the image's directory) and returns the ranges it does
// not hold, so that the caller, who owns the chain, reads them from the
// layer below. A Qcow2Layer also reads an internal snapshot's view
// (ReadViewAt). The file is open for the layer's lifetime; a read needs no
// other state.
package imagelayer
