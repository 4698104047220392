// Package scsi finds the mapped (changed) blocks of a thin SCSI LUN, such as
// an OCI volume created from a backup delta, with GET LBA STATUS.
//
// It holds pure encoders and decoders (the CDBs of READ CAPACITY(16), GET
// LBA STATUS(16) and (32) and READ(16); the parameter data of READ
// CAPACITY(16) and GET LBA STATUS; sense data in fixed and descriptor
// format), a Device interface with its Linux implementation over the SG_IO
// ioctl (Open; ErrUnsupported on other systems), and Scan, which walks a
// device in windows of at most 1 GiB and yields the byte ranges of the
// blocks that count as changed.
//
// Counting is conservative: only a block a descriptor reports deallocated is
// unchanged; mapped, mapped-or-unknown, anchored and unknown blocks, and
// blocks no descriptor covers, count as changed.
//
// Errors carry the classes of package cbt/driver (re-exported by cbt):
// ILLEGAL REQUEST, invalid operation code (20h/00) is ErrUnsupported,
// other ILLEGAL REQUEST (24h/00 invalid field in CDB, 21h/00 LBA out of
// range) ErrInvalidArgument, a persisting UNIT ATTENTION ErrBusy, a
// malformed answer ErrCorrupt; a *SenseError stays reachable with errors.As.
// The package holds no platform policy and does not import cbt.
package scsi
