package vcsimcbt

// Defaults of Options.
const (
	// DefaultWindow is the span of disk one answer covers: 2 GiB, as a
	// PowerCLI transcript of ESXi shows (first answer StartOffset 0, Length
	// 2147483648).
	DefaultWindow int64 = 2 << 30

	// DefaultMaxExtents is the most extents one answer carries: ESXi
	// "returns maximally 2000 changed blocks" (containerized-data-importer
	// PR #3534).
	DefaultMaxExtents = 2000

	// DefaultBlockSize is the tracking granularity: writes are rounded out to
	// it in answers. ESXi's granularity depends on the disk's size; 64 KiB
	// is a common value and a modelling choice here.
	DefaultBlockSize int64 = 64 << 10
)

// Options configures a Tracker. The zero value (or nil) means the defaults.
type Options struct {
	// Window is the most bytes of disk one answer covers, counted from the
	// request's startOffset. 0 means DefaultWindow.
	Window int64

	// MaxExtents is the most extents one answer carries. 0 means
	// DefaultMaxExtents.
	MaxExtents int

	// BlockSize is the tracking granularity in bytes, a power of two. 0 means
	// DefaultBlockSize.
	BlockSize int64

	// ResetAnswersInvalidArgument makes a change ID of another tracking
	// generation (a reset happened since) fail with InvalidArgument naming
	// changeId instead of FileFault vim.hostd.vmsvc.cbt.cannotGetChanges.
	// ESXi has been seen to answer either.
	ResetAnswersInvalidArgument bool

	// EnableImmediately makes changeTrackingEnabled take effect at once on
	// powered-on VMs too, without waiting for a stun/unstun cycle (vcsim's own
	// behaviour, not ESXi's).
	EnableImmediately bool
}
