package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/backup"
	"github.com/changedblocks/sdk/internal/qcow2"
	"github.com/changedblocks/sdk/internal/qemutools"
)

// TestQemuBackupChain: the backup flow from the command line, as the
// README shows it: a full backup with --next bitmap, then incrementals on
// it, each restored by qemu-img convert equal to the image when it was
// taken, verify saying so, and the bitmaps pruned as it goes.
func TestQemuBackupChain(t *testing.T) {
	needQemuTools(t)
	dir := t.TempDir()
	img := filepath.Join(dir, "vm.qcow2")
	qemuImg(t, "create", "-q", "-f", "qcow2", img, "32M")
	rng := rand.New(rand.NewPCG(3, 3))
	var id, prev string
	for round := range 4 {
		var cmds []string
		for range 8 {
			off := rng.Int64N(32<<20/4096) * 4096
			if rng.IntN(4) == 0 {
				cmds = append(cmds, fmt.Sprintf("write -z %d 65536", off/65536*65536))
			} else {
				cmds = append(cmds, fmt.Sprintf("write -P %d %d %d", 1+rng.IntN(250), off, min(32<<20-off, 4096*(1+rng.Int64N(30)))))
			}
		}
		qemuIO(t, img, cmds...)
		out := filepath.Join(dir, fmt.Sprintf("b%d.qcow2", round))
		args := []string{"qemu", "backup", img, "--next", "bitmap", "--out", out, "--format", "json"}
		if round == 0 {
			args = append(args, "--full", "--compress", "zstd")
		} else {
			args = append(args, "--since", id, "--backing", prev)
		}
		r := cbtctl(t, args...)
		require.Equal(t, exitOK, r.code, "round %d: %s", round, r.stderr)
		var m backup.Manifest
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &m))
		require.Regexp(t, madeBitmapID, m.ChangeID)
		want := qemutools.ExportRaw(t, img, "")
		got := qemutools.ExportRaw(t, out, "")
		require.True(t, bytes.Equal(want, got), "round %d: the restored backup differs from the image", round)
		r = cbtctl(t, "qemu", "verify", img, "--backup", out)
		require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
		assert.Contains(t, r.stdout, "identical")
		if id != "" {
			require.Equal(t, exitOK, cbtctl(t, "qemu", "prune", img, "--keep", m.ChangeID).code)
		}
		id, prev = m.ChangeID, out
	}
	assert.Len(t, bitmapNamesOf(t, img), 1, "prune kept only the newest bitmap")

	qemuIO(t, img, "write -P 99 0 4096")
	r := cbtctl(t, "qemu", "verify", img, "--backup", prev)
	assert.Equal(t, exitError, r.code)
	assert.Contains(t, r.stdout, "differ: first at byte 0")

	// The base is gone: exit 3, and nothing is written.
	for _, name := range bitmapNamesOf(t, img) {
		qemuImg(t, "bitmap", "--remove", img, name)
	}
	out := filepath.Join(dir, "stale.qcow2")
	r = cbtctl(t, "qemu", "backup", img, "--since", id, "--backing", prev, "--out", out)
	assert.Equal(t, exitFullBackup, r.code, r.stderr)
	assert.NoFileExists(t, out)
}

func TestQemuBackupUsage(t *testing.T) {
	help := "cbtctl help qemu backup"
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--full"}, "--out FILE.qcow2 is required"},
		{[]string{"--since", "qcow2:snapshot:s1#1.2", "--out", "x.qcow2"}, "--since needs --backing"},
		{[]string{"--full", "--backing", "a.qcow2", "--out", "x.qcow2"}, "leave --backing out"},
		{[]string{"--full", "--out", "x.qcow2", "--compress", "lz4"}, `--compress "lz4"`},
		{[]string{"--out", "x.qcow2"}, "--since"},
	} {
		r := cbtctl(t, append([]string{"qemu", "backup", "img.qcow2"}, c.args...)...)
		requireUsageError(t, r, c.msg, help)
	}
	r := cbtctl(t, "qemu", "verify", "img.qcow2")
	requireUsageError(t, r, "--backup FILE.qcow2 is required", "cbtctl help qemu verify")
	assert.True(t, strings.Contains(cbtctl(t, "help", "qemu", "backup").stdout, "qemu-img convert -O raw"))
}

// TestQemuBackupFailureDropsPoint: a backup with --next whose copy fails
// after the listing reached the new point (a compressed cluster that does
// not decompress) leaves no bitmap behind, and no backup file.
func TestQemuBackupFailureDropsPoint(t *testing.T) {
	needQemuTools(t)
	dir := t.TempDir()
	img := filepath.Join(dir, "vm.qcow2")
	qemuImg(t, "create", "-q", "-f", "qcow2", img, "4M")
	qemuIO(t, img, "write -c -P 7 0 64k", "write -P 8 1M 64k")
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	require.NoError(t, err)
	st, err := f.Stat()
	require.NoError(t, err)
	q, err := qcow2.Open(f, st.Size(), nil)
	require.NoError(t, err)
	c, err := q.Lookup(q.ActiveView(), 0)
	require.NoError(t, err)
	require.Equal(t, qcow2.ClusterCompressed, c.Kind)
	_, err = f.WriteAt(bytes.Repeat([]byte{0xff}, int(c.CompressedSize)), int64(c.HostOffset))
	require.NoError(t, err)
	require.NoError(t, f.Close())

	out := filepath.Join(dir, "b.qcow2")
	r := cbtctl(t, "qemu", "backup", img, "--full", "--next", "bitmap", "--out", out)
	require.Equal(t, exitError, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stderr, "corrupt")
	assert.Empty(t, bitmapNamesOf(t, img), "the bitmap made for the failed backup is removed")
	assert.NoFileExists(t, out)
}
