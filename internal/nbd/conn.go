package nbd

import (
	"bufio"
	"context"
	"errors"
	"net"
	"sync"
	"time"
)

// Conn is an NBD connection in the transmission phase, made by [Dial],
// [Connect] or [Handshake.Go]. Its methods are safe for concurrent use;
// requests are sent one at a time.
type Conn struct {
	mu       sync.Mutex
	nc       net.Conn
	br       *bufio.Reader
	wbuf     []byte
	rbuf     []byte
	err      error // sticky: set when the connection broke or was closed
	export   string
	info     ExportInfo
	contexts []MetaContext
	structed bool
	cookie   uint64
}

// Export is the export name given to NBD_OPT_GO.
func (c *Conn) Export() string { return c.export }

// Size is the export size in bytes.
func (c *Conn) Size() uint64 { return c.info.Size }

// Flags are the transmission flags (Flag*).
func (c *Conn) Flags() uint16 { return c.info.Flags }

// Info is everything NBD_OPT_GO reported.
func (c *Conn) Info() ExportInfo { return c.info }

// MetaContexts are the contexts the server selected, in its order.
func (c *Conn) MetaContexts() []MetaContext { return append([]MetaContext(nil), c.contexts...) }

// StructuredReplies reports whether structured replies were negotiated.
func (c *Conn) StructuredReplies() bool { return c.structed }

// contextID returns the id of a selected context.
func (c *Conn) contextID(name string) (uint32, bool) {
	for _, m := range c.contexts {
		if m.Name == name {
			return m.ID, true
		}
	}
	return 0, false
}

// guard makes ctx interrupt the I/O on nc: when ctx is done, the pending
// read or write fails at once. The returned func must be called when the
// I/O is over; it reports the context's error if the context interrupted it.
func guard(ctx context.Context, nc net.Conn) (done func(err error) error) {
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	return func(err error) error {
		if !stop() && ctx.Err() != nil {
			// The deadline was (or is about to be) set: the connection is
			// in an unknown state even if err is nil.
			return ctx.Err()
		}
		return err
	}
}

// fail marks the connection broken and closes it; c.mu is held.
func (c *Conn) fail(err error) error {
	if c.err == nil {
		c.err = err
		_ = c.nc.Close()
	}
	return err
}

// usable checks the sticky error; c.mu is held.
func (c *Conn) usable() error {
	if c.err != nil {
		return errors.Join(ErrClosed, c.err)
	}
	return nil
}

// Close sends NBD_CMD_DISC (best effort, bounded by one second) and closes
// the connection. It is safe to call more than once.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return nil
	}
	c.err = ErrClosed
	_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	werr := c.writeRequest(0, cmdDisc, 0, 0)
	cerr := c.nc.Close()
	if werr != nil {
		return ioErr(werr)
	}
	return cerr
}

// writeRequest sends one request header; c.mu is held.
func (c *Conn) writeRequest(flags, typ uint16, off uint64, n uint32) error {
	c.cookie++
	b := c.wbuf[:0]
	b = be.AppendUint32(b, magicRequest)
	b = be.AppendUint16(b, flags)
	b = be.AppendUint16(b, typ)
	b = be.AppendUint64(b, c.cookie)
	b = be.AppendUint64(b, off)
	b = be.AppendUint32(b, n)
	c.wbuf = b
	_, err := c.nc.Write(b)
	return err
}
