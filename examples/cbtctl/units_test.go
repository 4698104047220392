package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "4096": 4096, "64K": 64 << 10, "64k": 64 << 10, "64KiB": 64 << 10, "64KB": 64 << 10,
		"1M": 1 << 20, "2G": 2 << 30, "3T": 3 << 40, "1P": 1 << 50, "7E": 7 << 60, "1gib": 1 << 30,
		"9223372036854775807": math.MaxInt64,
	} {
		got, err := parseSize(in)
		if assert.NoError(t, err, in) {
			assert.Equal(t, want, got, in)
			back, err := parseSize(formatSize(got))
			assert.NoError(t, err)
			assert.Equal(t, got, back, "formatSize(%d) = %q", got, formatSize(got))
		}
	}
	for _, in := range []string{"", "-1", "+1", "K", "B", "iB", "1.5G", "0x10", "1_000", "8E", "9223372036854775808", "64 K", "12X", "1KiBB"} {
		_, err := parseSize(in)
		assert.Error(t, err, in)
	}
	assert.Equal(t, "64K", formatSize(65536))
	assert.Equal(t, "1G", formatSize(1<<30))
	assert.Equal(t, "1000", formatSize(1000))
	assert.Equal(t, "0", formatSize(0))
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 1023: "1023 B", 1024: "1 KiB", 1536: "1.5 KiB", 64 << 20: "64 MiB",
		1 << 30: "1 GiB", 5<<40 + 1<<39: "5.5 TiB", math.MaxInt64: "8 EiB",
	} {
		assert.Equal(t, want, humanBytes(n), "%d", n)
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		hint   string
	}{
		{fmt.Errorf("%w: stale", cbt.ErrChangeIDInvalid), exitFullBackup, "run again with --full instead of --since and store the printed change ID"},
		{&cbt.Error{Op: "changes", Err: fmt.Errorf("%w: x", cbt.ErrChangeIDInvalid)}, exitFullBackup, "full backup required"},
		{fmt.Errorf("%w: %w", cbt.ErrNotFound, cbt.ErrChangeIDInvalid), exitError, "does not exist"},
		{cbt.ErrNotFound, exitError, "does not exist"},
		{cbt.ErrNotEnabled, exitError, "enable change tracking"},
		{cbt.ErrBusy, exitError, "in use"},
		{cbt.ErrUnsupported, exitError, "copy the whole disk"},
		{cbt.ErrInvalidArgument, exitError, "the platform refused an argument: the message above says which"},
		{fmt.Errorf("%w: change ID of scheme \"qcow2\" given to a disk whose change IDs are of scheme \"mem\"", cbt.ErrInvalidArgument), exitError, "the platform refused the --since change ID"},
		{cbt.ErrCorrupt, exitError, "malformed"},
		{cbt.ErrClosed, exitError, "bug"},
		{writeError(errors.New("broken pipe")), exitError, "output could not be written"},
		{&interruptedError{cause: context.Canceled, err: context.Canceled}, exitError, "interrupted"},
		{errors.New("something else"), exitError, ""},
	} {
		status, hint := classify(tc.err)
		assert.Equal(t, tc.status, status, "%v", tc.err)
		if tc.hint == "" {
			assert.Empty(t, hint)
		} else {
			assert.Contains(t, hint, tc.hint, "%v", tc.err)
		}
	}
	status, _ := classify(nil)
	assert.Equal(t, exitOK, status)
}

func TestProgressBarRateLimit(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(0, 0)
	b := startProgressBar(&buf, func() time.Time { return now }, make(chan time.Time), func() {})

	b.update(cbt.Progress{Scanned: 0, Total: 1 << 30})
	first := buf.String()
	assert.Equal(t, "\r  0% [........................] 0 B of 1 GiB scanned, 0 extents, 0 B listed, 0s", first)

	now = now.Add(progressInterval / 2)
	b.update(cbt.Progress{Scanned: 1 << 28, Total: 1 << 30, Extents: 1, Changed: 4096})
	assert.Equal(t, first, buf.String(), "not redrawn within the interval")

	now = now.Add(progressInterval)
	b.update(cbt.Progress{Scanned: 1 << 29, Total: 1 << 30, Extents: 2, Changed: 8192})
	assert.Equal(t, first+"\r 50% [############............] 512 MiB of 1 GiB scanned, 2 extents, 8 KiB listed, 0s", buf.String())

	now = now.Add(progressInterval / 10)
	b.update(cbt.Progress{Scanned: 1 << 30, Total: 1 << 30, Extents: 3, Changed: 12288})
	b.finish(true)
	out := buf.String()
	// The last state is drawn, padded over the longer line before, and the
	// line ends.
	assert.True(t, strings.HasSuffix(out, "\r100% [########################] 1 GiB of 1 GiB scanned, 3 extents, 12 KiB listed, 0s \n"), "%q", out)

	// A shorter line blanks out what the longer one before left.
	buf.Reset()
	b2 := startProgressBar(&buf, func() time.Time { return now }, make(chan time.Time), func() {})
	b2.update(cbt.Progress{Scanned: 10 << 30, Total: 10 << 30, Extents: 1000, Changed: 1 << 30})
	long := buf.Len()
	now = now.Add(progressInterval)
	b2.update(cbt.Progress{Total: 1})
	assert.Equal(t, 2*long, buf.Len(), "%q", buf.String())
	b2.finish(true)

	var nilBar *progressBar
	nilBar.finish(true) // draws nothing, does not panic
	buf.Reset()
	quiet := startProgressBar(&buf, time.Now, make(chan time.Time), func() {})
	quiet.finish(true)
	assert.Empty(t, buf.String(), "no update, no tick: no line")
}

// failWriter fails every write, as a closed pipe does.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestOutputWriteError(t *testing.T) {
	script := writeScript(t, staleOps)
	var errOut bytes.Buffer
	code := runContext(t.Context(), []string{"mem", "changes", "--script", script, "--full"}, failWriter{}, &errOut)
	assert.Equal(t, exitError, code)
	assert.Contains(t, errOut.String(), "writing the output: broken pipe")
	assert.Contains(t, errOut.String(), "output could not be written")
}

func TestJSONWriterEscapes(t *testing.T) {
	var buf bytes.Buffer
	w := newChangesWriter(&buf, "json", "")
	id, err := cbt.NewChangeID("rhv", `a"b\c`)
	require.NoError(t, err)
	require.NoError(t, w.begin(header{capacity: 10, granularity: 1, changeID: id}))
	require.NoError(t, w.extent(cbt.Extent{Offset: 1, Length: 2}))
	require.NoError(t, w.end(listing{}, errors.New("bad \"thing\"\n")))
	assert.Equal(t, `{"capacity":10,"granularity":1,"changeId":"rhv:a\"b\\c","extents":[{"offset":1,"length":2}],"error":"bad \"thing\"\n"}`+"\n", buf.String())
	c := decodeOne(t, buf.String())
	assert.Equal(t, `rhv:a"b\c`, *c.ChangeID)
}
