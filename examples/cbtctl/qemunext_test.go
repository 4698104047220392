package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/qemu"
)

// bitmapNamesOf lists the image's bitmaps with the qemu package.
func bitmapNamesOf(t *testing.T, img string) []string {
	t.Helper()
	im, err := qemu.OpenImage(img, nil)
	require.NoError(t, err)
	defer im.Close()
	bms, err := im.Bitmaps()
	require.NoError(t, err)
	var out []string
	for _, b := range bms {
		out = append(out, b.Name)
	}
	return out
}

var madeBitmapID = regexp.MustCompile(`^qcow2:bitmap:cbt-[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}#s[0-9]+#c[0-9a-f]{16}$`)

// TestQemuNextRotation: the backup rotation from the command line: --next
// bitmap makes the point and prints its change ID, the next backup lists
// since it (every changed byte, per the exported data), prune drops the
// older bitmap, and a listing that fails leaves no bitmap behind.
func TestQemuNextRotation(t *testing.T) {
	needQemuTools(t)
	img := filepath.Join(t.TempDir(), "vm.qcow2")
	qemuImg(t, "create", "-q", "-f", "qcow2", img, "8M")
	qemuIO(t, img, "write 0 64k")
	qemuImg(t, "bitmap", "--add", img, "users-own")

	r := cbtctl(t, "qemu", "changes", img, "--next", "bitmap", "--full", "--format", "json")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	full := decodeOne(t, r.stdout)
	first := full.changeID(t)
	assert.Regexp(t, madeBitmapID, first)
	before := exportRaw(t, img, "")

	qemuIO(t, img, "write 2M 4k", "write -z 0 4k")
	r = cbtctl(t, "qemu", "changes", img, "--next", "bitmap", "--since", first, "--format", "json")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	incr := decodeOne(t, r.stdout)
	second := incr.changeID(t)
	assert.Regexp(t, madeBitmapID, second)
	requireCovers(t, incr.Extents, differing(before, exportRaw(t, img, "")), "since the first backup")
	assert.Equal(t, []extent.Extent{ext(0, 64*kib), ext(2*mib, 64*kib), ext(8*mib-64*kib, 64*kib)}, incr.Extents,
		"the writes and the bitmap's canary granule")
	assert.Len(t, bitmapNamesOf(t, img), 3)

	r = cbtctl(t, "qemu", "prune", img, "--keep", second)
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Equal(t, "removed "+strings.SplitN(strings.TrimPrefix(first, "qcow2:bitmap:"), "#", 2)[0]+"\n", r.stdout)
	assert.ElementsMatch(t, []string{"users-own", strings.SplitN(strings.TrimPrefix(second, "qcow2:bitmap:"), "#", 2)[0]}, bitmapNamesOf(t, img))

	// A listing since a point that is gone fails: the bitmap it made goes.
	r = cbtctl(t, "qemu", "changes", img, "--next", "bitmap", "--since", first)
	assert.Equal(t, exitFullBackup, r.code, "stderr: %s", r.stderr)
	assert.Len(t, bitmapNamesOf(t, img), 2, "the failed listing's bitmap is removed")

	// --next snapshot lists at the snapshot it makes (a bitmap is no base
	// for a snapshot: a change of rotation starts with a full backup).
	r = cbtctl(t, "qemu", "changes", img, "--next", "snapshot", "--since", second)
	assert.Equal(t, exitError, r.code, "stderr: %s", r.stderr)
	im, err := qemu.OpenImage(img, nil)
	require.NoError(t, err)
	snaps, err := im.Snapshots()
	require.NoError(t, err)
	require.NoError(t, im.Close())
	assert.Empty(t, snaps, "the failed listing's snapshot is deleted")
	r = cbtctl(t, "qemu", "changes", img, "--next", "snapshot", "--full", "--format", "json")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Contains(t, decodeOne(t, r.stdout).changeID(t), "qcow2:snapshot:cbt-")

	for _, args := range [][]string{
		{"--next", "disk", "--full"},
		{"--next", "bitmap", "--at", "snapshot:x", "--full"},
	} {
		r = cbtctl(t, append([]string{"qemu", "changes", img}, args...)...)
		assert.Equal(t, exitUsage, r.code, "%v: stderr: %s", args, r.stderr)
	}
	r = cbtctl(t, "qemu", "prune", img)
	assert.Equal(t, exitUsage, r.code)
}
