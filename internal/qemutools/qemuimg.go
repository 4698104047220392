package qemutools

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/changedblocks/sdk/extent"
)

// QemuImg runs qemu-img with the arguments and returns its stdout.
func QemuImg(t testing.TB, args ...string) []byte {
	t.Helper()
	return Run(t, "qemu-img", args...)
}

// Create runs `qemu-img create -q -f qcow2 [-o opts] [extra...] path size`.
// size is in qemu-img's syntax: bytes, or with a suffix ("1M", "64k"). extra
// holds further options such as "-b", base, "-F", "raw".
func Create(t testing.TB, path, opts, size string, extra ...string) {
	t.Helper()
	CreateAs(t, "qcow2", path, opts, size, extra...)
}

// CreateAs is Create for an image of the given format ("qcow2", "raw").
func CreateAs(t testing.TB, format, path, opts, size string, extra ...string) {
	t.Helper()
	args := []string{"create", "-q", "-f", format}
	if opts != "" {
		args = append(args, "-o", opts)
	}
	args = append(args, extra...)
	QemuImg(t, append(args, path, size)...)
}

// InfoSnapshot is one entry of "snapshots" in `qemu-img info --output=json`.
type InfoSnapshot struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	DateSec     int64  `json:"date-sec"`
	DateNsec    int64  `json:"date-nsec"`
	VMClockSec  int64  `json:"vm-clock-sec"`
	VMClockNsec int64  `json:"vm-clock-nsec"`
	VMStateSize int64  `json:"vm-state-size"`
	ICount      *int64 `json:"icount"` // absent before qemu 5.2
}

// InfoBitmap is one entry of the qcow2 "bitmaps" in `qemu-img info`.
type InfoBitmap struct {
	Name        string   `json:"name"`
	Granularity int64    `json:"granularity"`
	Flags       []string `json:"flags"` // "auto", "in-use"
}

// ImageInfo is the decoded `qemu-img info --output=json` of one image (not of
// its backing chain).
type ImageInfo struct {
	Filename              string         `json:"filename"`
	Format                string         `json:"format"`
	VirtualSize           int64          `json:"virtual-size"`
	ActualSize            int64          `json:"actual-size"`
	ClusterSize           int64          `json:"cluster-size"`
	BackingFilename       string         `json:"backing-filename"`
	FullBackingFilename   string         `json:"full-backing-filename"`
	BackingFilenameFormat string         `json:"backing-filename-format"`
	DirtyFlag             bool           `json:"dirty-flag"`
	Encrypted             bool           `json:"encrypted"`
	Snapshots             []InfoSnapshot `json:"snapshots"`
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
			Bitmaps         []InfoBitmap `json:"bitmaps"`
			Encrypt         *struct {
				Format string `json:"format"`
			} `json:"encrypt"`
		} `json:"data"`
	} `json:"format-specific"`
}

// Info returns `qemu-img info --output=json -f qcow2 image`.
func Info(t testing.TB, image string) ImageInfo {
	t.Helper()
	return InfoAs(t, "qcow2", image)
}

// InfoAs is Info for an image of the given format.
func InfoAs(t testing.TB, format, image string) ImageInfo {
	t.Helper()
	var info ImageInfo
	out := QemuImg(t, "info", "--output=json", "-f", format, image)
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatalf("qemu-img info %s: %v: %s", image, err, out)
	}
	return info
}

// MapEntry is one entry of `qemu-img map --output=json`.
type MapEntry struct {
	Start   int64  `json:"start"`
	Length  int64  `json:"length"`
	Depth   int    `json:"depth"` // 0 for the image itself, 1 for its backing file, ...
	Present bool   `json:"present"`
	Zero    bool   `json:"zero"`
	Data    bool   `json:"data"`
	Offset  *int64 `json:"offset"`
}

// Extent returns the guest range of the entry.
func (e MapEntry) Extent() extent.Extent { return extent.Extent{Offset: e.Start, Length: e.Length} }

// Map returns `qemu-img map --output=json -f qcow2 image`: the allocation of
// the active state down the backing chain (qemu-img map has no snapshot
// option).
func Map(t testing.TB, image string) []MapEntry {
	t.Helper()
	return MapAs(t, "qcow2", image)
}

// MapAs is Map for an image of the given format.
func MapAs(t testing.TB, format, image string) []MapEntry {
	t.Helper()
	var m []MapEntry
	out := QemuImg(t, "map", "--output=json", "-f", format, image)
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("qemu-img map %s: %v: %s", image, err, out)
	}
	return m
}

// MapWhere returns the normalised ranges of the entries keep accepts.
func MapWhere(m []MapEntry, keep func(MapEntry) bool) []extent.Extent {
	var out []extent.Extent
	for _, e := range m {
		if keep(e) {
			out = append(out, e.Extent())
		}
	}
	return extent.Normalize(out)
}

// MapPresent returns the ranges `qemu-img map` reports present at depth 0:
// what the qcow2 image describes itself (data, zero or compressed clusters),
// not its backing file; normalised.
func MapPresent(t testing.TB, image string) []extent.Extent {
	t.Helper()
	return MapWhere(Map(t, image), func(e MapEntry) bool { return e.Present && e.Depth == 0 })
}

// ExportRaw returns the guest contents of a qcow2 image, read through its
// backing chain: the active state when snapshot is "", else the internal
// snapshot of that name (`qemu-img convert -l snapshot.name=NAME -O raw`).
// Observed with qemu 7.2: a snapshot is exported at the image's current size;
// the bytes past the snapshot's own size read as zeros.
func ExportRaw(t testing.TB, image, snapshot string) []byte {
	t.Helper()
	return ExportRawAs(t, "qcow2", image, snapshot)
}

// ExportRawAs is ExportRaw for an image of the given format ("qcow2" or
// "raw"; a raw image has no snapshots).
func ExportRawAs(t testing.TB, format, image, snapshot string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "export.raw")
	args := []string{"convert", "-f", format}
	if snapshot != "" {
		args = append(args, "-l", "snapshot.name="+snapshot)
	}
	QemuImg(t, append(args, "-O", "raw", image, out)...)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(out); err != nil {
		t.Fatal(err)
	}
	return b
}
