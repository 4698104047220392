package qcow2

import (
	"bytes"
	"errors"
	"runtime"
	"testing"
)

// FuzzReadView reads the guest data of mutated images: no panic, errors of
// the package's classes, unallocated ranges inside the read, and the
// allocations of one read bounded by the cluster size (a compressed cluster
// in and out) plus a small multiple of the input.
func FuzzReadView(f *testing.F) {
	for _, b := range sortedSeeds(f) {
		f.Add(b)
	}
	for _, b := range craftedSeeds() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n := len(data)
		r := bytes.NewReader(data)
		img, err := Open(r, int64(n), nil)
		if err != nil {
			return
		}
		vs := []View{img.ActiveView()}
		if snaps, err := img.Snapshots(); err == nil && len(snaps) > 0 {
			if v, err := img.SnapshotView(&snaps[0]); err == nil {
				vs = append(vs, v)
			}
		}
		cs := img.Header.ClusterSize()
		p := make([]byte, 3*cs)
		limit := uint64(4*cs) + allocLimit(n)
		for _, v := range vs {
			reads := 0
			for e, err := range img.Allocated(v) {
				if err != nil || reads > 16 {
					break
				}
				reads++
				off := e.Offset - e.Offset%cs + int64(reads)%cs // start inside a cluster too
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				un, err := img.ReadView(v, p, off, r)
				runtime.ReadMemStats(&after)
				if got := after.TotalAlloc - before.TotalAlloc; got > limit {
					t.Fatalf("ReadView of %d bytes allocated %d bytes (limit %d, image %d bytes)", len(p), got, limit, n)
				}
				if err != nil {
					if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) {
						t.Fatalf("ReadView: unclassed error %v", err)
					}
					continue
				}
				for _, u := range un {
					if u.Offset < off || u.End() > off+int64(len(p)) || u.Length <= 0 {
						t.Fatalf("unallocated %v outside the read [%d, +%d)", u, off, len(p))
					}
				}
			}
		}
	})
}
