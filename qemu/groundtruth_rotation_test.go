package qemu_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/cbttest"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/qemutools"
	"github.com/changedblocks/sdk/qemu"
)

// TestGroundTruthRotation runs the documented backup rotation (OpenNext,
// list since the stored change ID, store, PrunePoints) over an overlay on a
// base, with random writes between backups and, now and then, an event that
// changes what a stored point reads without touching the top image's
// tables: a commit into the base, a write into the base, an unsafe rebase
// onto a changed copy, a resize (shrink and grow back, grow, shrink), a
// point removed. Every incremental must list every sector that differs
// between the exports at the two backups, or be refused (then a full backup
// is taken, which must cover every non-zero sector); a refusal with no such
// event before it fails too (a guard that always refuses proves nothing).
// CBT_ROTATION_SEEDS sets the number of seeds (default 6).
func TestGroundTruthRotation(t *testing.T) {
	qemutools.Need(t, "qemu-img", "qemu-io")
	seeds := 6
	if s, err := strconv.Atoi(os.Getenv("CBT_ROTATION_SEEDS")); err == nil && s > 0 {
		seeds = s
	}
	for seed := range uint64(seeds) {
		for _, snap := range []bool{false, true} {
			t.Run(fmt.Sprintf("snapshot=%v/seed%d", snap, seed), func(t *testing.T) {
				t.Parallel()
				rotation(t, seed, snap)
			})
		}
	}
}

const rotSize = 4 << 20

func rotation(t *testing.T, seed uint64, snap bool) {
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	dir := t.TempDir()
	base, top := filepath.Join(dir, "base.qcow2"), filepath.Join(dir, "top.qcow2")
	cluster := []int{4096, 65536}[rng.IntN(2)]
	opts := fmt.Sprintf("cluster_size=%d", cluster)
	qemutools.Create(t, base, opts, strconv.Itoa(rotSize))
	qemutools.QemuIO(t, base, randomWrites(rng, rotSize, 4)...)
	qemutools.Create(t, top, opts, strconv.Itoa(rotSize), "-b", base, "-F", "qcow2")
	next := &qemu.NextOptions{Snapshot: snap}

	var stored cbt.ChangeID
	var prev []byte
	event := "" // what happened since the stored point that may refuse it
	size := int64(rotSize)
	for round := range 8 {
		// Between backups: guest writes, and now and then an event.
		qemutools.QemuIO(t, top, randomWrites(rng, size, 1+rng.IntN(6))...)
		if round > 0 && rng.IntN(3) == 0 {
			e := rotationEvent(t, rng, dir, top, base, snap, &size, stored)
			event += e + "; "
		}
		d, err := qemu.OpenNext(ctx, top, next, nil)
		require.NoError(t, err, "round %d", round)
		at := ""
		if snap {
			at = mustName(t, cbttest.MustChangeID(t, d))
		}
		data := qemutools.ExportRaw(t, top, at)
		got, err := cbt.Collect(d.Changes(ctx, stored, nil))
		switch {
		case err == nil && !stored.IsZero():
			missed := extent.SubtractSlices(qemutools.ChangedSectors(prev, data), got)
			require.Empty(t, missed, "UNDER-REPORT in round %d since %s (events: %s): listed %v", round, stored, event, got)
		case errors.Is(err, cbt.ErrChangeIDInvalid):
			require.NotEmpty(t, event, "round %d: %s refused with no event since: %v", round, stored, err)
			t.Logf("round %d: refused after %s: %v", round, event, err)
			fallthrough
		case err == nil:
			got, err = cbt.Collect(d.Changes(ctx, cbt.ChangeID{}, nil))
			require.NoError(t, err)
			missed := extent.SubtractSlices(qemutools.NonZeroSectors(data), got)
			require.Empty(t, missed, "full backup in round %d misses non-zero sectors", round)
		default:
			require.NoError(t, err, "round %d since %s", round, stored)
		}
		stored, prev, event = cbttest.MustChangeID(t, d), data, ""
		require.NoError(t, d.Close())
		_, err = qemu.PrunePoints(ctx, top, []cbt.ChangeID{stored}, next, nil)
		require.NoError(t, err)
	}
}

// randomWrites returns qemu-io commands: data, zero and discard writes of
// random 512-byte-aligned ranges of a disk of size bytes.
func randomWrites(rng *rand.Rand, size int64, n int) []string {
	var cmds []string
	for range n {
		off := rng.Int64N(size/512) * 512
		length := min(512*(1+rng.Int64N(256)), size-off)
		switch rng.IntN(5) {
		case 0:
			cmds = append(cmds, fmt.Sprintf("write -z %d %d", off, length))
		case 1:
			cmds = append(cmds, fmt.Sprintf("discard %d %d", off, length))
		default:
			cmds = append(cmds, fmt.Sprintf("write -P %d %d %d", 1+rng.IntN(250), off, length))
		}
	}
	return cmds
}

// rotationEvent changes what the stored point reads through, or the point
// itself, and says what it did.
func rotationEvent(t *testing.T, rng *rand.Rand, dir, top, base string, snap bool, size *int64, stored cbt.ChangeID) string {
	// mtimes of the files must move even on a coarse clock.
	time.Sleep(10 * time.Millisecond)
	switch k := rng.IntN(6); {
	case k == 0:
		qemutools.QemuImg(t, "commit", "-f", "qcow2", top)
		return "commit into the base"
	case k == 1:
		qemutools.QemuIO(t, base, randomWrites(rng, rotSize, 1)...)
		return "a write into the base"
	case k == 2:
		other := filepath.Join(dir, fmt.Sprintf("base-%d.qcow2", rng.Int()))
		copyKeepTime(t, base, other)
		qemutools.QemuIO(t, other, randomWrites(rng, rotSize, 2)...)
		qemutools.QemuImg(t, "rebase", "-u", "-f", "qcow2", "-F", "qcow2", "-b", other, top)
		return "an unsafe rebase onto a changed copy"
	case k == 3 && !snap: // qemu resizes no image with snapshots
		steps := [][]string{{"--shrink", strconv.FormatInt(*size/2, 10)}, {strconv.FormatInt(*size, 10)}}
		switch rng.IntN(3) {
		case 1:
			*size += 1 << 20
			steps = [][]string{{strconv.FormatInt(*size, 10)}}
		case 2:
			*size -= 1 << 20
			steps = [][]string{{"--shrink", strconv.FormatInt(*size, 10)}}
		}
		for _, s := range steps {
			qemutools.QemuImg(t, append([]string{"resize", "-q", "-f", "qcow2", top}, s...)...)
		}
		return fmt.Sprintf("resize %v", steps)
	case k == 4:
		require.NoError(t, qemu.DropPoint(t.Context(), top, stored, nil, nil))
		return "the stored point dropped"
	}
	return ""
}
