package qemu

import (
	"slices"

	"github.com/changedblocks/sdk/internal/qcow2"
)

// Looking a snapshot or a bitmap up reads the whole table, streaming it,
// and keeps only what the name matches: a table of 64 MiB (the format's
// limit) is never held to find one entry. The whole table is read, so that
// a malformed one (two entries with one id, an entry out of bounds) is
// refused whatever the name.

// snapshotsNamed returns the entries of the top image's snapshot table whose
// name or id is ref or, when ref ends in guards ("#SEC.NSEC#cCHAIN"), ref
// without them: every entry findSnapshot looks at. Each holds its name and id (shared
// with the reference when equal) but not its extra data, about 150 bytes:
// at most 10 MiB when every entry matches. Errors are those of package
// qcow2, for the caller to wrap.
func (c *chain) snapshotsNamed(ref string) ([]qcow2.Snapshot, error) {
	bare, _ := splitGuards(ref)
	intern := func(s string) string {
		switch s {
		case ref:
			return ref
		case bare:
			return bare
		}
		return s
	}
	var out []qcow2.Snapshot
	for s, err := range c.q.AllSnapshots() {
		if err != nil {
			return nil, err
		}
		if s.Name == ref || s.ID == ref || s.Name == bare || s.ID == bare {
			s.Name, s.ID, s.ExtraData = intern(s.Name), intern(s.ID), nil
			out = append(out, s)
		}
	}
	return out, nil
}

// bitmapsNamed returns the bitmaps of the top image that have one of the
// names (bitmap names are unique: at most one each). Errors are those of
// package qcow2, for the caller to wrap.
func (c *chain) bitmapsNamed(names ...string) ([]qcow2.Bitmap, error) {
	var out []qcow2.Bitmap
	for b, err := range c.q.AllBitmaps() {
		if err != nil {
			return nil, err
		}
		if slices.Contains(names, b.Name) {
			out = append(out, b)
		}
	}
	return out, nil
}
