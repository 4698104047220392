package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/qemu"
)

const (
	kib = 1 << 10
	mib = 1 << 20
)

// qemuChain is the image the qemu tests list: top.qcow2 over base.qcow2,
// 4 MiB, 64 KiB clusters, built by the real qemu tools:
//
//	base: write 0 64k
//	top:  write 1M 64k; snapshot s1 (id 1); write 128k 64k; snapshot s2 (id 2);
//	      bitmap b1 added (enabled); write 2M 64k; write 3M 4k
type qemuChain struct {
	dir, base, top string
}

func newQemuChain(t *testing.T) qemuChain {
	t.Helper()
	needQemuTools(t)
	c := qemuChain{dir: t.TempDir()}
	c.base, c.top = filepath.Join(c.dir, "base.qcow2"), filepath.Join(c.dir, "top.qcow2")
	qemuImg(t, "create", "-q", "-f", "qcow2", c.base, "4M")
	qemuIO(t, c.base, "write 0 64k")
	qemuImg(t, "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", c.top)
	qemuIO(t, c.top, "write 1M 64k")
	qemuImg(t, "snapshot", "-c", "s1", c.top)
	qemuIO(t, c.top, "write 128k 64k")
	qemuImg(t, "snapshot", "-c", "s2", c.top)
	qemuImg(t, "bitmap", "--add", c.top, "b1")
	qemuIO(t, c.top, "write 2M 64k", "write 3M 4k")
	return c
}

// ext is the extent of length n at off.
func ext(off, n int64) extent.Extent { return extent.Extent{Offset: off, Length: n} }

func TestQemuChangesJSON(t *testing.T) {
	c := newQemuChain(t)
	raw := map[string][]byte{
		"s1":     exportRaw(t, c.top, "s1"),
		"s2":     exportRaw(t, c.top, "s2"),
		"active": exportRaw(t, c.top, ""),
	}
	baseRaw := exportRaw(t, c.base, "")
	for _, tc := range []struct {
		name  string
		args  []string
		want  []extent.Extent
		truth []extent.Extent // bytes that changed: must all be reported
	}{
		{"since snapshot at snapshot", []string{"--trust-bare-name", "--since", "snapshot:s1", "--at", "snapshot:s2"},
			[]extent.Extent{ext(128*kib, 64*kib)}, differing(raw["s1"], raw["s2"])},
		{"since snapshot id", []string{"--trust-bare-name", "--since", "snapshot:1", "--at", "snapshot:2"},
			[]extent.Extent{ext(128*kib, 64*kib)}, differing(raw["s1"], raw["s2"])},
		{"since change ID", []string{"--trust-bare-name", "--since", "qcow2:snapshot:s1", "--at", "qcow2:snapshot:s2"},
			[]extent.Extent{ext(128*kib, 64*kib)}, differing(raw["s1"], raw["s2"])},
		{"since snapshot at active", []string{"--trust-bare-name", "--since", "snapshot:s2"},
			[]extent.Extent{ext(2*mib, 64*kib), ext(3*mib, 64*kib)}, differing(raw["s2"], raw["active"])},
		{"since older snapshot", []string{"--trust-bare-name", "--since", "snapshot:s1", "--at", "active"},
			[]extent.Extent{ext(128*kib, 64*kib), ext(2*mib, 64*kib), ext(3*mib, 64*kib)}, differing(raw["s1"], raw["active"])},
		{"since bitmap", []string{"--trust-bare-name", "--since", "bitmap:b1"},
			[]extent.Extent{ext(2*mib, 64*kib), ext(3*mib, 64*kib)}, differing(raw["s2"], raw["active"])},
		{"since layer", []string{"--trust-bare-name", "--since", "layer:" + c.base},
			[]extent.Extent{ext(128*kib, 64*kib), ext(1*mib, 64*kib), ext(2*mib, 64*kib), ext(3*mib, 64*kib)}, differing(baseRaw, raw["active"])},
		{"since layer by the name the overlay records", []string{"--trust-bare-name", "--since", "layer:base.qcow2"},
			[]extent.Extent{ext(128*kib, 64*kib), ext(1*mib, 64*kib), ext(2*mib, 64*kib), ext(3*mib, 64*kib)}, differing(baseRaw, raw["active"])},
		{"since layer at snapshot", []string{"--trust-bare-name", "--since", "layer:" + c.base, "--at", "snapshot:s1"},
			[]extent.Extent{ext(1*mib, 64*kib)}, differing(baseRaw, raw["s1"])},
		{"since active at active", []string{"--since", "active"}, []extent.Extent{}, nil},
		{"full", []string{"--full"},
			[]extent.Extent{ext(0, 64*kib), ext(128*kib, 64*kib), ext(1*mib, 64*kib), ext(2*mib, 64*kib), ext(3*mib, 64*kib)}, differing(nil, raw["active"])},
		{"full at snapshot", []string{"--full", "--at", "snapshot:s1"},
			[]extent.Extent{ext(0, 64*kib), ext(1*mib, 64*kib)}, differing(nil, raw["s1"])},
		{"range", []string{"--trust-bare-name", "--since", "snapshot:s1", "--start", "1M", "--length", "2M"},
			[]extent.Extent{ext(2*mib, 64*kib)}, nil},
		{"align", []string{"--trust-bare-name", "--since", "snapshot:s1", "--align", "1M"},
			[]extent.Extent{ext(0, 1*mib), ext(2*mib, 2*mib)}, differing(raw["s1"], raw["active"])},
		{"gap", []string{"--trust-bare-name", "--since", "snapshot:s2", "--gap", "1M"},
			[]extent.Extent{ext(2*mib, 1*mib+64*kib)}, differing(raw["s2"], raw["active"])},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// IMAGE first, and flags after it: both orders parse.
			r := cbtctl(t, append([]string{"qemu", "changes", c.top, "--format", "json"}, tc.args...)...)
			require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
			assert.Empty(t, r.stderr)
			out := decodeOne(t, r.stdout)
			assert.Nil(t, out.Error)
			assert.EqualValues(t, 4*mib, *out.Capacity)
			assert.EqualValues(t, 64*kib, *out.Granularity)
			requireCovers(t, out.Extents, tc.truth, tc.name)
			assert.Equal(t, tc.want, out.Extents, "nothing but what was written")
		})
	}
}

func TestQemuChangesFlagsBeforeImage(t *testing.T) {
	c := newQemuChain(t)
	r := cbtctl(t, "qemu", "changes", "--format", "json", "--trust-bare-name", "--since", "snapshot:s1", "--at", "snapshot:s2", "--", c.top)
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Equal(t, []extent.Extent{ext(128*kib, 64*kib)}, decodeOne(t, r.stdout).Extents)
}

// TestQemuChangeIDRoundTrip stores the change ID a listing prints and passes
// it back with --since, as the next incremental does.
func TestQemuChangeIDRoundTrip(t *testing.T) {
	c := newQemuChain(t)
	r := cbtctl(t, "qemu", "changes", c.top, "--full", "--at", "snapshot:s2", "--format", "json")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	full := decodeOne(t, r.stdout)
	assert.Equal(t, []extent.Extent{ext(0, 64*kib), ext(128*kib, 64*kib), ext(1*mib, 64*kib)}, full.Extents)
	id, err := cbt.ParseChangeID(full.changeID(t))
	require.NoError(t, err)
	p, err := qemu.PointOf(id)
	require.NoError(t, err, "the change ID names a qcow2 point")
	assert.Equal(t, qemu.PointSnapshot, p.Kind)

	r = cbtctl(t, "qemu", "changes", c.top, "--since", *full.ChangeID, "--at", "snapshot:s2", "--format", "json")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	again := decodeOne(t, r.stdout)
	assert.Empty(t, again.Extents, "nothing changed between a point and itself")
	assert.Equal(t, *full.ChangeID, *again.ChangeID)

	r = cbtctl(t, "qemu", "changes", c.top, "--since", *full.ChangeID, "--format", "json")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	incr := decodeOne(t, r.stdout)
	assert.Equal(t, []extent.Extent{ext(2*mib, 64*kib), ext(3*mib, 64*kib)}, incr.Extents)
	// The active state is still written: no change ID to store, and why.
	assert.Nil(t, incr.ChangeID)
	require.NotNil(t, incr.NoChangeID)
	assert.Contains(t, *incr.NoChangeID, "the active state of "+c.top+" is still written")
	assert.Contains(t, *incr.NoChangeID, "list with --next bitmap")
}

var qemuTextLine = regexp.MustCompile(`^ +\d+ +\d+    (changed|allocated)$`)

func TestQemuChangesText(t *testing.T) {
	c := newQemuChain(t)
	r := cbtctl(t, "qemu", "changes", c.top, "--trust-bare-name", "--since", "snapshot:s1", "--at", "snapshot:s2")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	require.Len(t, lines, 2, r.stdout)
	assert.Equal(t, "    131072       65536    changed", lines[0])
	assert.Regexp(t, `^# 1 extent, 65536 bytes changed \(64 KiB, 1\.56% of 4 MiB, in 64 KiB granules\); change ID to store: qcow2:snapshot:s2#`, lines[1])

	r = cbtctl(t, "qemu", "changes", c.top, "--full")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	lines = strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	require.Len(t, lines, 7, r.stdout)
	for _, l := range lines[:5] {
		assert.Regexp(t, qemuTextLine, l)
		assert.True(t, strings.HasSuffix(l, "allocated"), l)
	}
	assert.Equal(t, "# 5 extents, 327680 bytes allocated (320 KiB, 7.81% of 4 MiB, in 64 KiB granules); no change ID to store (see below)", lines[5])
	assert.True(t, strings.HasPrefix(lines[6], "# no change ID to store: the active state of "+c.top+" is still written"), lines[6])
}

func TestQemuChangesProgress(t *testing.T) {
	c := newQemuChain(t)
	r := cbtctl(t, "qemu", "changes", c.top, "--full", "--progress", "--format", "json")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	decodeOne(t, r.stdout) // stdout holds the listing only
	assert.Contains(t, r.stderr, "100% [########################]")
	assert.True(t, strings.HasSuffix(r.stderr, "\n"), "the bar ends its line")
}

func TestQemuHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"help", "qemu"}, "Usage:\n\tcbtctl qemu <command> [flags]\n"},
		{[]string{"qemu", "-h"}, "\tchanges    list what changed between two points of an image\n"},
		{[]string{"help", "qemu", "changes"}, "\t--since POINT\n"},
		{[]string{"qemu", "changes", "-h"}, "\t--force-share\n"},
		{[]string{"qemu", "help", "changes"}, "\tbitmap:NAME         a persistent dirty bitmap (--since only)"},
		{[]string{"qemu", "info", "--help"}, "\t--format FORMAT\n"},
		{[]string{"help", "qemu", "snapshots"}, "Usage:\n\tcbtctl qemu snapshots IMAGE"},
		{[]string{"help", "qemu", "bitmaps"}, "Usage:\n\tcbtctl qemu bitmaps IMAGE"},
		{[]string{"help"}, "\tcbtctl qemu changes IMAGE (--since POINT|CHANGEID | --full) [--at POINT]"},
		{[]string{"help", "qemu", "changes"}, "\t--full\n"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := cbtctl(t, tc.args...)
			assert.Equal(t, exitOK, r.code)
			assert.Contains(t, r.stdout, tc.want)
			assert.Empty(t, r.stderr)
		})
	}
}

// TestQemuSize compares with what qemu's size_to_str prints (a C program
// with its code printed these).
func TestQemuSize(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 1: "1 B", 999: "999 B", 1000: "0.977 KiB", 1023: "0.999 KiB", 1024: "1 KiB", 1536: "1.5 KiB",
		4194304: "4 MiB", 1048552: "1 MiB", 1022976: "999 KiB", 1 << 30: "1 GiB", 10 << 30: "10 GiB",
		1 << 40: "1 TiB", 1<<62 + 1<<61: "6 EiB", 123456789: "118 MiB", 1048575: "1 MiB", 1047552: "0.999 MiB",
	} {
		assert.Equal(t, want, qemuSize(n), "%d", n)
	}
}

// TestQemuChangesZeroAndDiscard: clusters the guest zeroed or discarded
// changed too; both are reported.
func TestQemuChangesZeroAndDiscard(t *testing.T) {
	needQemuTools(t)
	img := filepath.Join(t.TempDir(), "vm.qcow2")
	qemuImg(t, "create", "-q", "-f", "qcow2", img, "1M")
	qemuIO(t, img, "write -P 0xab 0 256k")
	qemuImg(t, "snapshot", "-c", "a", img)
	qemuIO(t, img, "write -z 64k 64k", "discard 128k 64k")
	qemuImg(t, "snapshot", "-c", "b", img)
	truth := differing(exportRaw(t, img, "a"), exportRaw(t, img, "b"))
	require.Equal(t, []extent.Extent{ext(64*kib, 128*kib)}, truth)

	r := cbtctl(t, "qemu", "changes", img, "--trust-bare-name", "--since", "snapshot:a", "--at", "snapshot:b", "--format", "json")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	got := decodeOne(t, r.stdout).Extents
	requireCovers(t, got, truth, "zeroed and discarded")
	assert.Equal(t, []extent.Extent{ext(64*kib, 128*kib)}, got)
}
