package rhv

// SetVolPageExtents sets how many extents a page of the volume driver takes
// from each layer, for tests of paging; it returns the function that
// restores the default.
func SetVolPageExtents(n int) (restore func()) {
	old := volPageExtents
	volPageExtents = n
	return func() { volPageExtents = old }
}
