package scsimodel

import (
	"sort"

	"github.com/changedblocks/sdk/internal/scsi"
)

// getLBAStatus answers GET LBA STATUS(16) or, with long set, (32).
func (l *LUN) getLBAStatus(req scsi.LBAStatusRequest, long bool, dataIn []byte) (int, error) {
	if err := l.checkRuns(); err != nil {
		return 0, err
	}
	if req.StartLBA >= l.Blocks {
		return 0, l.lbaOutOfRange()
	}
	match, ok := reportFilter(req.ReportType)
	if !ok && !l.IgnoreReportType {
		return 0, l.invalidField()
	}
	if l.IgnoreReportType {
		match = func(byte) bool { return true }
	}
	scanEnd := l.Blocks
	if long && req.ScanLen != 0 && !l.IgnoreScanLength {
		scanEnd = min(l.Blocks, req.StartLBA+uint64(req.ScanLen))
	}
	limit := maxAnswerDescriptors
	if l.MaxDescriptors > 0 {
		limit = min(limit, l.MaxDescriptors)
	}
	if !l.Truncate {
		fit := 0
		if req.AllocLen >= 8 {
			fit = int(min(uint64(req.AllocLen-8)/16, uint64(maxAnswerDescriptors)))
		}
		limit = min(limit, fit)
	}
	var descs []scsi.LBADescriptor
	cut := false
	l.regions(req.StartLBA, scanEnd, func(r Run) bool {
		if !match(r.Status) {
			return true
		}
		if len(descs) == limit {
			cut = true
			return false
		}
		descs = append(descs, scsi.LBADescriptor{LBA: r.LBA, Blocks: uint32(r.Blocks), Provisioning: r.Status})
		return true
	})
	st := scsi.LBAStatus{Descriptors: descs, RTP: !l.IgnoreReportType}
	switch {
	case l.NoCompletionCondition:
		st.Condition = scsi.CondNone
	case cut:
		st.Condition = l.LimitCondition
		if st.Condition == 0 {
			st.Condition = scsi.CondAllocLen
		}
	case scanEnd < l.Blocks:
		st.Condition = scsi.CondScanLen
	default:
		st.Condition = scsi.CondCapacity
	}
	ans := scsi.AppendLBAStatus(nil, st)
	n := min(uint64(req.AllocLen), uint64(len(ans)))
	return copy(dataIn, ans[:n]), nil
}

// reportFilter returns which provisioning statuses a REPORT TYPE selects.
func reportFilter(rt byte) (func(byte) bool, bool) {
	switch rt {
	case scsi.ReportAll:
		return func(byte) bool { return true }, true
	case scsi.ReportNonZero:
		return func(s byte) bool { return s != 0 }, true
	case scsi.ReportMapped:
		return func(s byte) bool { return s == scsi.ProvMappedOrUnknown || s == scsi.ProvMapped }, true
	case scsi.ReportDeallocated:
		return func(s byte) bool { return s == scsi.ProvDeallocated }, true
	case scsi.ReportAnchored:
		return func(s byte) bool { return s == scsi.ProvAnchored }, true
	case scsi.ReportUnrecovered:
		return func(byte) bool { return false }, true
	}
	return nil, false
}

// regions calls yield with the runs of equal provisioning status from
// [from, to), gaps between Runs as deallocated, each at most 2^32-1 blocks,
// until yield returns false. With OvershootStart the first one starts where
// its run or gap starts.
func (l *LUN) regions(from, to uint64, yield func(Run) bool) {
	i := sort.Search(len(l.Runs), func(i int) bool { return l.Runs[i].End() > from })
	cur := from
	first := true
	for cur < to {
		var r Run
		if i < len(l.Runs) && l.Runs[i].LBA <= cur {
			r = Run{LBA: cur, Blocks: min(l.Runs[i].End(), to) - cur, Status: l.Runs[i].Status}
			if first && l.OvershootStart {
				r.Blocks += cur - l.Runs[i].LBA
				r.LBA = l.Runs[i].LBA
			}
			i++
		} else {
			end := to
			if i < len(l.Runs) {
				end = min(end, l.Runs[i].LBA)
			}
			r = Run{LBA: cur, Blocks: end - cur, Status: scsi.ProvDeallocated}
			if first && l.OvershootStart && i > 0 {
				r.Blocks += cur - l.Runs[i-1].End()
				r.LBA = l.Runs[i-1].End()
			} else if first && l.OvershootStart {
				r.Blocks += cur
				r.LBA = 0
			}
		}
		first = false
		cur = r.End()
		for r.Blocks > 0 {
			part := r
			part.Blocks = min(r.Blocks, 0xffffffff)
			if !yield(part) {
				return
			}
			r.LBA += part.Blocks
			r.Blocks -= part.Blocks
		}
	}
}
