package libvirt

import (
	"context"
	"iter"

	"github.com/changedblocks/sdk/extent"
)

// pageSize is the most extents one page carries.
const pageSize = 4096

// pager cuts a stream of changed extents (ascending, disjoint, inside the
// run's window) into the pages cbt asks for, one after the other.
type pager struct {
	next func() (extent.Extent, error, bool)
	stop func()
	// pending is an extent pulled but not yet returned.
	pending *extent.Extent
	done    bool
}

func newPager(seq iter.Seq2[extent.Extent, error]) *pager {
	next, stop := iter.Pull2(seq)
	return &pager{next: next, stop: stop}
}

// page returns the extents of the stream that start before a page boundary
// it chooses, and where the page ends: the end of its last extent when the
// page is full, else end (the stream is exhausted).
func (p *pager) page(ctx context.Context, offset, end int64, buf []extent.Extent) ([]extent.Extent, int64, error) {
	out := buf[:0]
	for !p.done {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		var e extent.Extent
		if p.pending != nil {
			e, p.pending = *p.pending, nil
		} else {
			x, err, ok := p.next()
			if !ok {
				p.done = true
				break
			}
			if err != nil {
				p.done = true
				return nil, 0, err
			}
			e = x
		}
		if e.End() <= offset {
			continue // reported by an earlier page
		}
		if len(out) == pageSize {
			p.pending = &e
			last := out[len(out)-1].End()
			if last <= offset {
				last = offset + 1
			}
			return out, last, nil
		}
		out = append(out, e)
	}
	return out, end, nil
}

func (p *pager) close() { p.stop() }

// seqOf turns a stream with errors into a plain stream for the extent
// operations, keeping the first error in *errp.
func seqOf(seq iter.Seq2[extent.Extent, error], errp *error) iter.Seq[extent.Extent] {
	return func(yield func(extent.Extent) bool) {
		for e, err := range seq {
			if err != nil {
				if *errp == nil {
					*errp = err
				}
				return
			}
			if !yield(e) {
				return
			}
		}
	}
}
