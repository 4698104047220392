package nbd

import (
	"bytes"
	"context"
	"encoding/binary"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFakeBlockStatusLoop(t *testing.T) {
	const size = 1 << 20
	f := handshakeFrames(size)
	// Request 1 [0, 1M): partial answer up to 192K, plus a chunk for
	// another context and a trailing NONE chunk.
	f.chunk(0, replyBlockStatus, 1, payload(uint32(9), uint32(4096), uint32(0)))
	f.chunk(0, replyBlockStatus, 1, payload(uint32(7), uint32(65536), uint32(0), uint32(131072), uint32(3)))
	f.chunk(replyFlagDone, replyNone, 1, nil)
	// Request 2 [192K, 1M): one extent overshooting the request.
	f.chunk(replyFlagDone, replyBlockStatus, 2, payload(uint32(7), uint32(4<<20), uint32(1)))
	c, err := fakeDial(f)
	require.NoError(t, err)
	require.Equal(t, uint32(512), c.Info().MinBlock)
	got, _, err := collect(t, c.BlockStatus(context.Background(), "base:allocation", 0, size), 0)
	require.NoError(t, err)
	require.Equal(t, []Extent{{0, 65536, 0}, {65536, 131072, 3}, {196608, size - 196608, 1}}, got)
}

func TestFakeErrors(t *testing.T) {
	f := handshakeFrames(1 << 20)
	f.chunk(0, replyErrorOffset, 1, payload(uint32(syscall.EIO), uint16(3), "bad", uint64(4096)))
	f.chunk(replyFlagDone, replyNone, 1, nil)
	// Then a reply with a wrong cookie: protocol error, connection closed.
	f.chunk(replyFlagDone, replyBlockStatus, 99, payload(uint32(7), uint32(512), uint32(0)))
	c, err := fakeDial(f)
	require.NoError(t, err)
	err = c.ReadAt(context.Background(), make([]byte, 8192), 0)
	var ne *Error
	require.ErrorAs(t, err, &ne)
	require.Equal(t, &Error{Errno: 5, Message: "bad", Offset: 4096, HasOffset: true}, ne)
	for _, err := range c.BlockStatus(context.Background(), "base:allocation", 0, 512) {
		require.ErrorIs(t, err, ErrProtocol)
	}
	require.ErrorIs(t, c.ReadAt(context.Background(), make([]byte, 512), 0), ErrClosed)

	// Option errors.
	g := &frames{}
	g.greeting()
	g.optReply(optStructuredReply, repAck, nil)
	g.optReply(optGo, repErrBit|6, []byte("no such export"))
	_, err = Connect(context.Background(), &fakeConn{r: &g.Buffer}, nil)
	var oe *OptionError
	require.ErrorAs(t, err, &oe)
	require.Contains(t, err.Error(), "NBD_REP_ERR_UNKNOWN: no such export")

	// A server without structured replies: no meta contexts, reads work.
	h := &frames{}
	h.greeting()
	h.optReply(optStructuredReply, repErrBit|1, nil)
	h.optReply(optGo, repInfo, payload(uint16(infoExport), uint64(4096), uint16(1)))
	h.optReply(optGo, repAck, nil)
	h.u32(magicSimple).u32(0).u64(1)
	h.Write(make([]byte, 4096))
	c, err = Connect(context.Background(), &fakeConn{r: &h.Buffer}, nil)
	require.NoError(t, err)
	require.False(t, c.StructuredReplies())
	require.NoError(t, c.ReadAt(context.Background(), make([]byte, 4096), 0))
	for _, err := range c.BlockStatus(context.Background(), "base:allocation", 0, 512) {
		require.ErrorIs(t, err, ErrUnsupported)
	}
}

// TestFakeDisconnect: Close sends NBD_CMD_DISC after the last request.
func TestFakeDisconnect(t *testing.T) {
	fc := &fakeConn{r: bytes.NewReader(handshakeFrames(4096).Bytes())}
	c, err := Connect(context.Background(), fc, &Options{MetaContexts: []string{"base:allocation"}})
	require.NoError(t, err)
	require.NoError(t, c.Close())
	sent := fc.w.Bytes()
	require.GreaterOrEqual(t, len(sent), 28)
	disc := payload(uint32(magicRequest), uint16(0), uint16(cmdDisc), uint64(1), uint64(0), uint32(0))
	require.Equal(t, disc, sent[len(sent)-28:])
	// The options the client sent, in order: STRUCTURED_REPLY, SET_META_CONTEXT, GO.
	var opts []uint32
	for b := sent[4:]; len(b) >= 16 && binary.BigEndian.Uint64(b) == magicIHaveOpt; {
		opts = append(opts, binary.BigEndian.Uint32(b[8:]))
		b = b[16+binary.BigEndian.Uint32(b[12:]):]
	}
	require.Equal(t, []uint32{optStructuredReply, optSetMetaContext, optGo}, opts)
	require.Equal(t, uint32(flagCFixedNewstyle|flagCNoZeroes), binary.BigEndian.Uint32(sent))
}
