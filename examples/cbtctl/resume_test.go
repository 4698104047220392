package main

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/extent"
)

// failAfter is an output that takes limit bytes, then fails, as a file
// system that fills up does: the write that crosses the limit writes what
// fits and reports the error, and so does every write after.
type failAfter struct {
	bytes.Buffer
	left int
}

var errNoSpace = errors.New("no space left on device")

func (w *failAfter) Write(p []byte) (int, error) {
	if len(p) <= w.left {
		w.left -= len(p)
		return w.Buffer.Write(p)
	}
	n := w.left
	w.left = 0
	w.Buffer.Write(p[:n])
	return n, errNoSpace
}

var (
	jsonExtent = regexp.MustCompile(`\{"offset":(\d+),"length":(\d+)\}`)
	resumeHint = regexp.MustCompile(`run again with --start (\d+)( --length (\d+))?\n`)
)

// outputExtents parses the extents the output holds complete: text lines
// that end in a newline, JSON records that end in their brace. A cut line
// or record at the end is left out, as the error message says to.
func outputExtents(t *testing.T, out string, asJSON bool) []extent.Extent {
	t.Helper()
	var got []extent.Extent
	if asJSON {
		for _, m := range jsonExtent.FindAllStringSubmatch(out, -1) {
			off, _ := strconv.ParseInt(m[1], 10, 64)
			n, _ := strconv.ParseInt(m[2], 10, 64)
			got = append(got, extent.Extent{Offset: off, Length: n})
		}
		return got
	}
	complete := out[:strings.LastIndexByte(out, '\n')+1]
	for l := range strings.Lines(complete) {
		if m := extentLine.FindStringSubmatch(strings.TrimSuffix(l, "\n")); m != nil {
			off, _ := strconv.ParseInt(m[2], 10, 64)
			n, _ := strconv.ParseInt(m[4], 10, 64)
			got = append(got, extent.Extent{Offset: off, Length: n})
		}
	}
	return got
}

// resumeWorkload is a script of 1200 extents of 4 KiB, 12 KiB apart, on a
// volume of 4 KiB granules: listings of about 36 KiB (JSON) to 46 KiB
// (text), many times the output buffer.
func resumeWorkload(t *testing.T) string {
	t.Helper()
	var ops []op
	for i := range int64(1200) {
		ops = append(ops, op{kind: "write", off: i * 16384, len: 512})
	}
	ops = append(ops, op{kind: "point", name: "a"})
	return writeScript(t, ops)
}

// followResumeAdvice checks what a listing whose output failed left: the
// extents its output holds, and, when the message names where to resume,
// the listing resumed there with the flags it names, together equal the
// whole listing want. It returns the offset named, -1 when none.
func followResumeAdvice(t *testing.T, base []string, out, stderr string, asJSON bool, want []extent.Extent) int64 {
	t.Helper()
	written := outputExtents(t, out, asJSON)
	require.True(t, len(written) <= len(want) && slices.Equal(written, want[:len(written)]),
		"what the output holds is a prefix of the listing")
	m := resumeHint.FindStringSubmatch(stderr)
	if m == nil {
		// No offset named: the command must be run again whole, and the
		// output holds no complete extent the message could have named.
		assert.Empty(t, written, "extents reached the output, but no resume offset is named: %s", stderr)
		return -1
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	require.NoError(t, err)
	require.NotEmpty(t, written, "a resume offset is named, but no extent reached the output")
	// The offset is the end of the last extent the output holds complete,
	// never one past what was written.
	assert.Equal(t, written[len(written)-1].End(), n, "resume offset; stderr: %s", stderr)
	args := append(slices.Clone(base), "--start", m[1])
	if m[3] != "" {
		args = append(args, "--length", m[3])
	}
	r := cbtctl(t, args...)
	require.Equal(t, exitOK, r.code, r.stderr)
	rest := outputExtents(t, r.stdout, asJSON)
	assert.Equal(t, want, append(written, rest...), "the extents written before %d and the listing resumed there are the whole listing", n)
	return n
}

// TestOutputFailureResume: when the output fails after K bytes (a full
// file system), following the advice of the message loses no extent: the
// offset it names is one up to which the output is known written, never
// one that was only buffered.
func TestOutputFailureResume(t *testing.T) {
	script := resumeWorkload(t)
	rng := rand.New(rand.NewPCG(11, 0))
	for _, tc := range []struct {
		name  string
		flags []string
	}{
		{"text", []string{"--full"}},
		{"json", []string{"--full", "--format", "json"}},
		{"text range", []string{"--full", "--start", "1M", "--length", "12M"}},
		{"json range", []string{"--full", "--format", "json", "--start", "1M", "--length", "12M"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			asJSON := slices.Contains(tc.flags, "json")
			base := append([]string{"mem", "changes", "--script", script, "--granularity", "4K"}, tc.flags...)
			whole := cbtctl(t, base...)
			require.Equal(t, exitOK, whole.code, whole.stderr)
			want := outputExtents(t, whole.stdout, asJSON)
			require.Greater(t, len(want), 500)
			limits := []int{0, 1, 4095, 4096, 4097, 8192, len(whole.stdout) - 100}
			for range 8 {
				limits = append(limits, rng.IntN(len(whole.stdout)-100))
			}
			resumed := 0
			for _, k := range limits {
				out := &failAfter{left: k}
				var errOut bytes.Buffer
				code := runContext(t.Context(), base, out, &errOut)
				require.Equal(t, exitError, code, "limit %d: %s", k, errOut.String())
				require.Contains(t, errOut.String(), "writing the output: no space left on device", "limit %d", k)
				if followResumeAdvice(t, base[:len(base):len(base)], out.String(), errOut.String(), asJSON, want) >= 0 {
					resumed++
				}
			}
			assert.Greater(t, resumed, 8, "most limits leave extents to resume after")
		})
	}
}

// TestOutputFailureDevFull: /dev/full refuses every write; nothing reached
// the output, so no resume offset is named.
func TestOutputFailureDevFull(t *testing.T) {
	f, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("/dev/full: %v", err)
	}
	defer f.Close()
	script := resumeWorkload(t)
	var errOut bytes.Buffer
	code := runContext(t.Context(), []string{"mem", "changes", "--script", script, "--granularity", "4K", "--full"}, f, &errOut)
	assert.Equal(t, exitError, code)
	assert.Contains(t, errOut.String(), "writing the output: write /dev/full: no space left on device")
	assert.NotContains(t, errOut.String(), "--start", "nothing reached /dev/full: no offset to resume at")
}

// TestOutputFailureFullTmpfs writes the listing to a file on a small tmpfs
// that fills up (root only: it mounts one), and follows the advice.
func TestOutputFailureFullTmpfs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	script := resumeWorkload(t)
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=20k", "tmpfs", dir).CombinedOutput(); err != nil {
				t.Skipf("mount tmpfs: %v: %s", err, out)
			}
			t.Cleanup(func() { _ = syscall.Unmount(dir, 0) })
			path := filepath.Join(dir, "listing")
			f, err := os.Create(path)
			require.NoError(t, err)
			base := []string{"mem", "changes", "--script", script, "--granularity", "4K", "--full", "--format", format}
			var errOut bytes.Buffer
			code := runContext(context.Background(), base, f, &errOut)
			require.NoError(t, f.Close())
			assert.Equal(t, exitError, code)
			require.Contains(t, errOut.String(), "no space left on device")
			out, err := os.ReadFile(path)
			require.NoError(t, err)
			whole := cbtctl(t, base...)
			require.Equal(t, exitOK, whole.code, whole.stderr)
			want := outputExtents(t, whole.stdout, format == "json")
			n := followResumeAdvice(t, base, string(out), errOut.String(), format == "json", want)
			assert.Positive(t, n, "the file took %d bytes: extents to resume after", len(out))
		})
	}
}
