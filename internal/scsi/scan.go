package scsi

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"

	"github.com/changedblocks/sdk/extent"
)

// Form selects which GET LBA STATUS command Scan sends.
type Form int

const (
	// FormAuto sends GET LBA STATUS(32) and falls back to GET LBA STATUS(16)
	// when the first one is ErrUnsupported: the device answers ILLEGAL
	// REQUEST, invalid operation code, or the host cannot send 32-byte CDBs.
	FormAuto Form = iota
	// Form32 sends only GET LBA STATUS(32), the form with a scan length,
	// which bounds the blocks one command examines (ScanOptions.WindowBytes).
	Form32
	// Form16 sends only GET LBA STATUS(16), which has no scan length but, on
	// Linux, needs no CAP_SYS_RAWIO.
	Form16
)

// DefaultWindowBytes is the scan length Scan asks for when
// ScanOptions.WindowBytes is 0: 1 GiB, so that each command examines a
// bounded range and its answer comes promptly.
const DefaultWindowBytes = 1 << 30

// maxScanLen is the largest SCAN LENGTH, in logical blocks: the field has
// 32 bits.
const maxScanLen = 1<<32 - 1

// DefaultMaxAllocation is the default allocation length: a header and 2047
// descriptors.
const DefaultMaxAllocation = lbaHeaderLen + 2047*lbaDescLen

// maxAllocation bounds ScanOptions.MaxAllocation.
const maxAllocation = 16 << 20

// ScanOptions tunes Scan. A nil *ScanOptions means defaults.
type ScanOptions struct {
	// Start and Length bound the scan in bytes; Length 0 means to the end.
	Start, Length int64
	// MaxAllocation is the allocation length of each GET LBA STATUS, at least
	// 24 bytes, at most 16 MiB, rounded down to a whole number of
	// descriptors; 0 means DefaultMaxAllocation.
	MaxAllocation uint32
	// Logger receives a debug record per command; nil is silent.
	Logger *slog.Logger
	// Form selects the command; the zero value is FormAuto.
	Form Form
	// ReportType is the REPORT TYPE sent; the zero value asks for every LBA
	// (ReportAll). Whatever the device answers is filtered here as well:
	// blocks count as changed unless a descriptor reports them deallocated.
	ReportType byte
	// WindowBytes is the scan length of each GET LBA STATUS(32), in bytes,
	// converted to logical blocks (at least one, at most 2^32-1, what the
	// SCAN LENGTH field holds); 0 means DefaultWindowBytes. A platform that
	// defines results only for shorter scans sets it.
	WindowBytes int64
	// Retries is how many times a command is sent again after UNIT
	// ATTENTION; 0 means 5, a negative value none.
	Retries int
	// Capacity, when not nil, is used instead of sending READ CAPACITY(16).
	Capacity *Capacity
}

// Scan yields, ascending and coalesced, the byte ranges of the blocks that
// no descriptor of the device reports deallocated (see Deallocated), within
// [Start, Start+Length) of the device: blocks inside a scanned window that
// no descriptor covers are yielded too, so every block that may map storage
// of its own is in a yielded range.
//
// It sends READ CAPACITY(16) (unless opts.Capacity is set) and then GET LBA
// STATUS windows of WindowBytes worth of logical blocks, continuing after
// the last descriptor on completion condition 1 (or 0), after the window on 2,
// and stopping on 3. An error is yielded once and ends the sequence. Errors:
// ErrInvalid (bad options, or the device rejected a field of the command),
// ErrUnsupported (the device knows neither command, or the form asked for),
// ErrMalformed (a malformed answer), ErrBusy (UNIT ATTENTION persisted),
// the device's own errors, and context errors as they are.
func Scan(ctx context.Context, dev Device, opts *ScanOptions) iter.Seq2[extent.Extent, error] {
	return func(yield func(extent.Extent, error) bool) {
		s, err := newScanner(ctx, dev, opts)
		if err != nil {
			yield(extent.Extent{}, err)
			return
		}
		if err := s.run(ctx, yield); err != nil {
			yield(extent.Extent{}, err)
		}
	}
}

// scanner holds the state of one Scan.
type scanner struct {
	dev         Device
	o           ScanOptions
	log         *slog.Logger
	bs          int64  // logical block length
	capBlocks   uint64 // capacity in blocks
	start, end  int64  // byte range asked for, clipped to the capacity
	window      uint32 // scan length in blocks
	form        Form
	buf         []byte
	co          extent.Coalescer // merges the runs of adjacent windows and descriptors
	stopped     bool             // the consumer stopped the iteration
	yieldExtent func(extent.Extent, error) bool
}

func newScanner(ctx context.Context, dev Device, opts *ScanOptions) (*scanner, error) {
	s := &scanner{dev: dev}
	if opts != nil {
		s.o = *opts
	}
	o := &s.o
	if o.Start < 0 || o.Length < 0 {
		return nil, fmt.Errorf("%w: scan start %d and length %d must not be negative", ErrInvalid, o.Start, o.Length)
	}
	if o.WindowBytes < 0 {
		return nil, fmt.Errorf("%w: scan window of %d bytes is negative", ErrInvalid, o.WindowBytes)
	}
	if o.Form < FormAuto || o.Form > Form16 {
		return nil, fmt.Errorf("%w: unknown command form %d", ErrInvalid, o.Form)
	}
	alloc := o.MaxAllocation
	if alloc == 0 {
		alloc = DefaultMaxAllocation
	}
	if alloc < minLBAStatLen || alloc > maxAllocation {
		return nil, fmt.Errorf("%w: allocation length %d is outside %d..%d", ErrInvalid, alloc, minLBAStatLen, maxAllocation)
	}
	alloc = lbaHeaderLen + (alloc-lbaHeaderLen)/lbaDescLen*lbaDescLen
	if o.Retries == 0 {
		o.Retries = defaultRetries
	}
	s.log = o.Logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if o.Retries < 0 {
		o.Retries = 0
	}
	var c Capacity
	if o.Capacity != nil {
		c = *o.Capacity
	} else {
		var err error
		if c, err = readCapacity(ctx, dev, o.Retries, s.log); err != nil {
			return nil, err
		}
	}
	capBytes, err := c.Bytes()
	if err != nil {
		return nil, err
	}
	s.bs, s.capBlocks = int64(c.BlockSize), c.Blocks
	if o.Start > capBytes {
		return nil, fmt.Errorf("%w: scan start %d is beyond the capacity of %d bytes", ErrInvalid, o.Start, capBytes)
	}
	s.start, s.end = o.Start, capBytes
	if o.Length > 0 && o.Length < capBytes-o.Start {
		s.end = o.Start + o.Length
	}
	wb := o.WindowBytes
	if wb == 0 {
		wb = DefaultWindowBytes
	}
	if wb/s.bs > maxScanLen {
		return nil, fmt.Errorf("%w: scan window of %d bytes is more than the %d blocks of %d bytes a SCAN LENGTH holds", ErrInvalid, wb, uint64(maxScanLen), s.bs)
	}
	s.window = uint32(max(wb/s.bs, 1))
	s.form = o.Form
	s.buf = make([]byte, alloc)
	if !c.LBPME {
		s.log.DebugContext(ctx, "scsi: the LUN does not report logical block provisioning (LBPME=0)")
	}
	return s, nil
}

// run scans [start, end) and yields the changed extents; it returns the error
// to yield.
func (s *scanner) run(ctx context.Context, yield func(extent.Extent, error) bool) error {
	s.yieldExtent = yield
	lba := uint64(s.start / s.bs)
	endLBA := uint64((s.end + s.bs - 1) / s.bs)
	for lba < endLBA && !s.stopped {
		next, err := s.step(ctx, lba, endLBA)
		if err != nil {
			return err
		}
		lba = next
	}
	if out, ok := s.co.Flush(); ok && !s.stopped {
		s.yieldExtent(out, nil)
	}
	return nil
}

// step sends one GET LBA STATUS from lba, emits the changed blocks of the
// part of [lba, endLBA) it answered, and returns the LBA to continue from.
func (s *scanner) step(ctx context.Context, lba, endLBA uint64) (uint64, error) {
	scanLen := uint32(min(uint64(s.window), endLBA-lba))
	req := LBAStatusRequest{StartLBA: lba, AllocLen: uint32(len(s.buf)), ReportType: s.o.ReportType, ScanLen: scanLen}
	form := s.form
	var cdb []byte
	if form == Form16 {
		cdb = GetLBAStatus16CDB(req)
	} else {
		cdb = GetLBAStatus32CDB(req)
	}
	clear(s.buf) // no stale byte of an earlier answer can pass for a descriptor
	n, err := execRetry(ctx, s.dev, cdb, s.buf, s.o.Retries, s.log)
	if err != nil {
		if form == FormAuto && errors.Is(err, ErrUnsupported) {
			// The device (ILLEGAL REQUEST, invalid opcode) or the host (SG_IO
			// refusing a 32-byte CDB) cannot take the long form.
			s.log.DebugContext(ctx, "scsi: GET LBA STATUS(32) is not supported, falling back to GET LBA STATUS(16)", "err", err)
			s.form = Form16
			return lba, nil
		}
		return 0, fmt.Errorf("scsi: GET LBA STATUS(%d) at LBA %d: %w", len(cdb), lba, err)
	}
	if form == FormAuto {
		s.form = Form32 // the device knows the 32-byte command: no fallback later
	}
	st, err := DecodeLBAStatus(s.buf[:n])
	if err != nil {
		return 0, fmt.Errorf("scsi: GET LBA STATUS(%d) at LBA %d: %w", len(cdb), lba, err)
	}
	s.log.DebugContext(ctx, "scsi: GET LBA STATUS", "cdb_len", len(cdb), "lba", lba, "scan_len", scanLen,
		"condition", st.Condition, "rtp", st.RTP, "descriptors", len(st.Descriptors), "truncated", st.Truncated)

	// Check the descriptors ascend without overlap: an answer that
	// contradicts itself cannot be trusted to prove a block unchanged.
	var lastEnd uint64
	for i, d := range st.Descriptors {
		if d.Blocks == 0 {
			continue
		}
		if i > 0 && d.LBA < lastEnd {
			return 0, fmt.Errorf("%w: GET LBA STATUS at LBA %d: descriptor %d (LBA %d) overlaps or precedes the one before (ending at %d)",
				ErrMalformed, lba, i, d.LBA, lastEnd)
		}
		lastEnd = d.End()
	}
	var next uint64
	switch {
	case st.Truncated:
		// The allocation length cut the answer: what the missing descriptors
		// said is unknown, whatever the completion condition claims.
		next = lastEnd
	case st.Condition == CondCapacity:
		next = s.capBlocks
	case st.Condition == CondScanLen && len(cdb) == 32:
		next = lba + uint64(scanLen)
	default: // 0, 1, reserved values, or 2 without a scan length: what the descriptors cover
		next = lastEnd
	}
	if next <= lba {
		return 0, fmt.Errorf("%w: GET LBA STATUS at LBA %d made no progress (completion condition %d, %d descriptors, the last ending at LBA %d)",
			ErrMalformed, lba, st.Condition, len(st.Descriptors), lastEnd)
	}
	s.emitWindow(lba, min(next, endLBA), st.Descriptors)
	return next, nil
}

// emitWindow emits [from, to) minus the blocks descriptors report as
// deallocated.
func (s *scanner) emitWindow(from, to uint64, descs []LBADescriptor) {
	cur := from
	for _, d := range descs {
		if d.Blocks == 0 || !Deallocated(d.Provisioning) {
			continue
		}
		ds, de := max(d.LBA, from), min(d.End(), to)
		if ds >= de {
			continue
		}
		if ds > cur {
			s.emit(cur, ds)
		}
		cur = max(cur, de)
	}
	if cur < to {
		s.emit(cur, to)
	}
}

// emit adds the blocks [from, to), as bytes clipped to the range asked for,
// to the coalescer, yielding what it completes.
func (s *scanner) emit(from, to uint64) {
	if s.stopped {
		return
	}
	e, ok := extent.ClipTo(extent.FromRange(int64(from)*s.bs, int64(to)*s.bs), s.start, s.end)
	if !ok {
		return
	}
	if out, ok := s.co.Push(e); ok && !s.yieldExtent(out, nil) {
		s.stopped = true
	}
}
