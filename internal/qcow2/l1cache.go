package qcow2

import "sync"

// l1CacheEntries is how many L1 tables an Image keeps decoded. Ranged walks
// (DiffRange, AllocatedRange) page through a disk range by range; the cache
// spares them reading and checking the whole L1 table again for every page.
// Each table is at most MaxL1Bytes and lies inside the file.
const l1CacheEntries = 4

// l1Cache keeps the last few L1 tables read, keyed by offset and size. Tables
// handed out are shared and never modified.
type l1Cache struct {
	mu      sync.Mutex
	entries []l1Item // most recent last
}

type l1Item struct {
	off   uint64
	n     uint32
	table []uint64
}

// cachedL1 returns the checked L1 table of a view from the cache, or reads it.
// The caller must not modify the table.
func (img *Image) cachedL1(v View) ([]uint64, error) {
	c := &img.l1
	c.mu.Lock()
	for k, it := range c.entries {
		if it.off == v.L1TableOffset && it.n == v.L1Size {
			c.entries = append(append(c.entries[:k:k], c.entries[k+1:]...), it)
			c.mu.Unlock()
			return it.table, nil
		}
	}
	c.mu.Unlock()
	t, err := img.readL1(v)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= l1CacheEntries {
		c.entries = append(c.entries[:0:0], c.entries[1:]...)
	}
	c.entries = append(c.entries, l1Item{off: v.L1TableOffset, n: v.L1Size, table: t})
	return t, nil
}
