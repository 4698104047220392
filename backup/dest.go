package backup

import (
	"github.com/changedblocks/sdk/internal/qcow2write"
)

// qcowDest is a copier.Destination writing a qcow2 backup file: whole
// clusters; in a standalone file zero runs stay unallocated (they read as
// zeros), in an overlay they become zero clusters, which hide the backing
// file's data there.
type qcowDest struct {
	w       *qcow2write.Writer
	overlay bool
}

func (q *qcowDest) Alignment() int64 { return q.w.ClusterSize() }

// WriteAt writes p, whole clusters but for the disk's end; the qcow2
// file's size is the disk's rounded up to 512 bytes, so the last cluster is
// padded with zeros up to it.
func (q *qcowDest) WriteAt(p []byte, off int64) (int, error) {
	cs := q.w.ClusterSize()
	done := 0
	for done < len(p) {
		at := off + int64(done)
		n := min(int64(len(p)-done), cs)
		piece := p[done : done+int(n)]
		if want := min(cs, q.w.Size()-at); n < want {
			padded := make([]byte, want)
			copy(padded, piece)
			piece = padded
		}
		if err := q.w.WriteCluster(at, piece); err != nil {
			return done, err
		}
		done += int(n)
	}
	return done, nil
}

func (q *qcowDest) WriteZeros(off, n int64) error {
	if !q.overlay {
		return nil
	}
	if r := (off + n) % q.w.ClusterSize(); r != 0 {
		n = min(off+n-r+q.w.ClusterSize(), q.w.Size()) - off
	}
	return q.w.WriteZeros(off, n)
}
