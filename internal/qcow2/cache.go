package qcow2

import (
	"container/list"
	"sync"
)

// l2Cache is a least-recently-used cache of decoded L2 tables keyed by their
// host offset, bounded in bytes. It is safe for concurrent use. Tables handed
// out stay valid after eviction (they are never modified).
type l2Cache struct {
	mu       sync.Mutex
	capBytes int64
	used     int64
	lru      list.List // of *l2Item, most recent at the front
	items    map[uint64]*list.Element

	hits, misses, evictions int64
}

type l2Item struct {
	off   uint64
	table []uint64
}

func newL2Cache(capBytes int64) *l2Cache {
	return &l2Cache{capBytes: capBytes, items: map[uint64]*list.Element{}}
}

func (c *l2Cache) get(off uint64) ([]uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[off]; ok {
		c.lru.MoveToFront(e)
		c.hits++
		return e.Value.(*l2Item).table, true
	}
	c.misses++
	return nil, false
}

func (c *l2Cache) put(off uint64, t []uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[off]; ok {
		return
	}
	size := int64(len(t)) * 8
	for c.used+size > c.capBytes && c.lru.Len() > 0 {
		back := c.lru.Back()
		it := back.Value.(*l2Item)
		c.lru.Remove(back)
		delete(c.items, it.off)
		c.used -= int64(len(it.table)) * 8
		c.evictions++
	}
	c.items[off] = c.lru.PushFront(&l2Item{off: off, table: t})
	c.used += size
}

// stats returns the cached bytes and the hit, miss and eviction counts.
func (c *l2Cache) stats() (used, hits, misses, evictions int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used, c.hits, c.misses, c.evictions
}
