package imagelayer

import (
	"os"

	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/qcow2"
)

// hostRun is guest bytes [guest, guest+n) stored at host bytes [host,
// host+n) of the data file.
type hostRun struct{ guest, host, n int64 }

// mapView walks the clusters of view v in [off, end) once and returns,
// merged and clipped to the view's disk size, what the image maps there
// (data, zero and compressed clusters and subclusters: it hides the layers
// below) and what of that reads as zeros: zero clusters and subclusters,
// and data ones whose host bytes are holes of the file the data lives in
// (an image made with preallocation=metadata maps its whole disk so).
// Guest-contiguous data that is host-contiguous too is looked up as one run
// with SEEK_DATA and SEEK_HOLE, so a large preallocated area costs a few
// calls; where the file system cannot tell, no data counts as zeros.
func (l *qcow2Layer) mapView(v qcow2.View, off, end int64) (covers, zeros []extent.Extent, err error) {
	data := l.f
	if l.q.Header.ExternalDataFile() {
		if data, err = l.dataFile(); err != nil {
			return nil, nil, err
		}
	}
	end = min(end, v.DiskSize)
	cs, sub := l.q.Header.ClusterSize(), l.q.Header.SubclusterSize()
	var holes []extent.Extent
	var run hostRun
	canTell := true
	flush := func() {
		if run.n > 0 && canTell {
			var z []extent.Extent
			z, canTell = holesIn(data, run)
			holes = append(holes, z...)
		}
		run = hostRun{}
	}
	add := func(guest, host, n int64) {
		if run.n > 0 && run.guest+run.n == guest && run.host+run.n == host {
			run.n += n
			return
		}
		flush()
		run = hostRun{guest, host, n}
	}
	for mc, err := range l.q.ClustersRange(v, off, end) {
		if err != nil {
			return nil, nil, err
		}
		covers = appendMask(covers, mc.GuestOffset, mc.AllocatedMask(), cs, off, end)
		zeros = appendMask(zeros, mc.GuestOffset, mc.ZeroMaskOf(), cs, off, end)
		host := int64(mc.HostOffset)
		switch {
		case !mc.Extended && mc.Kind == qcow2.ClusterData:
			add(mc.GuestOffset, host, cs)
		case mc.Extended:
			for i := range int64(qcow2.Subclusters) {
				if mc.Subcluster(int(i)) == qcow2.ClusterData {
					add(mc.GuestOffset+i*sub, host+i*sub, sub)
				}
			}
		}
	}
	flush()
	if !canTell {
		holes = nil
	}
	return covers, extent.UnionSlices(zeros, extent.ClipSlice(holes, off, end)), nil
}

// appendMask appends to out, merged with its last extent, the runs of set
// bits of the subcluster mask of the cluster (of cs bytes) at base,
// clipped to [off, end).
func appendMask(out []extent.Extent, base int64, mask uint32, cs, off, end int64) []extent.Extent {
	sub := cs / qcow2.Subclusters
	for i := 0; i < qcow2.Subclusters && mask != 0; {
		if mask&(1<<i) == 0 {
			i++
			continue
		}
		j := i
		for j < qcow2.Subclusters && mask&(1<<j) != 0 {
			j++
		}
		e, ok := extent.ClipTo(extent.Extent{Offset: base + int64(i)*sub, Length: int64(j-i) * sub}, off, end)
		if ok {
			if n := len(out); n > 0 && out[n-1].End() == e.Offset {
				out[n-1].Length += e.Length
			} else {
				out = append(out, e)
			}
		}
		i = j
	}
	return out
}

// holesIn returns the guest ranges of a run whose host bytes are holes of
// f (past f's end counts as a hole: it reads as zeros); false when the file
// system cannot tell.
func holesIn(f *os.File, r hostRun) ([]extent.Extent, bool) {
	var out []extent.Extent
	hole := func(s, e int64) {
		if e > s {
			out = append(out, extent.Extent{Offset: r.guest + s - r.host, Length: e - s})
		}
	}
	end := r.host + r.n
	for pos := r.host; pos < end; {
		d, h, ok := dataAfter(f, pos)
		if !ok {
			return nil, false
		}
		hole(pos, min(d, end))
		if d >= end || h <= d {
			break
		}
		pos = h
	}
	return out, true
}
