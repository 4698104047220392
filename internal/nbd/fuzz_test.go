package nbd

import (
	"bytes"
	"context"
	"runtime"
	"testing"
)

// allocBound is what one input may cost: a fixed allowance for buffers
// (bufio, one growth step) plus a multiple of the input's size.
func allocBound(n int) uint64 { return 1<<20 + 8*uint64(n) }

func checkAlloc(t *testing.T, n int, f func()) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > allocBound(n) {
		t.Fatalf("allocated %d bytes for %d input bytes", got, n)
	}
}

func clientSeeds(f *testing.F) {
	f.Add(handshakeFrames(1 << 20).Bytes())
	fr := handshakeFrames(1 << 20)
	fr.chunk(0, replyBlockStatus, 1, payload(uint32(7), uint32(65536), uint32(0), uint32(131072), uint32(3)))
	fr.chunk(replyFlagDone, replyBlockStatus, 1, payload(uint32(9), uint32(4096), uint32(0)))
	fr.chunk(replyFlagDone, replyBlockStatus, 2, payload(uint32(7), uint32(4<<20), uint32(1)))
	fr.chunk(0, replyOffsetData, 3, append(payload(uint64(0)), make([]byte, 512)...))
	fr.chunk(0, replyOffsetHole, 3, payload(uint64(512), uint32(3584)))
	fr.chunk(replyFlagDone, replyErrorOffset, 3, payload(uint32(5), uint16(2), "no", uint64(0)))
	f.Add(fr.Bytes())
	g := &frames{}
	g.greeting()
	g.optReply(optStructuredReply, repAck, nil)
	g.optReply(optSetMetaContext, repMetaContext, payload(uint32(0), "base:allocation"))
	g.optReply(optSetMetaContext, repAck, nil)
	g.optReply(optGo, repErrBit|1, []byte("unsupported"))
	f.Add(g.Bytes())
	h := &frames{}
	h.greeting()
	h.optReply(optStructuredReply, repAck, nil)
	h.optReply(optSetMetaContext, repAck, payload(uint32(1<<30)))
	f.Add(h.Bytes())
}

// FuzzClient feeds arbitrary server bytes to the whole client: greeting,
// option replies, then block status and read replies. No panic, and the
// allocations stay bounded by the input's size.
func FuzzClient(f *testing.F) {
	clientSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		buf := make([]byte, 4096)
		checkAlloc(t, len(data), func() {
			c, err := Connect(context.Background(), &fakeConn{r: bytes.NewReader(data)}, &Options{MetaContexts: []string{"base:allocation"}})
			if err != nil {
				return
			}
			next := uint64(0)
			for e, err := range c.BlockStatus(context.Background(), "base:allocation", 0, c.Size()) {
				if err != nil {
					break
				}
				if e.Offset != next || e.Length == 0 || e.End() > c.Size() {
					t.Fatalf("extent %+v, expected offset %d within %d", e, next, c.Size())
				}
				next = e.End()
			}
			n := min(uint64(len(buf)), c.Size())
			if mb := uint64(max(c.Info().MinBlock, 1)); n%mb != 0 && n != c.Size() {
				n -= n % mb
			}
			_ = c.ReadAt(context.Background(), buf[:n], 0)
			_ = c.Close()
		})
	})
}

// FuzzDecoders runs the frame decoders on arbitrary bytes: option replies
// with their payloads (meta context, info, error text), reply chunk headers
// with error and block status payloads.
func FuzzDecoders(f *testing.F) {
	f.Add(new(frames).optReply(optGo, repInfo, payload(uint16(infoExport), uint64(1<<20), uint16(3))).Bytes())
	f.Add(new(frames).optReply(optGo, repInfo, payload(uint16(infoBlockSize), uint32(512), uint32(4096), uint32(1<<25))).Bytes())
	f.Add(new(frames).optReply(optSetMetaContext, repMetaContext, payload(uint32(2), "qemu:dirty-bitmap:bm1")).Bytes())
	f.Add(new(frames).optReply(optGo, repErrBit|2, []byte("policy")).Bytes())
	f.Add(new(frames).chunk(1, replyBlockStatus, 1, payload(uint32(0), uint32(65536), uint32(1), uint32(65536), uint32(0))).Bytes())
	f.Add(new(frames).chunk(1, replyError, 1, payload(uint32(22), uint16(3), "bad")).Bytes())
	f.Add(new(frames).u32(magicSimple).u32(5).u64(1).Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		checkAlloc(t, len(data), func() {
			if rep, err := readOptReply(bytes.NewReader(data)); err == nil {
				var ei ExportInfo
				_, _ = ei.parseInfo(rep.data)
				_, _ = parseMetaContext(rep.data)
				_ = rep.optionError().Error()
			}
			r := bytes.NewReader(data)
			h, err := readChunkHeader(r)
			if err != nil || !h.structured {
				return
			}
			b, err := readN(r, nil, int(min(h.length, maxBlockStatusChunk)))
			if err != nil {
				return
			}
			if h.typ&replyErrBit != 0 {
				if e, err := parseErrorChunk(h.typ, b); err == nil {
					_ = e.Error()
				}
				return
			}
			const off, n = 1000, 1 << 20
			_, es, err := parseBlockStatus(nil, b, off, off+n)
			if err != nil {
				return
			}
			at := uint64(off)
			for _, e := range es {
				if e.Offset != at || e.Length == 0 || e.End() > off+n {
					t.Fatalf("extent %+v at %d", e, at)
				}
				at = e.End()
			}
		})
	})
}
