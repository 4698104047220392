package qcow2

import (
	"bytes"
	"hash/maphash"
	"io"
)

// nameSet finds a name seen before among the entries of a table that is
// streamed, without keeping the names: it keeps a 64-bit hash of each and
// where the name lies in the file (24 bytes an entry, about 3 MiB for the
// 65536 entries of the largest table). When a hash matches, the earlier name
// is read again from the file and compared, so that distinct names with
// equal hashes are never taken for duplicates.
type nameSet struct {
	hash  func([]byte) uint64
	first map[uint64]nameLoc
	more  map[uint64][]nameLoc // further names of a hash (distinct names, equal hashes)
}

// nameLoc is where a name lies in the file, and the index of its entry.
type nameLoc struct {
	off   uint64
	n     uint32
	index uint32
}

func newNameSet() *nameSet {
	seed := maphash.MakeSeed()
	return &nameSet{hash: func(b []byte) uint64 { return maphash.Bytes(seed, b) }, first: map[uint64]nameLoc{}}
}

// add records name, which lies at loc in the file that r reads (of size
// bytes), and returns the index of an earlier entry with the same name, if
// any. Errors are those of reading an earlier name again.
func (s *nameSet) add(r io.ReaderAt, size int64, name []byte, loc nameLoc, what string) (int, bool, error) {
	h := s.hash(name)
	prev, ok := s.first[h]
	if !ok {
		s.first[h] = loc
		return 0, false, nil
	}
	for _, p := range append([]nameLoc{prev}, s.more[h]...) {
		if p.n != uint32(len(name)) {
			continue
		}
		b, err := readAt(r, size, p.off, uint64(p.n), what)
		if err != nil {
			return 0, false, err
		}
		if bytes.Equal(b, name) {
			return int(p.index), true, nil
		}
	}
	if s.more == nil {
		s.more = map[uint64][]nameLoc{}
	}
	s.more[h] = append(s.more[h], loc)
	return 0, false, nil
}
