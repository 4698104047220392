package copier

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
)

// write writes one chunk read at off: runs of whole destination blocks that
// are all zeros through WriteZeros, the rest through WriteAt. It returns
// the bytes written as zeros.
func (r *run) write(p []byte, off int64) (int64, error) {
	block := max(r.dst.Alignment(), 1)
	if block == 1 {
		block = 4096 // zero detection still works on blocks
	}
	var zero int64
	for i := 0; i < len(p); {
		// A run of blocks of one kind, starting at i.
		j := min(i+int(block), len(p))
		isZero := allZero(p[i:j])
		for j < len(p) {
			e := min(j+int(block), len(p))
			if allZero(p[j:e]) != isZero {
				break
			}
			j = e
		}
		at := off + int64(i)
		if isZero {
			if err := r.dst.WriteZeros(at, int64(j-i)); err != nil {
				return zero, fmt.Errorf("copier: write zeros to [%d, +%d): %w", at, j-i, err)
			}
			zero += int64(j - i)
		} else if _, err := r.dst.WriteAt(p[i:j], at); err != nil {
			return zero, fmt.Errorf("copier: write [%d, +%d): %w", at, j-i, err)
		}
		i = j
	}
	return zero, nil
}

// allZero reports whether b holds only zeros.
func allZero(b []byte) bool {
	for len(b) > 0 {
		n := min(len(b), len(zeroBlock))
		if !bytes.Equal(b[:n], zeroBlock[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}

// ChunkSum is the SHA-256 of one chunk as copied, or for a chunk written
// as zeros without a read (the disk said it reads as zeros), Zero.
type ChunkSum struct {
	Offset int64  `json:"offset"`
	Length int64  `json:"length"`
	SHA256 string `json:"sha256,omitempty"` // lower-case hex
	Zero   bool   `json:"zero,omitempty"`
}

func sumOf(p []byte, off int64) ChunkSum {
	h := sha256.Sum256(p)
	return ChunkSum{Offset: off, Length: int64(len(p)), SHA256: hex.EncodeToString(h[:])}
}

func sortSums(s []ChunkSum) []ChunkSum {
	slices.SortFunc(s, func(a, b ChunkSum) int {
		switch {
		case a.Offset < b.Offset:
			return -1
		case a.Offset > b.Offset:
			return 1
		}
		return 0
	})
	return s
}
