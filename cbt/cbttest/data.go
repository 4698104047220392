package cbttest

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/extent"
)

// maxDataCapacity bounds the disks whose data the suite reads whole: a
// workload holds the data of each of its points.
const maxDataCapacity = 256 << 20

// dataChecks holds, for a workload on a disk that reads (cbt.Disk.Readable),
// the data of each point read right after the point was taken.
type dataChecks struct {
	on        bool
	points    [][]byte
	now, base []byte // scratch of check
}

// readAll reads the whole disk in reads of odd sizes, so that the cuts of
// cbt and of the driver are exercised.
func readAll(t testing.TB, d *cbt.Disk, buf []byte) []byte {
	t.Helper()
	if int64(cap(buf)) < d.Capacity() {
		buf = make([]byte, d.Capacity())
	}
	buf = buf[:d.Capacity()]
	step := int64(1<<20 + 4096)
	for off := int64(0); off < d.Capacity(); off += step {
		n, err := d.ReadAt(ctxFor(t), buf[off:min(off+step, d.Capacity())], off)
		if err != nil {
			t.Fatalf("read %s at %d: %v (read %d bytes)", d.Name(), off, err, n)
		}
	}
	return buf
}

// dataEvery is how often a workload checks data: every dataEvery-th seed
// (reading whole disks costs far more than listing them).
const dataEvery = 5

// begin turns the checks on for one workload in dataEvery once the suite
// knows the platform's disks read (s.learnReadable: from the first disk a
// workload opened, so that no disk is opened only to ask).
func (c *dataChecks) begin(s *suite, seed uint64) {
	c.on = seed%dataEvery == 0 && s.readable == readableYes && s.cfg.Capacity <= maxDataCapacity
}

// Whether the platform's disks read, as far as the suite knows.
const (
	readableUnknown = iota
	readableYes
	readableNo
)

// learnReadable records whether d reads, the first time it is called.
func (s *suite) learnReadable(d *cbt.Disk) {
	if s.readable == readableUnknown {
		s.readable = readableNo
		if d.Readable() == nil {
			s.readable = readableYes
		}
	}
}

// taken records the data of a point just taken.
func (c *dataChecks) taken(t testing.TB, tg Target, id cbt.ChangeID) {
	if !c.on {
		return
	}
	d, err := tg.Open(ctxFor(t), id)
	if err != nil {
		t.Fatalf("open at %q: %v", id, err)
	}
	defer d.Close()
	if d.Readable() != nil {
		// A platform whose disks read at some points only (libvirt: a
		// shut-off domain's disk reads, a live one not yet).
		c.on, c.points = false, nil
		return
	}
	c.points = append(c.points, readAll(t, d, nil))
}

// check proves, with the data itself, what the listings of the disk at point
// j claim: the point still reads as it did when it was taken; the data at an
// earlier point i with every extent listed since i copied over it from the
// disk at j reads as the data at j (a changed byte the listing left out
// stays as it was at i); and zeros with every allocated extent copied over
// them read as the data at j (an area reported unallocated reads as zeros).
// The earlier points are the first and the one before j.
func (c *dataChecks) check(t testing.TB, d *cbt.Disk, j int, points []cbt.ChangeID, seed uint64) {
	t.Helper()
	if !c.on || d.Readable() != nil {
		return
	}
	now := readAll(t, d, c.now)
	c.now = now
	checkZeros(t, d, now, seed, j)
	if !bytes.Equal(now, c.points[j]) {
		t.Fatalf("seed %d: the disk at point %d reads differently than when the point was taken (first difference at %d): reads must describe the point, not the live disk",
			seed, j, firstDiff(now, c.points[j]))
	}
	for k, i := range []int{-1, 0, j - 1} {
		if i >= j || (k == 2 && i <= 0) {
			continue // not earlier than j, or checked already
		}
		var since cbt.ChangeID
		if cap(c.base) < len(now) {
			c.base = make([]byte, len(now))
		}
		base := c.base[:len(now)]
		if i >= 0 {
			since = points[i]
			copy(base, c.points[i])
		} else {
			clear(base)
		}
		exts, err := list(ctxFor(t), d, since, nil)
		if err != nil {
			t.Fatalf("seed %d: list at point %d since %d: %v", seed, j, i, err)
		}
		for _, e := range exts {
			copy(base[e.Offset:e.End()], now[e.Offset:e.End()])
		}
		if !bytes.Equal(base, now) {
			at := firstDiff(base, now)
			what := fmt.Sprintf("the data at point %d", i)
			if i < 0 {
				what = "zeros"
			}
			t.Fatalf("seed %d: UNDER-REPORT in data: %s with the %d extents listed since it copied from point %d differs from point %d at byte %d (%s)",
				seed, what, len(exts), j, j, at, extent.Extent{Offset: at, Length: 1})
		}
	}
}

// firstDiff returns the first offset where a and b differ, -1 for none.
func firstDiff(a, b []byte) int64 {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return int64(i)
		}
	}
	if len(a) != len(b) {
		return int64(min(len(a), len(b)))
	}
	return -1
}

// checkZeros checks that every area the disk lists as reading zeros
// (cbt.Disk.Zeros) does: a copy engine writes zeros there without reading.
func checkZeros(t testing.TB, d *cbt.Disk, data []byte, seed uint64, j int) {
	t.Helper()
	zeros, err := cbt.Collect(d.Zeros(ctxFor(t), nil))
	if err != nil {
		t.Fatalf("seed %d: zero areas at point %d: %v", seed, j, err)
	}
	if err := checkShape(zeros, 0, d.Capacity()); err != nil {
		t.Fatalf("seed %d: zero areas at point %d: %v", seed, j, err)
	}
	for _, e := range zeros {
		if at := firstDiff(data[e.Offset:e.End()], make([]byte, e.Length)); at >= 0 {
			t.Fatalf("seed %d: WRONG ZERO AREA: %v is listed as reading zeros at point %d, but byte %d is %#x", seed, e, j, e.Offset+at, data[e.Offset+at])
		}
	}
}
