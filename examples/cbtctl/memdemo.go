package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/memcbt"
	"github.com/changedblocks/sdk/extent"
)

const memDemoAbout = `Shows, step by step, what a backup application does with the SDK, on an
in-memory volume (package cbt/memcbt) and a reproducible random workload:
a full backup, storing its change ID, an incremental since it, a tracking
reset and the "full backup required" path it leads to (which a changes
command reports with exit status 3; the demo explains it and goes on with a
full backup). Every listing is checked against the writes the demo made: no
written byte may be missing. With --format json, stdout holds the four
listings as four JSON objects, one a line, in the format of every changes
command: the full backup, the incremental, the failed incremental (with its
"error" member) and the full backup after the reset. The exit status is 0
when every check passes, 1 otherwise.`

// runMemDemo is "cbtctl mem demo".
func runMemDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("cbtctl mem demo", "cbtctl mem demo [--seed N] [--capacity BYTES] [--granularity BYTES] [--writes N] [--format text|json] [--progress]", memDemoAbout)
	seed := fs.Uint64("seed", 1, "the workload's random `SEED`: the same seed, the same run")
	writes := fs.Int("writes", 12, "`N` writes before the first backup (fewer later)")
	vol := memVolumeFlags{capacity: 1 << 30, granularity: 64 << 10}
	vol.register(fs)
	var f changesFlags
	f.registerOutput(fs)
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	switch {
	case fs.NArg() > 0:
		return usageError(fs, stderr, "unexpected argument %q", fs.Arg(0))
	case *writes < 1 || *writes > 100000:
		return usageError(fs, stderr, "--writes must be between 1 and 100000")
	case vol.granularity < 1:
		return usageError(fs, stderr, "--granularity must be at least 1")
	case vol.capacity < 1<<20 || vol.capacity/vol.granularity < 16:
		return usageError(fs, stderr, "--capacity must be at least 1M and 16 granules")
	}
	v, err := vol.volume("demo")
	if err != nil {
		return usageError(fs, stderr, "%v", err)
	}
	d := &demo{
		ctx: ctx, stdout: stdout, stderr: stderr, f: f, v: v,
		rng:  rand.New(rand.NewPCG(*seed, 0xcb7c71)),
		text: !f.format.json(),
	}
	if err := d.run(*seed, *writes); err != nil {
		return reportError(ctx, stderr, fs.Name(), err, "")
	}
	return exitOK
}

// demo is one run of the walk-through. It keeps its own account of the
// workload, the ground truth every listing is checked against.
type demo struct {
	ctx            context.Context
	stdout, stderr io.Writer
	f              changesFlags
	v              *memcbt.Volume
	rng            *rand.Rand
	text           bool

	live    []extent.Extent // bytes holding written data: writes, less what later discards removed
	written []extent.Extent // every byte ever written
	touched []extent.Extent // written or discarded since the last change point
	nw, nd  int             // writes and discards in all
}

// say writes narration, in text mode only.
func (d *demo) say(format string, args ...any) {
	if d.text {
		fmt.Fprintf(d.stdout, format, args...)
	}
}

func (d *demo) run(seed uint64, writes int) error {
	g, c := d.v.Granularity(), d.v.Capacity()
	d.say("cbtctl mem demo: what a backup application does, on an in-memory volume\n")
	d.say("(volume %q: %s, change tracking in %s granules, workload seed %d)\n\n", "demo", humanBytes(c), humanBytes(g), seed)

	w1, err := d.workload(writes, 2)
	if err != nil {
		return err
	}
	d.say("1. The guest writes: %s.\n", w1)
	p1, err := d.point()
	if err != nil {
		return err
	}
	d.say("2. The backup application takes a change point (on a real platform: a\n   snapshot, a checkpoint or a volume backup). It is named %s.\n", p1)
	d.say("3. Full backup. With no change ID stored yet, it lists every area allocated\n   at that point (Changes with a zero since; `changes --full`)\n   and copies these extents:\n\n")
	if err := d.list(p1, cbt.ChangeID{}, d.live, d.written); err != nil {
		return err
	}
	d.say("4. It stores the change ID %s with the backup, in its catalog.\n", p1)

	w2, err := d.workload(max(writes/3, 1), 1)
	if err != nil {
		return err
	}
	round2 := d.touched
	p2, err := d.point()
	if err != nil {
		return err
	}
	d.say("5. The guest writes more: %s.\n   Change point %s.\n", w2, p2)
	d.say("6. Incremental backup: it lists what changed since the stored change ID\n   (`changes --since %s`) and copies only that:\n\n", p1)
	if err := d.list(p2, p1, round2, round2); err != nil {
		return err
	}
	d.say("   It stores %s in place of %s.\n", p2, p1)

	d.v.ResetTracking()
	w3, err := d.workload(max(writes/6, 1), 0)
	if err != nil {
		return err
	}
	p3, err := d.point()
	if err != nil {
		return err
	}
	d.say("7. Change tracking is reset, as a vSphere CBT reset, a lost qcow2 dirty\n   bitmap or a restore does: every change ID handed out before is void.\n")
	d.say("   The guest writes: %s.\n   Change point %s.\n", w3, p3)
	d.say("8. The next incremental, since the stored %s, fails:\n\n", p2)
	if err := d.stale(p3, p2); err != nil {
		return err
	}
	d.say("   A `changes` command exits with status 3 here. The backup application\n   does what the message says: a full backup.\n")
	d.say("9. Full backup from %s (--full):\n\n", p3)
	if err := d.list(p3, cbt.ChangeID{}, d.live, d.written); err != nil {
		return err
	}
	d.say("   It stores %s; the next incremental starts from there.\n\n", p3)
	d.say("All 3 listings checked against the workload (%s and %s in all):\nno written byte was left out.\n", plural(int64(d.nw), "write"), plural(int64(d.nd), "discard"))
	return nil
}

// workload makes n random writes and m random discards, in random order,
// and describes them.
func (d *demo) workload(n, m int) (string, error) {
	c, g := d.v.Capacity(), d.v.Granularity()
	ops := make([]bool, 0, n+m) // true: write
	for range n {
		ops = append(ops, true)
	}
	for range m {
		ops = append(ops, false)
	}
	d.rng.Shuffle(len(ops), func(i, j int) { ops[i], ops[j] = ops[j], ops[i] })
	var bytes int64
	for _, write := range ops {
		var e extent.Extent
		if write {
			// Half the writes land in the first eighth of the disk, as
			// file-system metadata does; lengths of 512 bytes to 256 KiB.
			area := c
			if d.rng.IntN(2) == 0 {
				area = c / 8
			}
			e.Offset = d.rng.Int64N(area) &^ 511
			e.Length = min(512*(1+d.rng.Int64N([]int64{8, 64, 512}[d.rng.IntN(3)])), c-e.Offset)
			if err := d.v.Write(e.Offset, e.Length); err != nil {
				return "", err
			}
			d.live = extent.UnionSlices(d.live, []extent.Extent{e})
			d.written = extent.UnionSlices(d.written, []extent.Extent{e})
			d.nw++
		} else {
			// A discard of one to four granules, not always aligned to them.
			e.Offset = d.rng.Int64N(c/g) * g
			if d.rng.IntN(2) == 0 {
				e.Offset += d.rng.Int64N(g) &^ 511
			}
			e.Length = min(g*(1+d.rng.Int64N(4)), c-e.Offset)
			if err := d.v.Discard(e.Offset, e.Length); err != nil {
				return "", err
			}
			d.live = extent.SubtractSlices(d.live, []extent.Extent{e})
			d.nd++
		}
		d.touched = extent.UnionSlices(d.touched, []extent.Extent{e})
		bytes += e.Length
	}
	what := plural(int64(n), "write")
	if m > 0 {
		what += " and " + plural(int64(m), "discard")
	}
	return what + ", " + humanBytes(bytes) + " in all", nil
}

func (d *demo) point() (cbt.ChangeID, error) {
	d.touched = nil
	return d.v.ChangePoint()
}

// recorder keeps the extents a listing writes, to check them.
type recorder struct {
	changesWriter
	got []extent.Extent
}

func (r *recorder) extent(e cbt.Extent) error {
	r.got = append(r.got, e)
	return r.changesWriter.extent(e)
}

// list lists the changes at point at since since, as a changes command
// does, and checks them: every byte of must is listed, and every byte
// listed lies in a granule of bound.
func (d *demo) list(at, since cbt.ChangeID, must, bound []extent.Extent) error {
	disk, err := d.v.Open(at)
	if err != nil {
		return err
	}
	defer disk.Close()
	var bar *progressBar
	if d.f.progress.enabled(d.stdout, d.stderr) {
		bar = newProgressBar(d.stderr)
	}
	r := &recorder{changesWriter: newChangesWriter(d.stdout, d.f.format, "    ")}
	if _, err := listChanges(d.ctx, r, disk, newHeader(disk, since, d.f), since, nil, bar); err != nil {
		return err
	}
	d.say("\n")
	if missing := extent.SubtractSlices(must, r.got); len(missing) > 0 {
		return fmt.Errorf("check failed: %d written bytes are not listed, the first in %v: the listing under-reports",
			extent.TotalSlice(missing), missing[0])
	}
	granules := extent.AlignSlice(slices.Clone(bound), disk.Granularity(), disk.Capacity())
	if extra := extent.SubtractSlices(r.got, granules); len(extra) > 0 {
		return fmt.Errorf("check failed: %v is listed, but no write or discard touched a granule of it", extra[0])
	}
	need := extent.TotalSlice(must)
	d.say("   Checked: every one of the %d bytes to copy is listed; the other %d\n   bytes listed lie in granules the workload touched (%s granules).\n",
		need, extent.TotalSlice(r.got)-need, humanBytes(disk.Granularity()))
	return nil
}

// stale lists at point at since a change ID from before the reset, which
// must fail with cbt.ErrChangeIDInvalid, and shows what a changes command
// prints then.
func (d *demo) stale(at, since cbt.ChangeID) error {
	disk, err := d.v.Open(at)
	if err != nil {
		return err
	}
	defer disk.Close()
	_, err = listChanges(d.ctx, newChangesWriter(d.stdout, d.f.format, "    "), disk, newHeader(disk, since, d.f), since, nil, nil)
	if status, _ := classify(err); status != exitFullBackup {
		if err == nil {
			err = errors.New("listing since a change ID from before a tracking reset succeeded")
		}
		return fmt.Errorf("check failed: want cbt.ErrChangeIDInvalid (exit status 3), got status %d: %w", status, err)
	}
	var msg bytes.Buffer
	reportError(d.ctx, &msg, "cbtctl mem changes", err, "")
	for line := range strings.Lines(msg.String()) {
		d.say("    stderr> %s", line)
	}
	d.say("\n")
	return nil
}
