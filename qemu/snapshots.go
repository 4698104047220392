package qemu

import "github.com/changedblocks/sdk/internal/qcow2"

// snapshotsNamed reads the whole snapshot table of the top image and
// returns the entries whose name or id is ref or, when ref ends in the
// "#SEC.NSEC" guard, ref without it: every entry findSnapshot looks at. The
// table is streamed, so that resolving a snapshot of a large table (up to
// 64 MiB) holds the entries it matches, not the table; it is read to its
// end, so that a malformed table (two entries with one id, an entry out of
// bounds) is refused whatever the reference. Errors are those of package
// qcow2, for the caller to wrap.
func (c *chain) snapshotsNamed(ref string) ([]qcow2.Snapshot, error) {
	bare := ref
	if m := guardRE.FindStringSubmatch(ref); m != nil {
		bare = m[1]
	}
	var out []qcow2.Snapshot
	for s, err := range c.top().q.AllSnapshots() {
		if err != nil {
			return nil, err
		}
		if s.Name == ref || s.ID == ref || s.Name == bare || s.ID == bare {
			out = append(out, s)
		}
	}
	return out, nil
}
