package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/memcbt"
	"github.com/changedblocks/sdk/internal/hostfile"
)

// memCommand is the in-memory platform: package cbt/memcbt.
func memCommand() command {
	return command{
		name:     "mem",
		synopsis: "an in-memory volume (package cbt/memcbt): a demo and scripted volumes",
		subs: []command{
			{name: "demo", synopsis: "walk through full and incremental backups, checked against the writes", run: runMemDemo},
			{name: "changes", synopsis: "list the changes of a volume built by a script", run: runMemChanges},
		},
	}
}

// memVolumeFlags are the flags that shape a memcbt volume.
type memVolumeFlags struct {
	capacity, granularity int64
}

func (m *memVolumeFlags) register(fs *flag.FlagSet) {
	fs.Var(sizeValue{&m.capacity}, "capacity", "the volume's size in `BYTES`")
	fs.Var(sizeValue{&m.granularity}, "granularity", "the tracking granularity in `BYTES`: writes are tracked in granules of this size")
}

// volume returns a new volume. Its answers are cut into pages as a real
// platform's are (at most 256 extents, and a 32nd of the disk, each), so
// that the paging and the progress bar are exercised.
func (m *memVolumeFlags) volume(name string) (*memcbt.Volume, error) {
	return memcbt.NewVolume(m.capacity, &memcbt.Options{
		Name:        name,
		Granularity: m.granularity,
		PageExtents: 256,
		PageBytes:   max(m.capacity/32, 1<<20),
	})
}

const memChangesAbout = `Replays the script FILE on a new in-memory volume, then lists, as every
platform's changes command does, what changed at a change point (--at; by
default the last one the script takes) since an earlier one (--since), or,
with --full, everything allocated: what a full backup copies.

The script holds one operation a line; sizes as for the flags; "#" starts a
comment:
	write OFFSET LENGTH     the guest writes LENGTH bytes at OFFSET
	discard OFFSET LENGTH   the guest discards (trims) them
	point NAME              take a change point, named NAME for --at and --since
	delete NAME             delete the change point NAME
	reset                   reset change tracking: every change ID before is void

For example, a stale base: "point a", "write 0 4K", "reset", "point b",
then "cbtctl mem changes --script FILE --since a" exits with status 3.
A listing at the live volume (a script that takes no point) prints no change
ID to store: the volume is still written.`

// runMemChanges is "cbtctl mem changes".
func runMemChanges(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("cbtctl mem changes",
		"cbtctl mem changes --script FILE [--at NAME] (--since NAME|CHANGEID | --full) [flags]", memChangesAbout)
	script := fs.String("script", "", "replay the operations in `FILE` (required)")
	at := fs.String("at", "", "list at the change point `NAME` of the script, or at a change ID (default: the last point; the live volume when the script takes none)")
	vol := memVolumeFlags{capacity: 1 << 30, granularity: 64 << 10}
	vol.register(fs)
	var f changesFlags
	f.register(fs)
	f.registerBase(fs, "list what changed since the change point `NAME` of the script, or since a change ID scheme:value a listing printed")
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	switch {
	case fs.NArg() > 0:
		return usageError(fs, stderr, "unexpected argument %q", fs.Arg(0))
	case *script == "":
		return usageError(fs, stderr, "--script FILE is required: the operations to replay")
	}
	if msg := f.checkBase("NAME|CHANGEID (a point of the script, or a change ID a listing printed)"); msg != "" {
		return usageError(fs, stderr, "%s", msg)
	}
	v, err := vol.volume(*script)
	if err != nil {
		return usageError(fs, stderr, "--capacity, --granularity: %s", cliWords(err.Error()))
	}
	file, _, _, err := hostfile.Open(*script, hostfile.Regular)
	if err != nil {
		return usageError(fs, stderr, "--script: %v", argError(err))
	}
	s, err := runScript(file, *script, v)
	file.Close()
	if err != nil {
		return usageError(fs, stderr, "%v", err)
	}
	sinceID, err := s.resolve("--since", f.since.s, cbt.ChangeID{})
	if err != nil {
		return usageError(fs, stderr, "%v", err)
	}
	atID, err := s.resolve("--at", *at, s.last)
	if err != nil {
		return usageError(fs, stderr, "%v", err)
	}
	disk, err := v.Open(atID)
	if err != nil {
		return reportError(ctx, stderr, fs.Name(), err, "")
	}
	defer disk.Close()
	return runChanges(ctx, stdout, stderr, disk, sinceID, f)
}

// resolve turns the value of --at or --since into a change ID: a point
// named in the script, or a change ID scheme:value; def when empty.
func (s *memScript) resolve(flagName, v string, def cbt.ChangeID) (cbt.ChangeID, error) {
	if v == "" {
		return def, nil
	}
	if id, ok := s.points[v]; ok {
		return id, nil
	}
	if !strings.Contains(v, ":") {
		return cbt.ChangeID{}, fmt.Errorf("%s %q: the script takes no change point of that name, and it is no change ID (scheme:value)", flagName, v)
	}
	id, err := cbt.ParseChangeID(v)
	if err != nil {
		return cbt.ChangeID{}, fmt.Errorf("%s: %w", flagName, err)
	}
	return id, nil
}
