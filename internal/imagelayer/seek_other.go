//go:build !linux

package imagelayer

import "os"

// dataAfter reports ok false: without SEEK_DATA, all of a raw file is data.
func dataAfter(*os.File, int64) (start, end int64, ok bool) { return 0, 0, false }
