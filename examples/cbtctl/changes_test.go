package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/extent"
)

// randomOps is a workload: writes and discards, point a, more, point b.
func randomOps(seed uint64, capacity, n int64) (ops []op, sinceA []extent.Extent) {
	rng := rand.New(rand.NewPCG(seed, 42))
	one := func(record bool) {
		o := op{kind: "write", off: rng.Int64N(capacity), len: 1 + rng.Int64N(100000)}
		if rng.IntN(8) == 0 {
			o.kind = "discard"
		}
		o.len = min(o.len, capacity-o.off)
		ops = append(ops, o)
		if record {
			sinceA = append(sinceA, extent.Extent{Offset: o.off, Length: o.len})
		}
	}
	for range n {
		one(false)
	}
	ops = append(ops, op{kind: "point", name: "a"})
	for range n {
		one(true)
	}
	ops = append(ops, op{kind: "point", name: "b"})
	return ops, extent.Normalize(sinceA)
}

func TestChangesJSONMatchesGroundTruth(t *testing.T) {
	const capacity, gran = 64 << 20, 4096
	ops, sinceA := randomOps(1, capacity, 300)
	script := writeScript(t, ops)
	v, points := truth(t, capacity, gran, ops)
	base := []string{"mem", "changes", "--script", script, "--capacity", "64M", "--granularity", "4K", "--format", "json"}

	for _, tc := range []struct {
		name  string
		args  []string
		since cbt.ChangeID
		opts  cbt.ChangesOptions
	}{
		{name: "incremental", args: []string{"--since", "a"}, since: points["a"]},
		{name: "full", args: []string{"--full"}},
		{name: "align", args: []string{"--since", "a", "--align", "1M"}, since: points["a"], opts: cbt.ChangesOptions{Alignment: 1 << 20}},
		{name: "gap", args: []string{"--since", "a", "--gap", "256K"}, since: points["a"], opts: cbt.ChangesOptions{CoalesceGap: 256 << 10}},
		{name: "range", args: []string{"--since", "a", "--start", "10000000", "--length", "20M"}, since: points["a"],
			opts: cbt.ChangesOptions{StartOffset: 10000000, Length: 20 << 20}},
		{name: "since-change-id", args: []string{"--since", "a", "--at", "b"}, since: points["a"]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cbtctl(t, append(slices.Clone(base), tc.args...)...)
			require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
			assert.Empty(t, r.stderr)
			c := decodeOne(t, r.stdout)
			assert.Nil(t, c.Error)
			assert.EqualValues(t, capacity, *c.Capacity)
			assert.EqualValues(t, gran, *c.Granularity)
			if tc.opts.StartOffset > 0 || tc.opts.Length > 0 {
				// A partial listing reaches no point: nothing to store.
				assert.Nil(t, c.ChangeID)
				require.NotNil(t, c.NoChangeID)
				assert.Contains(t, *c.NoChangeID, "a partial listing (--start, --length) reaches no point; store the change ID of a whole listing")
			} else {
				// The change ID to store is point b's: the same generation and
				// epoch as the ground truth's, on the command's own volume.
				id, err := cbt.ParseChangeID(c.changeID(t))
				require.NoError(t, err)
				assert.Equal(t, "mem", id.Scheme())
				assert.True(t, strings.HasSuffix(id.Value(), ".1/2"), id.Value())
			}

			want := listTruth(t, v, points["b"], tc.since, &tc.opts)
			assert.Equal(t, want, c.Extents)
			if !tc.since.IsZero() && tc.opts.Length == 0 {
				// And, independently of memcbt: every byte written or
				// discarded since a is listed.
				assert.Empty(t, extent.SubtractSlices(sinceA, c.Extents), "bytes written since a but not listed")
			}
		})
	}
}

var extentLine = regexp.MustCompile(`^( *)(\d+)  ( *)(\d+)    (changed|allocated)$`)

// parseText checks the text listing's columns and returns the extents and
// the summary line.
func parseText(t *testing.T, stdout string, width int, what string) ([]extent.Extent, string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	require.NotEmpty(t, lines)
	var got []extent.Extent
	for _, l := range lines[:len(lines)-1] {
		m := extentLine.FindStringSubmatch(l)
		require.NotNil(t, m, "line %q", l)
		assert.Len(t, m[1]+m[2], width, "offset column of %q", l)
		assert.Len(t, m[3]+m[4], width, "length column of %q", l)
		assert.Equal(t, what, m[5])
		off, _ := strconv.ParseInt(m[2], 10, 64)
		n, _ := strconv.ParseInt(m[4], 10, 64)
		got = append(got, extent.Extent{Offset: off, Length: n})
	}
	return got, lines[len(lines)-1]
}

func TestChangesText(t *testing.T) {
	ops := []op{
		{kind: "write", off: 0, len: 4096},
		{kind: "write", off: 1 << 20, len: 100},
		{kind: "point", name: "a"},
		{kind: "write", off: 8 << 30, len: 65536},
		{kind: "write", off: 40<<30 + 10, len: 1},
		{kind: "point", name: "b"},
	}
	script := writeScript(t, ops)
	v, points := truth(t, 64<<30, 65536, ops)

	// A 64 GiB disk has 11-digit offsets: the columns widen to fit them all.
	r := cbtctl(t, "mem", "changes", "--script", script, "--capacity", "64G", "--since", "a")
	require.Equal(t, exitOK, r.code, r.stderr)
	got, summary := parseText(t, r.stdout, 11, "changed")
	assert.Equal(t, listTruth(t, v, points["b"], points["a"], nil), got)
	assert.Regexp(t, `^# 2 extents, 131072 bytes changed \(128 KiB, 0\.00% of 64 GiB, in 64 KiB granules\); change ID to store: mem:v\d+\.1/2$`, summary)

	// Without --since: what is allocated, in 10-digit columns on a 1 GiB disk.
	r = cbtctl(t, "mem", "changes", "--script", script, "--capacity", "1G", "--at", "a", "--full")
	require.NotEqual(t, exitOK, r.code, "writes beyond a 1 GiB disk must fail the script")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "script.txt:6: ") // after the comment and the blank line

	r = cbtctl(t, "mem", "changes", "--script", writeScript(t, ops[:3]), "--capacity", "1G", "--full")
	require.Equal(t, exitOK, r.code, r.stderr)
	got, summary = parseText(t, r.stdout, 10, "allocated")
	assert.Equal(t, []extent.Extent{{Offset: 0, Length: 65536}, {Offset: 1 << 20, Length: 65536}}, got)
	assert.Regexp(t, `^# 2 extents, 131072 bytes allocated \(128 KiB, 0\.01% of 1 GiB, in 64 KiB granules\); change ID to store: mem:v\d+\.1/1$`, summary)
}

// staleOps take a point, then reset tracking: a is no longer a valid base.
var staleOps = []op{
	{kind: "write", off: 0, len: 4096},
	{kind: "point", name: "a"},
	{kind: "write", off: 1 << 20, len: 4096},
	{kind: "reset"},
	{kind: "write", off: 2 << 20, len: 4096},
	{kind: "point", name: "b"},
}

func TestExitStatusFullBackupRequired(t *testing.T) {
	script := writeScript(t, staleOps)
	for _, since := range []string{
		"a",               // reset since
		"mem:v999999.1/1", // a change ID of another volume
	} {
		t.Run(since, func(t *testing.T) {
			r := cbtctl(t, "mem", "changes", "--script", script, "--since", since, "--format", "json")
			assert.Equal(t, exitFullBackup, r.code)
			c := decodeOne(t, r.stdout)
			require.NotNil(t, c.Error, "the object carries the error")
			assert.Contains(t, *c.Error, "change ID is not valid")
			assert.Empty(t, c.Extents)
			assert.Contains(t, r.stderr, "take a full backup: run again with --full instead of --since and store the printed change ID")
			assert.NotContains(t, r.stderr, "--start", "no resume offered when a full backup is required")

			r = cbtctl(t, "mem", "changes", "--script", script, "--since", since)
			assert.Equal(t, exitFullBackup, r.code)
			assert.Equal(t, "# incomplete: 0 extents listed before an error; store no change ID\n", r.stdout)
		})
	}
	// What the message says to do works.
	r := cbtctl(t, "mem", "changes", "--script", script, "--full")
	assert.Equal(t, exitOK, r.code, r.stderr)
}

func TestExitStatusError(t *testing.T) {
	deleted := writeScript(t, []op{{kind: "point", name: "a"}, {kind: "point", name: "b"}, {kind: "delete", name: "a"}})
	stale := writeScript(t, staleOps)
	for _, tc := range []struct {
		name string
		args []string
		hint string
	}{
		{"another scheme", []string{"--script", stale, "--since", "qcow2:s1"}, "the platform refused the --since change ID (the message above says why): it must be one a listing of this platform printed for this disk"},
		// Opening a deleted or reset point: memcbt reports ErrNotFound
		// wrapping ErrChangeIDInvalid; no full backup can come of a point
		// that is gone, so it is status 1, not 3.
		{"deleted point", []string{"--script", deleted, "--at", "a", "--full"}, "does not exist (anymore)"},
		{"point before a reset", []string{"--script", stale, "--at", "a", "--full"}, "does not exist (anymore)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cbtctl(t, append([]string{"mem", "changes"}, tc.args...)...)
			assert.Equal(t, exitError, r.code, "stdout %q stderr %q", r.stdout, r.stderr)
			assert.Contains(t, r.stderr, "cbtctl mem changes: ")
			assert.Contains(t, r.stderr, tc.hint)
		})
	}
}

// cancelOnWrite cancels a context when output first reaches it: the
// listing is then interrupted in the middle, as Ctrl-C does.
type cancelOnWrite struct {
	bytes.Buffer
	cancel context.CancelCauseFunc
}

func (c *cancelOnWrite) Write(p []byte) (int, error) {
	c.cancel(errors.New("interrupt signal received"))
	return c.Buffer.Write(p)
}

func TestInterruptedMidStream(t *testing.T) {
	// 3000 extents: the JSON is far bigger than the output buffer, so the
	// first part reaches stdout while the listing runs.
	var ops []op
	for i := range int64(3000) {
		ops = append(ops, op{kind: "write", off: i * 16384, len: 512})
	}
	ops = append(ops, op{kind: "point", name: "a"})
	script := writeScript(t, ops)
	v, points := truth(t, 1<<30, 4096, ops)
	all := listTruth(t, v, points["a"], cbt.ChangeID{}, nil)
	require.Len(t, all, 3000)

	ctx, cancel := context.WithCancelCause(t.Context())
	defer cancel(nil)
	out := &cancelOnWrite{cancel: cancel}
	var errOut bytes.Buffer
	code := runContext(ctx, []string{"mem", "changes", "--script", script, "--granularity", "4K", "--format", "json", "--full"}, out, &errOut)
	assert.Equal(t, exitError, code)
	c := decodeOne(t, out.String())
	require.NotNil(t, c.Error)
	assert.Equal(t, "interrupted: interrupt signal received", *c.Error)
	require.NotEmpty(t, c.Extents)
	require.Less(t, len(c.Extents), len(all), "the listing stopped early")
	assert.Equal(t, all[:len(c.Extents)], c.Extents, "what was printed before the interruption is correct")

	// The message says where to resume, and resuming there gives the rest.
	resume := c.Extents[len(c.Extents)-1].End()
	assert.Contains(t, errOut.String(), "cbtctl mem changes: interrupted: interrupt signal received\n")
	assert.Contains(t, errOut.String(), fmt.Sprintf("run again with --start %d\n", resume))
	r := cbtctl(t, "mem", "changes", "--script", script, "--granularity", "4K", "--format", "json", "--full", "--start", strconv.FormatInt(resume, 10))
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, all, append(c.Extents, decodeOne(t, r.stdout).Extents...))
}

func TestInterruptedBeforeListing(t *testing.T) {
	script := writeScript(t, staleOps)
	ctx, cancel := context.WithCancelCause(t.Context())
	cancel(errors.New("terminated signal received"))
	var out bytes.Buffer
	r := cbtctlContext(t, ctx, &out, "mem", "changes", "--script", script, "--full")
	assert.Equal(t, exitError, r.code)
	assert.Equal(t, "# incomplete: 0 extents listed before an error; store no change ID\n", r.stdout)
	assert.Contains(t, r.stderr, "interrupted: terminated signal received")
	assert.Contains(t, r.stderr, "run the command again")
}

func TestResumeHintKeepsTheRange(t *testing.T) {
	f := changesFlags{start: 1000, length: 5000}
	assert.Equal(t, "", listing{}.resume(f))
	assert.Equal(t, "--start 3000 --length 3000", listing{extents: 2, end: 3000}.resume(f))
	assert.Equal(t, "--start 3000", listing{extents: 2, end: 3000}.resume(changesFlags{}))
}

func TestProgressOnlyOnStderr(t *testing.T) {
	ops, _ := randomOps(2, 64<<20, 200)
	script := writeScript(t, ops)
	args := []string{"mem", "changes", "--script", script, "--capacity", "64M", "--since", "a", "--format", "json"}

	plain := cbtctl(t, args...)
	require.Equal(t, exitOK, plain.code, plain.stderr)
	assert.Empty(t, plain.stderr, "no bar when stderr is not a terminal")

	for _, flag := range []string{"--progress", "--progress=true"} {
		r := cbtctl(t, append(slices.Clone(args), flag)...)
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.Equal(t, sameVolume(plain.stdout), sameVolume(r.stdout), "the bar never touches stdout")
		assert.True(t, strings.HasPrefix(r.stderr, "\r"), "%q", r.stderr)
		assert.True(t, strings.HasSuffix(r.stderr, "\n"), "the bar ends its line")
		assert.Equal(t, 1, strings.Count(r.stderr, "\n"))
		n := len(decodeOne(t, plain.stdout).Extents)
		assert.Regexp(t, `\r100% \[#{24}\] 64 MiB of 64 MiB scanned, `+strconv.Itoa(n)+` extents, [0-9.]+ [KM]iB listed, \d+s *\n$`, r.stderr)
	}
	r := cbtctl(t, append(slices.Clone(args), "--progress=false")...)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Empty(t, r.stderr)

	// On an error, the bar's line ends before the message.
	stale := writeScript(t, staleOps)
	r = cbtctl(t, "mem", "changes", "--script", stale, "--since", "a", "--progress")
	assert.Equal(t, exitFullBackup, r.code)
	assert.NotContains(t, r.stdout, "\r")
}
