package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// qemuViewMemory is the bound the help of "cbtctl qemu info", "snapshots"
// and "bitmaps" states (qemuFormatAbout) on the process's peak RSS,
// whatever the image. The program alone takes about 30 MiB (shared
// libraries mostly); the tables streamed add what package qemu holds (one
// entry, and 24 bytes an entry read: 1.5 MiB at QEMU's limit of 65536
// entries) and a batch of text rows (about 1 MiB), twice over for the
// garbage collector: about 50 MiB in all.
const qemuViewMemory = 80 << 20

// maxRSSBinary builds testdata/maxrss once, which runs a command and says
// its peak RSS: the peak RSS the kernel reports for a child of the test
// binary would count the test binary's own (see testdata/maxrss).
var maxRSSBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "cbtctl-maxrss-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "maxrss")
	out, err := exec.Command("go", "build", "-o", bin, "./testdata/maxrss").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v: %s", err, out)
	}
	return bin, nil
})

// runMaxRSS runs the built command with args, its output to stdout, and
// returns its stderr and its peak RSS in bytes; it fails the test when the
// command fails.
func runMaxRSS(t *testing.T, stdout io.Writer, args ...string) (string, int64) {
	t.Helper()
	bin, err := cbtctlBinary()
	require.NoError(t, err)
	maxrss, err := maxRSSBinary()
	require.NoError(t, err)
	result, err := os.CreateTemp(t.TempDir(), "maxrss-")
	require.NoError(t, err)
	defer result.Close()
	var stderr strings.Builder
	cmd := exec.Command(maxrss, append([]string{bin}, args...)...)
	cmd.Stdout, cmd.Stderr, cmd.ExtraFiles = stdout, &stderr, []*os.File{result}
	require.NoError(t, cmd.Run(), "stderr: %s", stderr.String())
	b, err := os.ReadFile(result.Name())
	require.NoError(t, err)
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	require.NoError(t, err, "maxrss wrote %q", b)
	return stderr.String(), n
}

// outputTail counts what a process writes and keeps its last bytes.
type outputTail struct {
	n, lines int64
	tail     []byte
}

func (o *outputTail) Write(p []byte) (int, error) {
	o.n += int64(len(p))
	o.lines += int64(strings.Count(string(p), "\n"))
	o.tail = append(o.tail, p[max(len(p)-16, 0):]...)
	o.tail = o.tail[max(len(o.tail)-16, 0):]
	return len(p), nil
}

// TestQemuViewMemory runs the built command on images with the largest
// snapshot table and bitmap directory the format allows (64 MiB of 1 KiB
// entries), in text and JSON, and checks that each prints the whole table
// and that its peak RSS stays under the bound its help states. Before the
// tables were streamed, they took up to 147 MiB (info), 737 MiB (snapshots
// --format json) and 739 MiB (bitmaps --format json).
func TestQemuViewMemory(t *testing.T) {
	snaps, bitmaps, tabbed := craftSnapshotTable(t), craftBitmapDirectory(t), craftTabbedBitmapDirectory(t)
	const names = 62 << 20 // what the names alone print, at least
	for _, c := range []struct {
		cmd, name, image string
		rows             int64 // lines of text at least
	}{
		{"info", "snapshot-table", snaps, 65536},
		{"snapshots", "snapshot-table", snaps, 2 * 65536},
		{"info", "bitmap-directory", bitmaps, 65535},
		{"bitmaps", "bitmap-directory", bitmaps, 65535},
		{"bitmaps", "tabbed-names", tabbed, 65535},
	} {
		for _, format := range []string{"text", "json"} {
			t.Run(c.cmd+"/"+c.name+"/"+format, func(t *testing.T) {
				var out outputTail
				stderr, maxRSS := runMaxRSS(t, &out, "qemu", c.cmd, c.image, "--format", format)
				assert.Empty(t, stderr)
				t.Logf("cbtctl qemu %s (%s) --format %s: %d MiB printed, max RSS %d MiB", c.cmd, c.name, format, out.n>>20, maxRSS>>20)
				assert.Greater(t, out.n, int64(names), "the whole table printed")
				if format == "json" {
					assert.Equal(t, int64(1), out.lines, "one line")
					assert.Regexp(t, `[]}]\n$`, string(out.tail))
				} else {
					assert.GreaterOrEqual(t, out.lines, c.rows, "a line a row")
				}
				assert.Less(t, maxRSS, int64(qemuViewMemory), "peak RSS (MiB: %d)", maxRSS>>20)
			})
		}
	}
}
