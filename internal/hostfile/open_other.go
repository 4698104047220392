//go:build !unix

package hostfile

import "os"

// openNonblock checks the kind before opening where no O_NONBLOCK exists:
// a file swapped for a FIFO in between may still block there.
func openNonblock(path string) (*os.File, error) {
	if fi, err := os.Stat(path); err == nil && kindOf(fi.Mode()) == 0 {
		return nil, &KindError{Path: path, Mode: fi.Mode()}
	}
	return os.Open(path)
}

func setBlocking(*os.File) error { return nil }
