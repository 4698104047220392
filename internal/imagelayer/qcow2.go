package imagelayer

import (
	"fmt"
	"iter"

	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/qcow2"
)

// qcow2Layer is a qcow2 file, its metadata decoded.
type qcow2Layer struct {
	*file
	q *qcow2.Image
	dataState
}

func (l *qcow2Layer) Format() string        { return FormatQcow2 }
func (l *qcow2Layer) BackingFile() string   { return l.q.BackingFile }
func (l *qcow2Layer) BackingFormat() string { return l.q.BackingFormat }
func (l *qcow2Layer) VirtualSize() int64    { return int64(l.q.Header.Size) }
func (l *qcow2Layer) Granularity() int64    { return l.q.Header.SubclusterSize() }
func (l *qcow2Layer) MappingSpan() int64    { return l.q.Header.L1Span() }
func (l *qcow2Layer) Image() *qcow2.Image   { return l.q }

// Allocated walks the active tables; a busy file's are stale on disk (the
// process that writes keeps them in memory), so they are refused.
func (l *qcow2Layer) Allocated(off, end int64) iter.Seq2[extent.Extent, error] {
	if l.busy {
		return func(yield func(extent.Extent, error) bool) {
			yield(extent.Extent{}, l.staleErr())
		}
	}
	return l.q.AllocatedRange(l.q.ActiveView(), off, end)
}

// staleErr is the error of reading the active tables of a file another
// process holds for writing (opened with ForceShare): the process keeps
// them in memory, and the file lags behind.
func (l *qcow2Layer) staleErr() error {
	return fmt.Errorf("%s: %w: its active tables on disk are stale", l.path, ErrBusy)
}
