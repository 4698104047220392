package nbd

import (
	"context"
	"fmt"
	"iter"
)

// maxStatusLen is the longest block status request: 32 bits, the advertised
// maximum block size if any, aligned down to the minimum block size.
func (c *Conn) maxStatusLen() uint64 {
	n := maxBlockStatusReq
	if c.info.MaxBlock != 0 {
		n = min(n, uint64(c.info.MaxBlock))
	}
	if mb := uint64(c.info.MinBlock); mb > 1 {
		n -= n % mb
	}
	return n
}

// blockStatusOnce sends one NBD_CMD_BLOCK_STATUS for [off, off+n) and
// returns the extents of context id, clipped to the request, starting at
// off. The answer may cover less than n but never nothing.
func (c *Conn) blockStatusOnce(ctx context.Context, id uint32, off uint64, n uint32, dst []Extent) ([]Extent, error) {
	got := false
	err := c.roundTrip(ctx, cmdBlockStatus, off, n, func(h chunkHeader) error {
		if !h.structured {
			return protoErr("simple reply without error to NBD_CMD_BLOCK_STATUS")
		}
		if h.typ != replyBlockStatus {
			return protoErr("chunk type %d in reply to NBD_CMD_BLOCK_STATUS", h.typ)
		}
		if h.length > maxBlockStatusChunk {
			return protoErr("block status chunk of %d bytes", h.length)
		}
		var err error
		if c.rbuf, err = readN(c.br, c.rbuf, int(h.length)); err != nil {
			return ioErr(err)
		}
		if len(c.rbuf) < 4 || be.Uint32(c.rbuf) != id {
			return nil // another selected context
		}
		if got {
			return protoErr("two block status chunks for context %d", id)
		}
		got = true
		_, dst, err = parseBlockStatus(dst, c.rbuf, off, off+uint64(n))
		return err
	})
	if err != nil {
		return dst, err
	}
	if !got || len(dst) == 0 {
		return dst, c.failLocked(protoErr("no extents for context %d at %d", id, off))
	}
	return dst, nil
}

func (c *Conn) failLocked(err error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fail(err)
}

// BlockStatus yields the extents of a selected meta context over
// [off, off+length): ascending, contiguous, non-empty and clipped to the
// range. It sends as many NBD_CMD_BLOCK_STATUS requests as needed (the
// server may answer less than asked; the last extent may run past the
// request and is clipped), each within 32 bits and the server's maximum
// block size, with offsets aligned to its minimum block size. Adjacent
// extents with the same flags within one answer are merged.
//
// An error is yielded once and ends the sequence: ErrUnsupported (context
// not selected, no structured replies), ErrInvalidArgument (range outside
// the export), *Error (server error; the connection stays usable),
// ErrProtocol or ErrDisconnected (the connection is closed; see Walk), or
// ctx's error (the connection is closed). Stopping the iteration early
// leaves the connection usable.
func (c *Conn) BlockStatus(ctx context.Context, metaContext string, off, length uint64) iter.Seq2[Extent, error] {
	return func(yield func(Extent, error) bool) {
		id, ok := c.contextID(metaContext)
		switch {
		case !c.structed:
			yield(Extent{}, fmt.Errorf("%w: block status needs structured replies", ErrUnsupported))
			return
		case !ok:
			yield(Extent{}, fmt.Errorf("%w: meta context %q not selected", ErrUnsupported, metaContext))
			return
		case off > c.info.Size || length > c.info.Size-off:
			yield(Extent{}, fmt.Errorf("%w: range %d+%d outside export of %d bytes", ErrInvalidArgument, off, length, c.info.Size))
			return
		}
		end := off + length
		mb := max(uint64(c.info.MinBlock), 1)
		step := c.maxStatusLen()
		pos := off - off%mb
		var buf []Extent
		for pos < end {
			reqEnd := min(c.info.Size, (end+mb-1)/mb*mb, pos+step)
			var err error
			buf, err = c.blockStatusOnce(ctx, id, pos, uint32(reqEnd-pos), buf[:0])
			if err != nil {
				yield(Extent{}, err)
				return
			}
			for _, e := range buf {
				if e.Offset < off {
					if e.End() <= off {
						continue
					}
					e.Length -= off - e.Offset
					e.Offset = off
				}
				if e.End() > end {
					e.Length = end - e.Offset
				}
				if e.Length > 0 && !yield(e, nil) {
					return
				}
			}
			pos = buf[len(buf)-1].End()
		}
	}
}
