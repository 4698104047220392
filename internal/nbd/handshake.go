package nbd

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"time"
)

// Options select what Dial and Connect negotiate; nil means the default
// export "" and no meta contexts.
type Options struct {
	// Export is the export name ("" is the default export).
	Export string
	// MetaContexts are set with NBD_OPT_SET_META_CONTEXT before NBD_OPT_GO
	// (e.g. "base:allocation", "qemu:dirty-bitmap:bm1"). A context the
	// server does not select is an error wrapping ErrUnsupported.
	MetaContexts []string
}

// Handshake is a connection in the option-haggling phase, after the
// fixed-newstyle greeting. Use it to list contexts before choosing; finish
// with Go (or Abort).
type Handshake struct {
	nc         net.Conn
	br         *bufio.Reader
	structured bool
	contexts   []MetaContext
	done       bool
}

// Dial connects to an NBD server ("unix" or "tcp" network) and negotiates
// per opts. Errors: ErrUnsupported, ErrProtocol, ErrDisconnected, an
// *OptionError, a dial error, or ctx's error.
func Dial(ctx context.Context, network, address string, opts *Options) (*Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return Connect(ctx, nc, opts)
}

// Connect negotiates on an established connection and takes ownership of
// it (it is closed on error).
func Connect(ctx context.Context, nc net.Conn, opts *Options) (*Conn, error) {
	if opts == nil {
		opts = &Options{}
	}
	h, err := Negotiate(ctx, nc)
	if err != nil {
		return nil, err
	}
	if len(opts.MetaContexts) > 0 {
		got, err := h.SetMetaContexts(ctx, opts.Export, opts.MetaContexts...)
		if err != nil {
			h.Abort()
			return nil, err
		}
		for _, want := range opts.MetaContexts {
			found := false
			for _, m := range got {
				found = found || m.Name == want
			}
			if !found {
				h.Abort()
				return nil, fmt.Errorf("%w: meta context %q not offered by export %q", ErrUnsupported, want, opts.Export)
			}
		}
	}
	return h.Go(ctx, opts.Export)
}

// Negotiate reads the server greeting, sends the client flags and asks for
// structured replies (a server without them is accepted: BlockStatus then
// fails with ErrUnsupported). It takes ownership of nc.
func Negotiate(ctx context.Context, nc net.Conn) (h *Handshake, err error) {
	h = &Handshake{nc: nc, br: bufio.NewReaderSize(nc, 64<<10)}
	done := guard(ctx, nc)
	defer func() {
		if err = done(err); err != nil {
			_ = nc.Close()
			h = nil
		}
	}()
	var g [18]byte
	if _, err := io.ReadFull(h.br, g[:]); err != nil {
		return nil, ioErr(err)
	}
	if m := be.Uint64(g[:]); m != magicNBD {
		return nil, protoErr("greeting magic %#x", m)
	}
	switch m := be.Uint64(g[8:]); m {
	case magicIHaveOpt:
	case magicOldstyle:
		return nil, fmt.Errorf("%w: oldstyle handshake", ErrUnsupported)
	default:
		return nil, protoErr("greeting magic %#x", m)
	}
	sflags := be.Uint16(g[16:])
	if sflags&flagFixedNewstyle == 0 {
		return nil, fmt.Errorf("%w: server without fixed newstyle (flags %#x)", ErrUnsupported, sflags)
	}
	cflags := uint32(flagCFixedNewstyle)
	if sflags&flagNoZeroes != 0 {
		cflags |= flagCNoZeroes
	}
	if _, err := nc.Write(be.AppendUint32(nil, cflags)); err != nil {
		return nil, ioErr(err)
	}
	if err := h.sendOpt(optStructuredReply, nil); err != nil {
		return nil, err
	}
	for {
		rep, err := h.reply(optStructuredReply)
		if err != nil {
			return nil, err
		}
		switch {
		case rep.typ == repAck:
			h.structured = true
			return h, nil
		case rep.typ == repErrBit|1: // NBD_REP_ERR_UNSUP
			return h, nil
		case rep.typ&repErrBit != 0:
			return nil, rep.optionError()
		default:
			return nil, protoErr("reply %d to NBD_OPT_STRUCTURED_REPLY", rep.typ)
		}
	}
}

// StructuredReplies reports whether the server agreed to structured replies.
func (h *Handshake) StructuredReplies() bool { return h.structured }

func (h *Handshake) sendOpt(opt uint32, data []byte) error {
	b := make([]byte, 0, 16+len(data))
	b = be.AppendUint64(b, magicIHaveOpt)
	b = be.AppendUint32(b, opt)
	b = be.AppendUint32(b, uint32(len(data)))
	b = append(b, data...)
	_, err := h.nc.Write(b)
	return ioErr(err)
}

func (h *Handshake) reply(opt uint32) (optReply, error) {
	rep, err := readOptReply(h.br)
	if err == nil && rep.option != opt {
		err = protoErr("reply for option %d while waiting for %d", rep.option, opt)
	}
	return rep, err
}

// fail closes the connection after an error that leaves it unusable.
func (h *Handshake) fail(err error) error {
	h.done = true
	_ = h.nc.Close()
	return err
}

func metaContextData(export string, queries []string) ([]byte, error) {
	if len(export) > maxStringLen {
		return nil, fmt.Errorf("%w: export name of %d bytes", ErrInvalidArgument, len(export))
	}
	b := be.AppendUint32(nil, uint32(len(export)))
	b = append(b, export...)
	b = be.AppendUint32(b, uint32(len(queries)))
	for _, q := range queries {
		if len(q) > maxStringLen {
			return nil, fmt.Errorf("%w: query of %d bytes", ErrInvalidArgument, len(q))
		}
		b = be.AppendUint32(b, uint32(len(q)))
		b = append(b, q...)
	}
	return b, nil
}

// metaContexts runs NBD_OPT_LIST_META_CONTEXT or NBD_OPT_SET_META_CONTEXT.
func (h *Handshake) metaContexts(ctx context.Context, opt uint32, export string, queries []string) (out []MetaContext, err error) {
	if h.done {
		return nil, ErrClosed
	}
	if !h.structured {
		return nil, fmt.Errorf("%w: meta contexts need structured replies", ErrUnsupported)
	}
	data, err := metaContextData(export, queries)
	if err != nil {
		return nil, err
	}
	done := guard(ctx, h.nc)
	defer func() {
		if err = done(err); err != nil && !isOptionError(err) {
			err = h.fail(err)
		}
	}()
	if err := h.sendOpt(opt, data); err != nil {
		return nil, err
	}
	for {
		rep, err := h.reply(opt)
		if err != nil {
			return nil, err
		}
		switch {
		case rep.typ == repAck:
			return out, nil
		case rep.typ == repMetaContext:
			m, err := parseMetaContext(rep.data)
			if err != nil {
				return nil, err
			}
			if len(out) >= 1<<16 {
				return nil, protoErr("more than %d meta contexts", 1<<16)
			}
			out = append(out, m)
		case rep.typ&repErrBit != 0:
			return nil, rep.optionError()
		default:
			return nil, protoErr("reply %d to meta context option", rep.typ)
		}
	}
}

func isOptionError(err error) bool {
	_, ok := err.(*OptionError)
	return ok
}

// ListMetaContexts asks which contexts of the export match the queries
// (NBD_OPT_LIST_META_CONTEXT); no query lists all. qemu treats "qemu:" and
// "qemu:dirty-bitmap:" as wildcards. The ids in the answer are meaningless.
// An *OptionError leaves the handshake usable.
func (h *Handshake) ListMetaContexts(ctx context.Context, export string, queries ...string) ([]string, error) {
	ms, err := h.metaContexts(ctx, optListMetaContext, export, queries)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.Name
	}
	return names, nil
}

// SetMetaContexts selects contexts for the export (NBD_OPT_SET_META_CONTEXT;
// each call replaces the previous selection) and returns those the server
// selected. Go must then name the same export.
func (h *Handshake) SetMetaContexts(ctx context.Context, export string, names ...string) ([]MetaContext, error) {
	ms, err := h.metaContexts(ctx, optSetMetaContext, export, names)
	if err == nil {
		h.contexts = ms
	}
	return ms, err
}

// Go sends NBD_OPT_GO for the export, asking for NBD_INFO_BLOCK_SIZE, and
// enters the transmission phase. On an *OptionError (e.g. unknown export)
// the handshake stays usable; on any other error it is closed.
func (h *Handshake) Go(ctx context.Context, export string) (c *Conn, err error) {
	if h.done {
		return nil, ErrClosed
	}
	if len(export) > maxStringLen {
		return nil, fmt.Errorf("%w: export name of %d bytes", ErrInvalidArgument, len(export))
	}
	data := be.AppendUint32(nil, uint32(len(export)))
	data = append(data, export...)
	data = be.AppendUint16(data, 1)
	data = be.AppendUint16(data, infoBlockSize)
	done := guard(ctx, h.nc)
	defer func() {
		if err = done(err); err != nil && !isOptionError(err) {
			err = h.fail(err)
		}
	}()
	if err := h.sendOpt(optGo, data); err != nil {
		return nil, err
	}
	var info ExportInfo
	haveExport := false
	for {
		rep, err := h.reply(optGo)
		if err != nil {
			return nil, err
		}
		switch {
		case rep.typ == repAck:
			if !haveExport {
				return nil, protoErr("NBD_OPT_GO acknowledged without NBD_INFO_EXPORT")
			}
			h.done = true
			_ = h.nc.SetDeadline(time.Time{})
			return &Conn{nc: h.nc, br: h.br, export: export, info: info, contexts: h.contexts,
				structed: h.structured, wbuf: make([]byte, 0, 28)}, nil
		case rep.typ == repInfo:
			isExport, err := info.parseInfo(rep.data)
			if err != nil {
				return nil, err
			}
			haveExport = haveExport || isExport
		case rep.typ&repErrBit != 0:
			return nil, rep.optionError()
		default:
			return nil, protoErr("reply %d to NBD_OPT_GO", rep.typ)
		}
	}
}

// Abort sends NBD_OPT_ABORT (best effort) and closes the connection.
func (h *Handshake) Abort() {
	if h.done {
		return
	}
	_ = h.nc.SetDeadline(time.Now().Add(time.Second))
	if h.sendOpt(optAbort, nil) == nil {
		_, _ = readOptReply(h.br) // the server may or may not ACK
	}
	_ = h.fail(nil)
}
