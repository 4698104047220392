package qcow2

// Helpers that drive the real qemu tools (qemu-img, qemu-io, qemu-nbd, nbdinfo)
// to build images and to read the ground truth the decoder is compared with.

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/qemutools"
	"github.com/stretchr/testify/require"
)

// needTools skips the test when a tool is missing, or fails it under CI=true.
func needTools(t testing.TB, names ...string) {
	t.Helper()
	qemutools.Need(t, names...)
}

// haveTool reports whether a tool is installed (for optional comparisons); under
// CI=true a missing tool fails the test.
func haveTool(t testing.TB, name string) bool {
	t.Helper()
	return qemutools.Have(t, name)
}

// run runs a command and returns its stdout; it fails the test on error.
func run(t testing.TB, name string, args ...string) []byte {
	t.Helper()
	return qemutools.Run(t, name, args...)
}

// runErr runs a command expected to fail and returns its combined output.
func runErr(t testing.TB, name string, args ...string) string {
	t.Helper()
	return qemutools.RunFail(t, name, args...)
}

func qemuImg(t testing.TB, args ...string) []byte { t.Helper(); return qemutools.QemuImg(t, args...) }

// qemuIO runs qemu-io commands (e.g. "write -P 0xab 0 64k") on a qcow2 image in
// one process.
func qemuIO(t testing.TB, img string, cmds ...string) {
	t.Helper()
	qemutools.QemuIO(t, img, cmds...)
}

// createImage runs qemu-img create -f qcow2 [-o opts] [extra...] path size.
func createImage(t testing.TB, path, opts string, size string, extra ...string) {
	t.Helper()
	args := []string{"create", "-q", "-f", "qcow2"}
	if opts != "" {
		args = append(args, "-o", opts)
	}
	args = append(args, extra...)
	qemuImg(t, append(args, path, size)...)
}

// createImageRetry is createImage for LUKS images: qemu-img times PBKDF2 on
// the thread's CPU clock to size the key's iterations, and on a loaded VM
// that measurement sometimes fails ("Unable to get accurate CPU usage").
// That one error is retried; any other fails the test.
func createImageRetry(t testing.TB, path, opts string, size string, extra ...string) {
	t.Helper()
	args := []string{"create", "-q", "-f", "qcow2"}
	if opts != "" {
		args = append(args, "-o", opts)
	}
	args = append(append(args, extra...), path, size)
	for try := 1; ; try++ {
		out, err := execCommand("qemu-img", args...).CombinedOutput()
		if err == nil {
			return
		}
		if try < 5 && strings.Contains(string(out), "Unable to get accurate CPU usage") {
			_ = os.Remove(path)
			continue
		}
		t.Fatalf("qemu-img %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// The decoded outputs of qemu-img and nbdinfo come from internal/qemutools.
type (
	infoBitmap = qemutools.InfoBitmap
	qemuInfo   = qemutools.ImageInfo
)

func imgInfo(t testing.TB, path string) qemuInfo { t.Helper(); return qemutools.Info(t, path) }

// qemuMapPresent returns the ranges `qemu-img map` reports present at depth 0
// (described by the image itself, not its backing file), merged.
func qemuMapPresent(t testing.TB, path string) []extent.Extent {
	t.Helper()
	return qemutools.MapPresent(t, path)
}

// exportRaw returns the guest contents of a view: the active image when
// snapshot is "", else the named internal snapshot.
func exportRaw(t testing.TB, path, snapshot string) []byte {
	t.Helper()
	return qemutools.ExportRaw(t, path, snapshot)
}

// nbdMapWhere returns the merged extents of nbdMap whose type satisfies keep.
func nbdMapWhere(t testing.TB, keep func(int64) bool, path, context string, nbdArgs ...string) []extent.Extent {
	t.Helper()
	return qemutools.NBDMapWhere(t, keep, path, context, nbdArgs...)
}

// openFile opens an image file with the decoder.
func openFile(t testing.TB, path string, opts *Options) *Image {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	require.NoError(t, err)
	img, err := Open(f, st.Size(), opts)
	require.NoError(t, err, "open %s", path)
	return img
}

// collect gathers an extent sequence, failing the test on error.
func collect(t testing.TB, seq func(func(extent.Extent, error) bool)) []extent.Extent {
	t.Helper()
	var out []extent.Extent
	for e, err := range seq {
		require.NoError(t, err)
		out = append(out, e)
	}
	return out
}

// merge sorts and coalesces extents (adjacent ones joined).
func merge(es []extent.Extent) []extent.Extent {
	es = append([]extent.Extent(nil), es...)
	return extent.Normalize(es)
}

func execCommand(name string, args ...string) *exec.Cmd { return exec.Command(name, args...) }

// collectErr gathers an extent sequence up to its error.
func collectErr(seq func(func(extent.Extent, error) bool)) ([]extent.Extent, error) {
	var out []extent.Extent
	for e, err := range seq {
		if err != nil {
			return out, err
		}
		out = append(out, e)
	}
	return out, nil
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
