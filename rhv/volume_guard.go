package rhv

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"os"
)

// guardVersion starts every guard: it names what the digest covers, so that
// a later form is told apart from this one.
const guardVersion = "g1"

// guardBytes is how many bytes of the SHA-256 digest a guard keeps.
const guardBytes = 16

// volumeGuard returns the guard of the volumes layers[0..j] (base first):
// a digest of what identifies each of them and its state. For each volume:
//
//   - its ID and place in the chain, format, virtual size, qcow2 backing
//     file name and format, and allocation granularity;
//   - a qcow2 volume's allocation: every range its own tables map (data,
//     zero and compressed clusters), as Allocated walks them;
//   - a regular file's size and modification time (nanoseconds): a file
//     written, replaced, restored or copied back has another one.
//
// A block device's modification time says nothing (the node is made anew
// each time the LV is activated), so a volume on a block device is guarded
// by its qcow2 allocation alone; a RAW base on a block device only by its
// size.
func volumeGuard(ctx context.Context, layers []*volLayer, j int) (string, error) {
	h := sha256.New()
	h.Write([]byte(guardVersion))
	for i := 0; i <= j; i++ {
		if err := stampLayer(ctx, h, layers[i], i); err != nil {
			return "", err
		}
	}
	return guardVersion + hex.EncodeToString(h.Sum(nil)[:guardBytes]), nil
}

// stampLayer writes what identifies one opened volume, the i-th of the
// chain, to h.
func stampLayer(ctx context.Context, h hash.Hash, l *volLayer, i int) error {
	f := l.f
	num := func(v int64) {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(v))
		h.Write(b[:])
	}
	str := func(s string) {
		num(int64(len(s)))
		h.Write([]byte(s))
	}
	num(int64(i))
	str(l.vol.ID)
	str(f.Format())
	num(l.size)
	str(f.BackingFile())
	str(f.BackingFormat())
	num(f.Granularity())
	fi, err := os.Stat(f.Path())
	if err != nil {
		return readFileError(err, "volume "+l.vol.ID)
	}
	if fi.Mode().IsRegular() {
		str("file")
		num(fi.Size())
		num(fi.ModTime().UnixNano())
	} else {
		str("device")
	}
	if l.raw {
		return nil
	}
	str("allocation")
	n := int64(0)
	for e, err := range l.allocated(ctx, 0, l.size) {
		if err != nil {
			return err
		}
		num(e.Offset)
		num(e.Length)
		n++
	}
	num(n)
	return nil
}

// guardAt returns the guard of the volumes up to the j-th (base first),
// computing it once.
func (d *volumeDisk) guardAt(ctx context.Context, j int) (string, error) {
	d.guardMu.Lock()
	defer d.guardMu.Unlock()
	if g, ok := d.guards[j]; ok {
		return g, nil
	}
	g, err := volumeGuard(ctx, d.layers, j)
	if err != nil {
		return "", err
	}
	if d.guards == nil {
		d.guards = make(map[int]string)
	}
	d.guards[j] = g
	return g, nil
}
