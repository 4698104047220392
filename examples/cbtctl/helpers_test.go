package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/memcbt"
	"github.com/changedblocks/sdk/extent"
)

// result is what one run of the command left.
type result struct {
	code           int
	stdout, stderr string
}

// cbtctl runs the command in-process through run, as main does.
func cbtctl(t *testing.T, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

// cbtctlContext runs the command with ctx, stdout going to w.
func cbtctlContext(t *testing.T, ctx context.Context, stdout *bytes.Buffer, args ...string) result {
	t.Helper()
	var errOut bytes.Buffer
	code := runContext(ctx, args, stdout, &errOut)
	return result{code, stdout.String(), errOut.String()}
}

var volumeNumber = regexp.MustCompile(`mem:v\d+\.`)

// sameVolume hides the volume number in change IDs: every volume of the
// process has its own, so two runs of a command differ there.
func sameVolume(s string) string { return volumeNumber.ReplaceAllString(s, "mem:vN.") }

// op is one operation of a script, replayed on a volume of the test's own
// to get the ground truth.
type op struct {
	kind     string // write, discard, point, delete, reset
	off, len int64
	name     string
}

func (o op) String() string {
	switch o.kind {
	case "write", "discard":
		return fmt.Sprintf("%s %d %d", o.kind, o.off, o.len)
	case "point", "delete":
		return o.kind + " " + o.name
	}
	return o.kind
}

// writeScript writes ops as a script file and returns its path.
func writeScript(t *testing.T, ops []op) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("# written by the test\n\n")
	for _, o := range ops {
		fmt.Fprintln(&b, o)
	}
	path := filepath.Join(t.TempDir(), "script.txt")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	return path
}

// truth replays ops on a volume with memcbt's default paging (not the
// command's) and returns it with the points by name.
func truth(t *testing.T, capacity, granularity int64, ops []op) (*memcbt.Volume, map[string]cbt.ChangeID) {
	t.Helper()
	v, err := memcbt.NewVolume(capacity, &memcbt.Options{Granularity: granularity})
	require.NoError(t, err)
	points := map[string]cbt.ChangeID{}
	for _, o := range ops {
		switch o.kind {
		case "write":
			require.NoError(t, v.Write(o.off, o.len))
		case "discard":
			require.NoError(t, v.Discard(o.off, o.len))
		case "point":
			points[o.name], err = v.ChangePoint()
			require.NoError(t, err)
		case "delete":
			require.NoError(t, v.DeletePoint(points[o.name]))
		case "reset":
			v.ResetTracking()
		}
	}
	return v, points
}

// listTruth lists at point at since since on the ground-truth volume.
func listTruth(t *testing.T, v *memcbt.Volume, at, since cbt.ChangeID, opts *cbt.ChangesOptions) []extent.Extent {
	t.Helper()
	d, err := v.Open(at)
	require.NoError(t, err)
	defer d.Close()
	got, err := cbt.Collect(d.Changes(t.Context(), since, opts))
	require.NoError(t, err)
	return got
}

// changesJSON is the JSON object every changes command prints.
type changesJSON struct {
	Capacity    *int64          `json:"capacity"`
	Granularity *int64          `json:"granularity"`
	ChangeID    *string         `json:"changeId"`   // null when there is none to store
	NoChangeID  *string         `json:"noChangeId"` // why, then
	Extents     []extent.Extent `json:"extents"`
	Error       *string         `json:"error"`
}

// changeID returns the change ID to store, failing the test when there is
// none.
func (c changesJSON) changeID(t *testing.T) string {
	t.Helper()
	require.NotNil(t, c.ChangeID, "no change ID: %v", c.NoChangeID)
	return *c.ChangeID
}

// decodeOne decodes stdout as exactly one JSON object with only the members
// of the contract.
func decodeOne(t *testing.T, stdout string) changesJSON {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	var c changesJSON
	require.NoError(t, dec.Decode(&c), "stdout: %s", stdout)
	require.False(t, dec.More(), "more than one JSON value on stdout: %s", stdout)
	require.NotNil(t, c.Capacity)
	require.NotNil(t, c.Granularity)
	require.Contains(t, stdout, `"changeId":`, "changeId is always there, null when there is none")
	if c.ChangeID == nil {
		require.NotNil(t, c.NoChangeID, "a null changeId comes with noChangeId saying why")
		require.NotEmpty(t, *c.NoChangeID)
	} else {
		require.NotEmpty(t, *c.ChangeID, `never "changeId":""`)
		require.Nil(t, c.NoChangeID)
	}
	require.NotNil(t, c.Extents, "extents must be an array, [] when empty")
	require.True(t, strings.HasSuffix(stdout, "}\n"), "one object, one line")
	require.Equal(t, 1, strings.Count(stdout, "\n"))
	return c
}

// requireUsageError checks a usage error: status 2, nothing on stdout, and
// on stderr one line holding msg, then the line naming the help command.
func requireUsageError(t *testing.T, r result, msg, help string) {
	t.Helper()
	require.Equal(t, exitUsage, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
	require.Empty(t, r.stdout, "usage errors write nothing to stdout")
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	require.Len(t, lines, 2, "one line of error, one of where the usage is: %q", r.stderr)
	require.Contains(t, lines[0], msg)
	require.Equal(t, "see: "+help, lines[1])
	require.NotContains(t, r.stderr, "Usage:", "not the whole help")
}
