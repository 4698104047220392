package scsimodel

import (
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/scsi"
)

// Run is a run of logical blocks with one provisioning status.
type Run struct {
	LBA, Blocks uint64
	// Status is the provisioning status reported (scsi.ProvMapped, ...).
	Status byte
}

// End returns the LBA after the run.
func (r Run) End() uint64 { return r.LBA + r.Blocks }

// LUN is the model of a thin LUN. Set its fields before the first command;
// while commands run, only the methods may be used. It is safe for
// concurrent use.
type LUN struct {
	// BlockSize is the logical block length in bytes.
	BlockSize uint32
	// Blocks is the capacity in logical blocks.
	Blocks uint64
	// Runs are the blocks that are not deallocated, ascending and not
	// overlapping, each with its provisioning status. Every other block is
	// deallocated (status 1).
	Runs []Run
	// Data, when set, serves READ(16); without it READ(16) is an invalid opcode.
	Data io.ReaderAt

	// MaxDescriptors caps the descriptors of one GET LBA STATUS answer; 0
	// means as many as the allocation length holds.
	MaxDescriptors int
	// LimitCondition is the completion condition reported when MaxDescriptors
	// or the allocation length cut an answer short; 0 means 1 (met the
	// allocation length). Set NoCompletionCondition to report 0.
	LimitCondition byte
	// NoCompletionCondition makes every answer report completion condition 0,
	// as older devices (and tgt) do.
	NoCompletionCondition bool
	// Truncate builds each answer without regard to the allocation length and
	// cuts the bytes at it (the SPC rule): the PARAMETER DATA LENGTH tells the
	// full length and the last descriptor sent may be partial.
	Truncate bool
	// IgnoreReportType answers every LBA whatever the REPORT TYPE, with RTP 0.
	IgnoreReportType bool
	// IgnoreScanLength answers past the scan length, up to the capacity.
	IgnoreScanLength bool
	// OvershootStart makes the first descriptor start where its run starts,
	// before the starting LBA asked for.
	OvershootStart bool
	// UnitAttentions is how many of the next commands get UNIT ATTENTION
	// (29h/00, power on or reset) instead of an answer.
	UnitAttentions int
	// No32 answers GET LBA STATUS(32) with ILLEGAL REQUEST, invalid opcode
	// (20h/00), as tgt does; No16 does the same for GET LBA STATUS(16).
	No32, No16 bool
	// DescriptorSense sends sense data in descriptor format instead of fixed.
	DescriptorSense bool
	// LBPRZ is reported in READ CAPACITY(16); LBPME is always set.
	LBPRZ bool

	mu     sync.Mutex
	closed bool
	cmds   [][]byte
}

// New returns a LUN of capacity bytes in blocks of blockSize bytes whose
// changed byte ranges are changed: they are widened to whole blocks and
// reported as mapped (status 3); every other block is deallocated. Errors:
// scsi.ErrInvalid for a capacity that is not a positive multiple of the
// block size, or a changed range outside the capacity.
func New(capacity int64, blockSize uint32, changed []extent.Extent) (*LUN, error) {
	if blockSize == 0 || capacity <= 0 || capacity%int64(blockSize) != 0 {
		return nil, fmt.Errorf("%w: scsimodel: capacity %d must be a positive multiple of the block size %d", scsi.ErrInvalid, capacity, blockSize)
	}
	bs := int64(blockSize)
	var runs []Run
	for _, e := range changed {
		if e.IsEmpty() {
			continue
		}
		if !e.Valid() || e.End() > capacity {
			return nil, fmt.Errorf("%w: scsimodel: changed range %v is outside the capacity %d", scsi.ErrInvalid, e, capacity)
		}
		r := Run{LBA: uint64(e.Offset / bs), Status: scsi.ProvMapped}
		r.Blocks = uint64((e.End()+bs-1)/bs) - r.LBA
		runs = append(runs, r)
	}
	slices.SortFunc(runs, func(a, b Run) int { return compareU64(a.LBA, b.LBA) })
	merged := runs[:0]
	for _, r := range runs {
		if n := len(merged); n > 0 && merged[n-1].End() >= r.LBA {
			merged[n-1].Blocks = max(merged[n-1].End(), r.End()) - merged[n-1].LBA
			continue
		}
		merged = append(merged, r)
	}
	return &LUN{BlockSize: blockSize, Blocks: uint64(capacity / bs), Runs: merged}, nil
}

func compareU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Truth returns the byte ranges of the blocks whose provisioning status is
// not deallocated (see scsi.Deallocated), ascending and coalesced: what a
// correct scan of the whole LUN must cover.
func (l *LUN) Truth() []extent.Extent {
	var out []extent.Extent
	var co extent.Coalescer
	bs := int64(l.BlockSize)
	for _, r := range l.Runs {
		if scsi.Deallocated(r.Status) || r.Blocks == 0 {
			continue
		}
		if e, ok := co.Push(extent.Extent{Offset: int64(r.LBA) * bs, Length: int64(r.Blocks) * bs}); ok {
			out = append(out, e)
		}
	}
	if e, ok := co.Flush(); ok {
		out = append(out, e)
	}
	return out
}

// Commands returns copies of the CDBs received so far, in order.
func (l *LUN) Commands() [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([][]byte, len(l.cmds))
	for i, c := range l.cmds {
		out[i] = slices.Clone(c)
	}
	return out
}

// Close marks the LUN closed: later commands fail with scsi.ErrClosed.
func (l *LUN) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	return nil
}

// checkRuns reports Runs that do not ascend without overlap or that pass
// the capacity: a bug of the test that set them.
func (l *LUN) checkRuns() error {
	var end uint64
	for i, r := range l.Runs {
		if r.LBA < end || r.End() < r.LBA || r.End() > l.Blocks {
			return fmt.Errorf("%w: scsimodel: Runs[%d] = %+v overlaps the run before, or passes the capacity of %d blocks", scsi.ErrInvalid, i, r, l.Blocks)
		}
		end = r.End()
	}
	return nil
}

var _ scsi.Device = (*LUN)(nil)
