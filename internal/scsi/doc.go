// Package scsi finds the mapped blocks of a thin SCSI LUN with GET LBA
// STATUS.
//
// It holds pure encoders and decoders (the CDBs of READ CAPACITY(16), GET
// LBA STATUS(16) and (32) and READ(16); the parameter data of READ
// CAPACITY(16) and GET LBA STATUS; sense data in fixed and descriptor
// format), a Device interface with its Linux implementation over the SG_IO
// ioctl (Open; ErrUnsupported on other systems), and Scan, which walks a
// device in windows of a bounded scan length (DefaultWindowBytes unless
// the caller sets another) and yields the byte ranges of the blocks not
// reported deallocated.
//
// Reading the answers is conservative: only a block a descriptor reports
// deallocated is left out; mapped, mapped-or-unknown, anchored and unknown
// blocks, and blocks no descriptor covers, are yielded.
//
// Errors wrap this package's sentinels: ILLEGAL REQUEST, invalid operation
// code (20h/00) is ErrUnsupported, other ILLEGAL REQUEST (24h/00 invalid
// field in CDB, 21h/00 LBA out of range) ErrInvalid, a persisting UNIT
// ATTENTION ErrBusy, a malformed answer ErrMalformed; a *SenseError stays
// reachable with errors.As. The package holds no platform policy and
// imports nothing of cbt: what a mapped block means (a changed block of an
// OCI delta volume) and which error class each sentinel is, is the
// platform's to say.
package scsi
