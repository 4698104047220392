package qcow2

import (
	"errors"
	"fmt"
	"math"
)

// Sentinel errors. Every error this package returns for a problem with the image
// wraps exactly one of them (test with errors.Is); problems with the image's
// bytes are a *FormatError (reach it with errors.As), whose fields give the
// field or structure, its file offset and the offending value. Errors of the
// underlying io.ReaderAt are wrapped as they are, next to a description of what
// was being read.
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

// A FormatError is a problem with the bytes of an image, like debug/elf's
// FormatError: which field or structure, where it is in the file, and what was
// found there. It unwraps to its class, so errors.Is(err, ErrCorrupt) (or
// ErrUnsupported, ErrNotQcow2) holds for it.
type FormatError struct {
	// Err is the class: ErrCorrupt, ErrUnsupported or ErrNotQcow2.
	Err error
	// Off is the file offset of What, or -1 when the problem has no one place
	// in the file (two fields that disagree, an L2 entry judged by its value).
	// An offset read from the file that does not fit in an int64 is
	// math.MaxInt64 here; Error shows it in full.
	Off int64
	// What names the field or structure at fault as the specification does:
	// "cluster_bits", "snapshot entry 2", "L1 table of the active view",
	// `bitmap "b1" table entry 3`.
	What string
	// Val is the value found at Off, or nil when no single value is at fault.
	Val any
	// Msg is the whole message after the class: it names What, Off and Val in
	// the words of the format, and says what is wrong.
	Msg string
}

func (e *FormatError) Error() string { return e.Err.Error() + ": " + e.Msg }

// Unwrap returns the class.
func (e *FormatError) Unwrap() error { return e.Err }

// fileOff converts an offset read from the file to FormatError.Off.
func fileOff(off uint64) int64 {
	return int64(min(off, math.MaxInt64))
}

// formatErr makes a FormatError whose message is format with args; the
// caller's message names what, off and val itself (for layouts the helpers
// below do not spell).
func formatErr(class error, off int64, what string, val any, format string, args ...any) error {
	return &FormatError{Err: class, Off: off, What: what, Val: val, Msg: fmt.Sprintf(format, args...)}
}

// fieldErr is a problem with a header field: "name (offset off) = val, why"
// (why may be empty).
func fieldErr(class error, off int64, name string, val any, why string, args ...any) error {
	return fieldErrAs(class, off, name, val, "%d", why, args...)
}

// fieldErrHex is fieldErr with the value in hexadecimal (offsets, feature bits).
func fieldErrHex(class error, off int64, name string, val any, why string, args ...any) error {
	return fieldErrAs(class, off, name, val, "%#x", why, args...)
}

func fieldErrAs(class error, off int64, name string, val any, verb, why string, args ...any) error {
	msg := fmt.Sprintf("%s (offset %d) = "+verb, name, off, val)
	if why != "" {
		msg += ", " + fmt.Sprintf(why, args...)
	}
	return &FormatError{Err: class, Off: off, What: name, Val: val, Msg: msg}
}

// atErr is a problem with a structure: "what at offset 0x..: why".
func atErr(class error, off uint64, what string, why string, args ...any) error {
	return &FormatError{Err: class, Off: fileOff(off), What: what, Msg: fmt.Sprintf("%s at offset %#x: ", what, off) + fmt.Sprintf(why, args...)}
}

// pastEOF is a structure of n bytes (described by span, e.g. "3 entries")
// at off that ends beyond the end of a file of size bytes.
func pastEOF(what string, off uint64, span string, size int64) error {
	return &FormatError{Err: ErrCorrupt, Off: fileOff(off), What: what,
		Msg: fmt.Sprintf("%s at offset %#x, %s, ends beyond the end of the file (%d bytes)", what, off, span, size)}
}
