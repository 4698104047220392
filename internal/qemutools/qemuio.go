package qemutools

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// QemuIO runs qemu-io commands (e.g. "write -P 0xab 0 64k", "write -z 1M 4k",
// "write -zu 0 64k", "write -c -P 1 0 64k", "discard 0 64k") on a qcow2
// image, all in one process.
func QemuIO(t testing.TB, image string, cmds ...string) {
	t.Helper()
	QemuIOAs(t, "qcow2", image, cmds...)
}

// QemuIOAs is QemuIO on an image of the given format ("qcow2", "raw").
// qemu-io reports a failed command on stdout and still exits 0, so the output
// is scanned and any "failed" or "error" line fails the test.
func QemuIOAs(t testing.TB, format, image string, cmds ...string) {
	t.Helper()
	if len(cmds) == 0 {
		return
	}
	args := []string{"-f", format}
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	out := Run(t, "qemu-io", append(args, image)...)
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "failed") || strings.Contains(l, "error") {
			t.Fatalf("qemu-io %q on %s: %s", cmds, image, out)
		}
	}
}

// RandomIO runs n random operations on a qcow2 image of size bytes in one
// qemu-io process: data writes of a random pattern (four in six), zero
// writes and discards, each at a random sector for 1 to maxSectors sectors
// (clipped to the image), drawn from rng so that a seed replays them.
func RandomIO(t testing.TB, rng *rand.Rand, image string, size int64, n int, maxSectors int64) {
	t.Helper()
	var cmds []string
	for range n {
		off := rng.Int64N(size/512) * 512
		l := min(size-off, 512*(1+rng.Int64N(maxSectors)))
		switch rng.IntN(6) {
		case 0:
			cmds = append(cmds, fmt.Sprintf("write -z %d %d", off, l))
		case 1:
			cmds = append(cmds, fmt.Sprintf("discard %d %d", off, l))
		default:
			cmds = append(cmds, fmt.Sprintf("write -P %d %d %d", 1+rng.IntN(254), off, l))
		}
	}
	QemuIO(t, image, cmds...)
}
