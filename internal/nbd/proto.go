package nbd

// Protocol constants (proto.md of the NBD project; qemu's nbd.rst for the
// qemu: contexts).
const (
	magicNBD       = 0x4e42444d41474943 // "NBDMAGIC"
	magicIHaveOpt  = 0x49484156454F5054 // "IHAVEOPT"
	magicOldstyle  = 0x0000420281861253
	magicOptReply  = 0x0003e889045565a9
	magicRequest   = 0x25609513
	magicSimple    = 0x67446698
	magicStructure = 0x668e33ef

	flagFixedNewstyle  = 1 << 0 // server handshake flag
	flagNoZeroes       = 1 << 1
	flagCFixedNewstyle = 1 << 0 // client flag
	flagCNoZeroes      = 1 << 1

	optAbort           = 2
	optGo              = 7
	optStructuredReply = 8
	optListMetaContext = 9
	optSetMetaContext  = 10

	repAck         = 1
	repServer      = 2
	repInfo        = 3
	repMetaContext = 4
	repErrBit      = 1 << 31

	infoExport    = 0
	infoBlockSize = 3

	cmdRead        = 0
	cmdDisc        = 2
	cmdBlockStatus = 7

	replyFlagDone = 1 << 0

	replyNone        = 0
	replyOffsetData  = 1
	replyOffsetHole  = 2
	replyBlockStatus = 5
	replyErrBit      = 1 << 15
	replyError       = replyErrBit | 1
	replyErrorOffset = replyErrBit | 2
)

// Transmission flags (NBD_FLAG_*) as reported by [Conn.Flags].
const (
	FlagHasFlags     = 1 << 0
	FlagReadOnly     = 1 << 1
	FlagSendFlush    = 1 << 2
	FlagSendFUA      = 1 << 3
	FlagRotational   = 1 << 4
	FlagSendTrim     = 1 << 5
	FlagWriteZeroes  = 1 << 6
	FlagSendDF       = 1 << 7
	FlagCanMultiConn = 1 << 8
	FlagCache        = 1 << 10
	FlagFastZero     = 1 << 11
)

// Status bits of the contexts the SDK uses.
const (
	StateHole  = 1 << 0 // base:allocation
	StateZero  = 1 << 1 // base:allocation
	StateDirty = 1 << 0 // qemu:dirty-bitmap:NAME
)

// Well-known meta context names.
const (
	ContextBaseAllocation           = "base:allocation"
	ContextAllocationDepth          = "qemu:allocation-depth"
	ContextDirtyBitmapPrefix        = "qemu:dirty-bitmap:"
	maxStringLen                    = 4096 // proto.md: strings are at most 4096 bytes
	maxOptReplyLen                  = 1 << 16
	maxExtentsPerChunk              = 1 << 20 // proto.md: servers SHOULD send at most 2^20 extents
	maxBlockStatusChunk             = 4 + 8*maxExtentsPerChunk
	maxErrorChunk                   = 4 + 2 + maxStringLen + 8
	maxBlockStatusReq        uint64 = 1<<32 - 1
	defaultMaxRead                  = 32 << 20 // proto.md: 32 MiB is the default maximum without NBD_INFO_BLOCK_SIZE
	growStep                        = 64 << 10
)
