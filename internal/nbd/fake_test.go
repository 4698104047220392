package nbd

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"time"
)

// fakeConn is a net.Conn whose server side is a fixed byte string; writes
// are discarded. It drives the client through hand-built or fuzzed replies.
type fakeConn struct {
	r io.Reader
	w bytes.Buffer // what the client sent
}

func (f *fakeConn) Read(p []byte) (int, error)       { return f.r.Read(p) }
func (f *fakeConn) Write(p []byte) (int, error)      { return f.w.Write(p) }
func (f *fakeConn) Close() error                     { return nil }
func (f *fakeConn) LocalAddr() net.Addr              { return &net.UnixAddr{Net: "unix"} }
func (f *fakeConn) RemoteAddr() net.Addr             { return &net.UnixAddr{Net: "unix"} }
func (f *fakeConn) SetDeadline(time.Time) error      { return nil }
func (f *fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (f *fakeConn) SetWriteDeadline(time.Time) error { return nil }

// frames builds server bytes.
type frames struct{ bytes.Buffer }

func (f *frames) u16(v uint16) *frames { _ = binary.Write(f, binary.BigEndian, v); return f }
func (f *frames) u32(v uint32) *frames { _ = binary.Write(f, binary.BigEndian, v); return f }
func (f *frames) u64(v uint64) *frames { _ = binary.Write(f, binary.BigEndian, v); return f }

func (f *frames) greeting() *frames {
	return f.u64(magicNBD).u64(magicIHaveOpt).u16(flagFixedNewstyle | flagNoZeroes)
}

func (f *frames) optReply(opt, typ uint32, data []byte) *frames {
	f.u64(magicOptReply).u32(opt).u32(typ).u32(uint32(len(data)))
	f.Write(data)
	return f
}

func (f *frames) chunk(flags, typ uint16, cookie uint64, payload []byte) *frames {
	f.u32(magicStructure).u16(flags).u16(typ).u64(cookie).u32(uint32(len(payload)))
	f.Write(payload)
	return f
}

func payload(vals ...any) []byte {
	var b bytes.Buffer
	for _, v := range vals {
		if s, ok := v.(string); ok {
			b.WriteString(s)
			continue
		}
		_ = binary.Write(&b, binary.BigEndian, v)
	}
	return b.Bytes()
}

// handshakeFrames is a full handshake: structured replies, one context
// (id 7, base:allocation), an export of size bytes.
func handshakeFrames(size uint64) *frames {
	f := &frames{}
	f.greeting()
	f.optReply(optStructuredReply, repAck, nil)
	f.optReply(optSetMetaContext, repMetaContext, payload(uint32(7), "base:allocation"))
	f.optReply(optSetMetaContext, repAck, nil)
	f.optReply(optGo, repInfo, payload(uint16(infoExport), size, uint16(FlagHasFlags|FlagReadOnly)))
	f.optReply(optGo, repInfo, payload(uint16(infoBlockSize), uint32(512), uint32(4096), uint32(1<<20)))
	f.optReply(optGo, repAck, nil)
	return f
}

// fakeDial connects to the bytes of f.
func fakeDial(f *frames) (*Conn, error) {
	return Connect(context.Background(), &fakeConn{r: bytes.NewReader(f.Bytes())}, &Options{MetaContexts: []string{"base:allocation"}})
}
