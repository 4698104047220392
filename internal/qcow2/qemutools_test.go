package qcow2

// Helpers that drive the real qemu tools (qemu-img, qemu-io, qemu-nbd, nbdinfo)
// to build images and to read the ground truth the decoder is compared with.

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
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

type infoSnapshot struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	DateSec     int64  `json:"date-sec"`
	DateNsec    int64  `json:"date-nsec"`
	VMClockSec  int64  `json:"vm-clock-sec"`
	VMClockNsec int64  `json:"vm-clock-nsec"`
	VMStateSize int64  `json:"vm-state-size"`
	ICount      *int64 `json:"icount"`
}

type infoBitmap struct {
	Name        string   `json:"name"`
	Granularity int64    `json:"granularity"`
	Flags       []string `json:"flags"`
}

// qemuInfo is the part of `qemu-img info --output=json` the tests compare.
type qemuInfo struct {
	VirtualSize           int64          `json:"virtual-size"`
	ClusterSize           int64          `json:"cluster-size"`
	BackingFilename       string         `json:"backing-filename"`
	BackingFilenameFormat string         `json:"backing-filename-format"`
	DirtyFlag             bool           `json:"dirty-flag"`
	Encrypted             bool           `json:"encrypted"`
	Snapshots             []infoSnapshot `json:"snapshots"`
	FormatSpecific        struct {
		Type string `json:"type"`
		Data struct {
			Compat          string       `json:"compat"`
			CompressionType string       `json:"compression-type"`
			LazyRefcounts   bool         `json:"lazy-refcounts"`
			RefcountBits    int          `json:"refcount-bits"`
			Corrupt         bool         `json:"corrupt"`
			ExtendedL2      bool         `json:"extended-l2"`
			DataFile        string       `json:"data-file"`
			DataFileRaw     bool         `json:"data-file-raw"`
			Bitmaps         []infoBitmap `json:"bitmaps"`
			Encrypt         *struct {
				Format string `json:"format"`
			} `json:"encrypt"`
		} `json:"data"`
	} `json:"format-specific"`
}

func imgInfo(t testing.TB, path string) qemuInfo {
	t.Helper()
	var info qemuInfo
	require.NoError(t, json.Unmarshal(qemuImg(t, "info", "--output=json", "-f", "qcow2", path), &info))
	return info
}

type mapEntry struct {
	Start   int64 `json:"start"`
	Length  int64 `json:"length"`
	Depth   int   `json:"depth"`
	Present bool  `json:"present"`
	Zero    bool  `json:"zero"`
	Data    bool  `json:"data"`
}

// qemuMapPresent returns the ranges `qemu-img map` reports present at depth 0
// (described by the image itself, not its backing file), merged.
func qemuMapPresent(t testing.TB, path string) []extent.Extent {
	t.Helper()
	var m []mapEntry
	require.NoError(t, json.Unmarshal(qemuImg(t, "map", "--output=json", "-f", "qcow2", path), &m))
	var out []extent.Extent
	for _, e := range m {
		if e.Present && e.Depth == 0 {
			out = append(out, extent.Extent{Offset: e.Start, Length: e.Length})
		}
	}
	return merge(out)
}

// exportRaw returns the guest contents of a view: the active image when
// snapshot is "", else the named internal snapshot.
func exportRaw(t testing.TB, path, snapshot string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "export.raw")
	args := []string{"convert", "-f", "qcow2"}
	if snapshot != "" {
		args = append(args, "-l", "snapshot.name="+snapshot)
	}
	qemuImg(t, append(args, "-O", "raw", path, out)...)
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	require.NoError(t, os.Remove(out))
	return b
}

type nbdExtent struct {
	Offset int64 `json:"offset"`
	Length int64 `json:"length"`
	Type   int64 `json:"type"`
}

// nbdMap runs `nbdinfo --json --map=CONTEXT -- [ qemu-nbd -r -f qcow2 ARGS... PATH ]`.
func nbdMap(t testing.TB, path, context string, nbdArgs ...string) []nbdExtent {
	t.Helper()
	args := []string{"--json", "--map=" + context, "--", "[", "qemu-nbd", "-r", "-f", "qcow2"}
	args = append(append(args, nbdArgs...), path, "]")
	var es []nbdExtent
	require.NoError(t, json.Unmarshal(run(t, "nbdinfo", args...), &es))
	return es
}

// nbdMapWhere returns the merged extents of nbdMap whose type satisfies keep.
func nbdMapWhere(t testing.TB, keep func(int64) bool, path, context string, nbdArgs ...string) []extent.Extent {
	t.Helper()
	var out []extent.Extent
	for _, e := range nbdMap(t, path, context, nbdArgs...) {
		if keep(e.Type) {
			out = append(out, extent.Extent{Offset: e.Offset, Length: e.Length})
		}
	}
	return merge(out)
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
