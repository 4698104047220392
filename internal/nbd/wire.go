package nbd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

var be = binary.BigEndian

// readN reads exactly n bytes, growing the buffer as bytes arrive so that a
// lying length costs at most the bytes actually sent (plus one step). buf is
// reused when it is large enough.
func readN(r io.Reader, buf []byte, n int) ([]byte, error) {
	if n <= cap(buf) {
		buf = buf[:n]
		_, err := io.ReadFull(r, buf)
		return buf, err
	}
	buf = buf[:0]
	for len(buf) < n {
		step := min(n-len(buf), max(growStep, len(buf)))
		if cap(buf)-len(buf) < step {
			nb := make([]byte, len(buf), len(buf)+step)
			copy(nb, buf)
			buf = nb
		}
		m, err := io.ReadFull(r, buf[len(buf):len(buf)+step])
		buf = buf[:len(buf)+m]
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// ioErr turns a read or write failure into ErrDisconnected.
func ioErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%w: %w", ErrDisconnected, err)
}

// optReply is one option reply of the handshake.
type optReply struct {
	option uint32
	typ    uint32
	data   []byte
}

// readOptReply decodes one option reply (header and bounded payload).
func readOptReply(r io.Reader) (optReply, error) {
	var h [20]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return optReply{}, ioErr(err)
	}
	if m := be.Uint64(h[0:]); m != magicOptReply {
		return optReply{}, protoErr("option reply magic %#x", m)
	}
	rep := optReply{option: be.Uint32(h[8:]), typ: be.Uint32(h[12:])}
	n := be.Uint32(h[16:])
	if n > maxOptReplyLen {
		return rep, protoErr("option reply of %d bytes (max %d)", n, maxOptReplyLen)
	}
	var err error
	rep.data, err = readN(r, nil, int(n))
	return rep, ioErr(err)
}

// optionError builds the error for an error reply.
func (rep optReply) optionError() error {
	msg := rep.data
	if len(msg) > maxStringLen {
		msg = msg[:maxStringLen]
	}
	return &OptionError{Option: rep.option, Reply: rep.typ, Message: printable(msg)}
}

// printable keeps server text safe to log.
func printable(b []byte) string {
	out := make([]rune, 0, len(b))
	for _, r := range string(b) {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			r = '?'
		}
		out = append(out, r)
	}
	return string(out)
}

// MetaContext is a selected metadata context and the id the server gave it.
type MetaContext struct {
	ID   uint32
	Name string
}

// parseMetaContext decodes the payload of NBD_REP_META_CONTEXT.
func parseMetaContext(b []byte) (MetaContext, error) {
	if len(b) < 4 || len(b)-4 > maxStringLen {
		return MetaContext{}, protoErr("meta context reply of %d bytes", len(b))
	}
	return MetaContext{ID: be.Uint32(b), Name: string(b[4:])}, nil
}

// ExportInfo is what NBD_OPT_GO reported about the export.
type ExportInfo struct {
	Size  uint64 // bytes
	Flags uint16 // transmission flags (Flag*)
	// Block size constraints; zero when the server sent no NBD_INFO_BLOCK_SIZE.
	MinBlock, PreferredBlock, MaxBlock uint32
}

// parseInfo applies one NBD_REP_INFO payload; it reports whether it was
// NBD_INFO_EXPORT.
func (ei *ExportInfo) parseInfo(b []byte) (bool, error) {
	if len(b) < 2 {
		return false, protoErr("info reply of %d bytes", len(b))
	}
	switch be.Uint16(b) {
	case infoExport:
		if len(b) != 12 {
			return false, protoErr("NBD_INFO_EXPORT of %d bytes", len(b))
		}
		ei.Size, ei.Flags = be.Uint64(b[2:]), be.Uint16(b[10:])
		return true, nil
	case infoBlockSize:
		if len(b) != 14 {
			return false, protoErr("NBD_INFO_BLOCK_SIZE of %d bytes", len(b))
		}
		mn, pr, mx := be.Uint32(b[2:]), be.Uint32(b[6:]), be.Uint32(b[10:])
		if mn == 0 || mn > 1<<16 || mn&(mn-1) != 0 || pr < mn || pr&(pr-1) != 0 || mx < mn || (mx != ^uint32(0) && mx%mn != 0) {
			return false, protoErr("block sizes min %d preferred %d max %d", mn, pr, mx)
		}
		ei.MinBlock, ei.PreferredBlock, ei.MaxBlock = mn, pr, mx
	}
	return false, nil
}

// chunkHeader is a reply header: simple (structured false) or structured.
type chunkHeader struct {
	structured bool
	flags      uint16
	typ        uint16
	cookie     uint64
	length     uint32 // structured: payload length; simple: the error value
}

// readChunkHeader reads a simple reply or a structured chunk header.
func readChunkHeader(r io.Reader) (chunkHeader, error) {
	var h [20]byte
	if _, err := io.ReadFull(r, h[:16]); err != nil {
		return chunkHeader{}, ioErr(err)
	}
	switch m := be.Uint32(h[0:]); m {
	case magicSimple:
		return chunkHeader{length: be.Uint32(h[4:]), cookie: be.Uint64(h[8:])}, nil
	case magicStructure:
		if _, err := io.ReadFull(r, h[16:20]); err != nil {
			return chunkHeader{}, ioErr(err)
		}
		return chunkHeader{structured: true, flags: be.Uint16(h[4:]), typ: be.Uint16(h[6:]),
			cookie: be.Uint64(h[8:]), length: be.Uint32(h[16:])}, nil
	default:
		return chunkHeader{}, protoErr("reply magic %#x", m)
	}
}

// parseErrorChunk decodes NBD_REPLY_TYPE_ERROR / ERROR_OFFSET (or any other
// error chunk type, which starts with the same two fields).
func parseErrorChunk(typ uint16, b []byte) (*Error, error) {
	if len(b) < 6 {
		return nil, protoErr("error chunk of %d bytes", len(b))
	}
	e := &Error{Errno: be.Uint32(b)}
	ml := int(be.Uint16(b[4:]))
	if 6+ml > len(b) || ml > maxStringLen {
		return nil, protoErr("error chunk message of %d bytes in %d", ml, len(b))
	}
	e.Message = printable(b[6 : 6+ml])
	rest := b[6+ml:]
	switch typ {
	case replyError:
		if len(rest) != 0 {
			return nil, protoErr("NBD_REPLY_TYPE_ERROR with %d trailing bytes", len(rest))
		}
	case replyErrorOffset:
		if len(rest) != 8 {
			return nil, protoErr("NBD_REPLY_TYPE_ERROR_OFFSET with %d trailing bytes", len(rest))
		}
		e.Offset, e.HasOffset = be.Uint64(rest), true
	}
	if e.Errno == 0 {
		return nil, protoErr("error chunk with error value 0")
	}
	return e, nil
}

// Extent is a range of the export with the status flags of one context.
type Extent struct {
	Offset uint64
	Length uint64
	Flags  uint32
}

// End is Offset+Length.
func (e Extent) End() uint64 { return e.Offset + e.Length }

// parseBlockStatus decodes an NBD_REPLY_TYPE_BLOCK_STATUS payload starting
// at off: it appends the extents to dst, clipped to end, and stops at end.
func parseBlockStatus(dst []Extent, b []byte, off, end uint64) (id uint32, _ []Extent, _ error) {
	if len(b) < 12 || (len(b)-4)%8 != 0 {
		return 0, dst, protoErr("block status chunk of %d bytes", len(b))
	}
	id = be.Uint32(b)
	for p := b[4:]; len(p) >= 8 && off < end; p = p[8:] {
		n, f := uint64(be.Uint32(p)), be.Uint32(p[4:])
		if n == 0 {
			return id, dst, protoErr("zero-length extent at %d", off)
		}
		n = min(n, end-off)
		if k := len(dst); k > 0 && dst[k-1].Flags == f && dst[k-1].End() == off {
			dst[k-1].Length += n
		} else {
			dst = append(dst, Extent{Offset: off, Length: n, Flags: f})
		}
		off += n
	}
	return id, dst, nil
}
