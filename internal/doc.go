// Package internal holds, in its subpackages, the format and protocol codecs
// the platforms share (qcow2, NBD, SCSI, ...): pure functions over bytes and
// io.ReaderAt, with no platform policy. None is built yet.
package internal
