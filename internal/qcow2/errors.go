package qcow2

import "errors"

// Sentinel errors. Every error this package returns for a problem with the image
// wraps exactly one of them (test with errors.Is); the message names the field,
// its file offset and the offending value. Errors of the underlying io.ReaderAt
// are wrapped as they are, next to a description of what was being read.
var (
	// ErrNotQcow2 means the file does not start with the qcow2 magic "QFI\xfb".
	ErrNotQcow2 = errors.New("qcow2: not a qcow2 image")

	// ErrCorrupt means the metadata breaks a rule of the format: a field out of
	// range, a table that reaches beyond the end of the file, a misaligned offset,
	// or the image's own corrupt bit.
	ErrCorrupt = errors.New("qcow2: corrupt image")

	// ErrUnsupported means the image is well formed as far as this package can
	// tell but uses something it does not implement or that the format reserves:
	// an unknown version, an unknown incompatible feature bit, a cluster size
	// beyond QEMU's limits, an unknown compression type or bitmap type.
	ErrUnsupported = errors.New("qcow2: unsupported image")
)
