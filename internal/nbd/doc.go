// Package nbd is a pure-Go client for the Network Block Device protocol,
// enough to learn which ranges of an export are allocated or dirty and to
// read its data: the fixed-newstyle handshake (NBD_OPT_STRUCTURED_REPLY,
// NBD_OPT_LIST_META_CONTEXT, NBD_OPT_SET_META_CONTEXT, NBD_OPT_GO with
// NBD_INFO_EXPORT and NBD_INFO_BLOCK_SIZE), then NBD_CMD_BLOCK_STATUS,
// NBD_CMD_READ and NBD_CMD_DISC over unix sockets or TCP. It follows
// proto.md of the NBD project and qemu's docs/interop/nbd.rst; it is tested
// against qemu-nbd and nbdkit.
//
// [Dial] negotiates and returns a [Conn]; [Negotiate] gives a [Handshake]
// for listing contexts before choosing. [Conn.BlockStatus] yields the
// extents of a meta context ("base:allocation", "qemu:dirty-bitmap:NAME",
// "qemu:allocation-depth") over a range, looping over partial answers and
// clipping overshooting ones. [Walk] does the same across reconnects: when a
// connection drops it dials again and resumes at the first offset it has not
// yielded.
//
// Every call takes a context; when it is cancelled or its deadline passes,
// the pending I/O is interrupted, the call returns the context's error and
// the connection is closed (its state is unknown). Server errors come back
// as *[Error] (with the NBD errno, matching syscall.Errno via errors.Is) or
// *[OptionError] during the handshake, and leave the connection usable;
// protocol violations ([ErrProtocol]) and I/O failures ([ErrDisconnected])
// close it.
//
// Every length read from the wire is checked before anything is allocated
// for it, and buffers grow with the bytes actually received.
//
// Not implemented: TLS (NBD_OPT_STARTTLS), extended headers (64-bit
// lengths, NBD_OPT_EXTENDED_HEADERS), writes, oldstyle and
// non-fixed newstyle servers, servers without NBD_OPT_GO, and pipelining
// (one request at a time per connection).
package nbd
