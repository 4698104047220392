package qemutools

import (
	"encoding/json"
	"testing"

	"github.com/changedblocks/sdk/extent"
)

// NBDExtent is one entry of `nbdinfo --json --map=CONTEXT`.
type NBDExtent struct {
	Offset      int64  `json:"offset"`
	Length      int64  `json:"length"`
	Type        int64  `json:"type"`
	Description string `json:"description"`
}

// NBDMap runs `nbdinfo --json --map=CONTEXT -- [ qemu-nbd -r -f qcow2
// NBDARGS... IMAGE ]`: the block status of one metadata context ("base:allocation",
// "qemu:dirty-bitmap:NAME" with -B NAME, "qemu:allocation-depth" with -A) of
// a read-only export of the image (of a snapshot with -l snapshot.name=NAME).
func NBDMap(t testing.TB, image, context string, nbdArgs ...string) []NBDExtent {
	t.Helper()
	args := []string{"--json", "--map=" + context, "--", "[", "qemu-nbd", "-r", "-f", "qcow2"}
	args = append(append(args, nbdArgs...), image, "]")
	out := Run(t, "nbdinfo", args...)
	var es []NBDExtent
	if err := json.Unmarshal(out, &es); err != nil {
		t.Fatalf("nbdinfo --map=%s %s: %v: %s", context, image, err, out)
	}
	return es
}

// NBDMapWhere returns the normalised ranges of NBDMap whose type keep accepts.
func NBDMapWhere(t testing.TB, keep func(typ int64) bool, image, context string, nbdArgs ...string) []extent.Extent {
	t.Helper()
	var out []extent.Extent
	for _, e := range NBDMap(t, image, context, nbdArgs...) {
		if keep(e.Type) {
			out = append(out, extent.Extent{Offset: e.Offset, Length: e.Length})
		}
	}
	return extent.Normalize(out)
}

// DirtyMap returns the dirty ranges of a persistent bitmap as qemu-nbd serves
// them: `nbdinfo --map=qemu:dirty-bitmap:NAME -- [ qemu-nbd -r -f qcow2 -B
// NAME IMAGE ]`, normalised. The export has the image's current size.
func DirtyMap(t testing.TB, image, bitmap string) []extent.Extent {
	t.Helper()
	return NBDMapWhere(t, func(typ int64) bool { return typ&1 != 0 }, image, "qemu:dirty-bitmap:"+bitmap, "-B", bitmap)
}

// LocalAllocation returns the ranges qemu-nbd's qemu:allocation-depth context
// reports as allocated in the image itself (depth 1, "local"), of the active
// state or, with extra arguments "-l", "snapshot.name=NAME", of a snapshot.
func LocalAllocation(t testing.TB, image string, nbdArgs ...string) []extent.Extent {
	t.Helper()
	return NBDMapWhere(t, func(typ int64) bool { return typ == 1 }, image, "qemu:allocation-depth", append([]string{"-A"}, nbdArgs...)...)
}
