package nbd

import (
	"errors"
	"fmt"
	"syscall"
)

var (
	// ErrProtocol marks a server reply that violates the NBD protocol. The
	// connection is closed.
	ErrProtocol = errors.New("nbd: protocol error")
	// ErrUnsupported marks a feature the server does not offer (fixed
	// newstyle, structured replies, a meta context).
	ErrUnsupported = errors.New("nbd: unsupported")
	// ErrClosed is returned by calls on a closed or broken connection.
	ErrClosed = errors.New("nbd: connection closed")
	// ErrDisconnected marks an I/O failure on the connection (reset, EOF,
	// server gone). The connection is closed; Walk reconnects after it.
	ErrDisconnected = errors.New("nbd: disconnected")
	// ErrInvalidArgument marks a request the client refuses to send.
	ErrInvalidArgument = errors.New("nbd: invalid argument")
)

func protoErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrProtocol, fmt.Sprintf(format, args...))
}

// OptionError is an NBD_REP_ERR_* reply to an option during the handshake.
type OptionError struct {
	Option  uint32 // NBD_OPT_* that failed
	Reply   uint32 // the reply type, bit 31 set
	Message string // the server's text, if any
}

var repErrNames = map[uint32]string{
	1: "NBD_REP_ERR_UNSUP", 2: "NBD_REP_ERR_POLICY", 3: "NBD_REP_ERR_INVALID",
	4: "NBD_REP_ERR_PLATFORM", 5: "NBD_REP_ERR_TLS_REQD", 6: "NBD_REP_ERR_UNKNOWN",
	7: "NBD_REP_ERR_SHUTDOWN", 8: "NBD_REP_ERR_BLOCK_SIZE_REQD", 9: "NBD_REP_ERR_TOO_BIG",
	10: "NBD_REP_ERR_EXT_HEADER_REQD",
}

func (e *OptionError) Error() string {
	name, ok := repErrNames[e.Reply&^repErrBit]
	if !ok {
		name = fmt.Sprintf("error reply %#x", e.Reply)
	}
	s := fmt.Sprintf("nbd: option %d: %s", e.Option, name)
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Is makes NBD_REP_ERR_UNSUP match ErrUnsupported.
func (e *OptionError) Is(target error) bool {
	return target == ErrUnsupported && e.Reply == repErrBit|1
}

// Error is an error the server returned for a command (an error chunk or a
// simple reply with a non-zero error). The connection stays usable.
type Error struct {
	Errno     uint32 // NBD error value (EIO=5, EINVAL=22, ENOTSUP=95, ...)
	Message   string // the server's text, if any
	Offset    uint64 // for NBD_REPLY_TYPE_ERROR_OFFSET
	HasOffset bool
}

func (e *Error) Error() string {
	s := fmt.Sprintf("nbd: server error %d (%s)", e.Errno, syscall.Errno(e.Errno).Error())
	if e.HasOffset {
		s += fmt.Sprintf(" at offset %d", e.Offset)
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Is lets errors.Is(err, syscall.EIO) and the like match the NBD errno;
// the NBD values are the Linux ones.
func (e *Error) Is(target error) bool {
	if n, ok := target.(syscall.Errno); ok {
		return uint32(n) == e.Errno
	}
	return false
}
