// Package scsimodel is a SCSI device model for tests: a thin LUN holding two
// backup states, the way an OCI volume created from a backup delta presents
// itself. It answers READ CAPACITY(16), GET LBA STATUS(32) and (16), and
// optionally READ(16), with the CDB and parameter-data bytes a real target
// sends, and can misbehave in the documented ways: truncation at the
// allocation length, every completion condition, a report type or scan
// length ignored (RTP 0), UNIT ATTENTION, and commands it does not support.
// *LUN implements scsi.Device.
package scsimodel
