package nbd

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
)

// maxReadLen is the longest read request: the advertised maximum block
// size, or 32 MiB without one, aligned down to the minimum block size.
func (c *Conn) maxReadLen() uint64 {
	n := uint64(defaultMaxRead)
	if c.info.MaxBlock != 0 {
		n = min(uint64(c.info.MaxBlock), maxBlockStatusReq)
	}
	if mb := uint64(c.info.MinBlock); mb > 1 {
		n -= n % mb
	}
	return n
}

// ReadAt fills p with the export's bytes at off (NBD_CMD_READ), splitting
// it into requests within the maximum block size. Holes
// (NBD_REPLY_TYPE_OFFSET_HOLE) read as zeros. off and len(p) must be
// multiples of the minimum block size (except at the end of the export).
// Errors: ErrInvalidArgument, *Error (connection still usable), ErrProtocol
// or ErrDisconnected (connection closed), ctx's error (connection closed).
func (c *Conn) ReadAt(ctx context.Context, p []byte, off uint64) error {
	n := uint64(len(p))
	if off > c.info.Size || n > c.info.Size-off {
		return fmt.Errorf("%w: read %d+%d outside export of %d bytes", ErrInvalidArgument, off, n, c.info.Size)
	}
	if mb := uint64(max(c.info.MinBlock, 1)); off%mb != 0 || (n%mb != 0 && off+n != c.info.Size) {
		return fmt.Errorf("%w: read %d+%d not aligned to %d", ErrInvalidArgument, off, n, mb)
	}
	step := c.maxReadLen()
	for len(p) > 0 {
		k := min(uint64(len(p)), step)
		if err := c.readOnce(ctx, p[:k], off); err != nil {
			return err
		}
		p, off = p[k:], off+k
	}
	return nil
}

// readOnce is one NBD_CMD_READ whose reply must cover p exactly once.
func (c *Conn) readOnce(ctx context.Context, p []byte, off uint64) error {
	type span struct{ lo, hi uint64 }
	var spans []span
	n := uint64(len(p))
	err := c.roundTrip(ctx, cmdRead, off, uint32(n), func(h chunkHeader) error {
		if !h.structured {
			if _, err := io.ReadFull(c.br, p); err != nil {
				return ioErr(err)
			}
			spans = append(spans, span{0, n})
			return nil
		}
		var hdr [12]byte
		switch h.typ {
		case replyOffsetData:
			if h.length <= 8 {
				return protoErr("NBD_REPLY_TYPE_OFFSET_DATA of %d bytes", h.length)
			}
			if _, err := io.ReadFull(c.br, hdr[:8]); err != nil {
				return ioErr(err)
			}
			o, k := be.Uint64(hdr[:]), uint64(h.length-8)
			if o < off || o-off > n || k > n-(o-off) {
				return protoErr("data chunk %d+%d outside read %d+%d", o, k, off, n)
			}
			if _, err := io.ReadFull(c.br, p[o-off:o-off+k]); err != nil {
				return ioErr(err)
			}
			spans = append(spans, span{o - off, o - off + k})
		case replyOffsetHole:
			if h.length != 12 {
				return protoErr("NBD_REPLY_TYPE_OFFSET_HOLE of %d bytes", h.length)
			}
			if _, err := io.ReadFull(c.br, hdr[:]); err != nil {
				return ioErr(err)
			}
			o, k := be.Uint64(hdr[:]), uint64(be.Uint32(hdr[8:]))
			if k == 0 || o < off || o-off > n || k > n-(o-off) {
				return protoErr("hole chunk %d+%d outside read %d+%d", o, k, off, n)
			}
			clear(p[o-off : o-off+k])
			spans = append(spans, span{o - off, o - off + k})
		default:
			return protoErr("chunk type %d in reply to NBD_CMD_READ", h.typ)
		}
		if uint64(len(spans)) > n {
			return protoErr("more chunks than bytes in read reply")
		}
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.lo, b.lo) })
	var at uint64
	for _, s := range spans {
		if s.lo != at {
			return c.failLocked(protoErr("read reply covers %d+%d with a gap or overlap at %d", off, n, off+at))
		}
		at = s.hi
	}
	if at != n {
		return c.failLocked(protoErr("read reply covers %d of %d bytes at %d", at, n, off))
	}
	return nil
}
