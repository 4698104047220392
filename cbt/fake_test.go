package cbt

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"

	"github.com/changedblocks/sdk/cbt/driver"
	"github.com/changedblocks/sdk/extent"
)

// pager is a driver that answers from a fixed truth set, cutting pages at
// random (deterministic per seed), sometimes reporting whole extents beyond
// the window it answers, as real platforms do.
type pager struct {
	info     driver.Info
	truth    []extent.Extent // sorted, disjoint
	rng      *rand.Rand
	maxPage  int64 // widest window per answer
	maxCount int   // most extents per answer
	unclip   bool  // report extents whole instead of clipped to the window

	mu     sync.Mutex
	calls  int
	closed int
	since  []string
	err    error                    // returned by every call when set
	hook   func(req driver.Request) // called at the start of each call
}

func newPager(seed uint64, capacity int64, truth []extent.Extent) *pager {
	return &pager{
		info:     driver.Info{Name: "fake0", Scheme: "fake", Capacity: capacity, Granularity: 1, ChangeID: "p2"},
		truth:    truth,
		rng:      rand.New(rand.NewPCG(seed, 7)),
		maxPage:  capacity,
		maxCount: 1 << 30,
	}
}

func (p *pager) Info() driver.Info { return p.info }

func (p *pager) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed++
	return nil
}

func (p *pager) ChangedExtents(ctx context.Context, req driver.Request, buf []extent.Extent) ([]extent.Extent, int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	p.since = append(p.since, req.Since)
	if p.hook != nil {
		p.hook(req)
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	if p.err != nil {
		return nil, 0, p.err
	}
	next := req.Offset + 1 + p.rng.Int64N(min(p.maxPage, req.End-req.Offset))
	out := buf[:0]
	for _, e := range p.truth {
		if e.End() <= req.Offset || e.Offset >= next {
			continue
		}
		if len(out) == p.maxCount {
			next = max(e.Offset, req.Offset+1)
			break
		}
		if !p.unclip {
			e, _ = extent.ClipTo(e, req.Offset, next)
		}
		out = append(out, e)
	}
	return out, next, nil
}

// scripted answers with fixed pages, for contract violations.
type scripted struct {
	info  driver.Info
	pages []scriptPage
	n     int
}

type scriptPage struct {
	exts []extent.Extent
	next int64
	err  error
}

func (s *scripted) Info() driver.Info { return s.info }
func (s *scripted) Close() error      { return nil }
func (s *scripted) ChangedExtents(ctx context.Context, req driver.Request, buf []extent.Extent) ([]extent.Extent, int64, error) {
	if s.n >= len(s.pages) {
		return nil, 0, errors.New("scripted: no more pages")
	}
	pg := s.pages[s.n]
	s.n++
	return append(buf[:0], pg.exts...), pg.next, pg.err
}
