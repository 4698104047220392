package nbd

import (
	"context"
)

// roundTrip sends one request and reads its reply chunks until the final
// one, passing each to onChunk (which must consume exactly the payload of a
// structured chunk, or the data of a successful simple reply). A server
// error is returned as *Error with the connection still usable; any other
// failure breaks the connection.
func (c *Conn) roundTrip(ctx context.Context, typ uint16, off uint64, n uint32, onChunk func(h chunkHeader) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.usable(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	done := guard(ctx, c.nc)
	var srvErr *Error
	err := func() error {
		if err := c.writeRequest(0, typ, off, n); err != nil {
			return ioErr(err)
		}
		for {
			h, err := readChunkHeader(c.br)
			if err != nil {
				return err
			}
			if h.cookie != c.cookie {
				return protoErr("reply cookie %d, expected %d", h.cookie, c.cookie)
			}
			if !h.structured {
				if h.length != 0 {
					srvErr = &Error{Errno: h.length}
					return nil
				}
				return onChunk(h)
			}
			if h.typ&replyErrBit != 0 {
				if h.length > maxErrorChunk {
					return protoErr("error chunk of %d bytes", h.length)
				}
				if c.rbuf, err = readN(c.br, c.rbuf, int(h.length)); err != nil {
					return ioErr(err)
				}
				e, err := parseErrorChunk(h.typ, c.rbuf)
				if err != nil {
					return err
				}
				if srvErr == nil {
					srvErr = e
				}
			} else if h.typ == replyNone {
				if h.length != 0 || h.flags&replyFlagDone == 0 {
					return protoErr("NBD_REPLY_TYPE_NONE with length %d flags %#x", h.length, h.flags)
				}
			} else if err := onChunk(h); err != nil {
				return err
			}
			if h.flags&replyFlagDone != 0 {
				return nil
			}
		}
	}()
	if err = done(err); err != nil {
		return c.fail(err)
	}
	if srvErr != nil {
		return srvErr
	}
	return nil
}
