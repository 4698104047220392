// Package internal holds, in its subpackages, the format and protocol codecs
// the platforms share: pure functions over bytes, io.ReaderAt and small
// device or connection interfaces, with no platform policy.
//
//   - qcow2: the qcow2 image format (header, extensions, L1/L2 tables,
//     internal snapshots, persistent dirty bitmaps), read-only.
//   - nbd: a pure-Go NBD client (fixed newstyle, structured replies, meta
//     contexts, block status, reads, reconnect and resume).
//   - scsi: GET LBA STATUS, READ CAPACITY and sense codecs, the LBA status
//     scan, SG_IO on Linux; scsi/scsimodel, a thin-LUN model for tests.
//   - unionpage: one page of the union of layer walks plus a tail, widened
//     to a granularity: the paging the qemu and rhv drivers share.
//   - hostfile: opening paths that come from outside (image headers,
//     metadata, arguments) without blocking on a FIFO, refusing file kinds
//     the caller did not allow.
//   - qemutools: the qemu-img, qemu-io, qemu-nbd and nbdinfo wrappers the
//     tests use as ground truth.
package internal
