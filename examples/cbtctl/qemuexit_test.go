package main

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/extent"
)

func TestQemuUsageErrors(t *testing.T) {
	img := "/nonexistent/never-opened.qcow2" // usage errors come before the image is opened
	for _, tc := range []struct {
		name string
		args []string
		msg  string
	}{
		{"no qemu command", []string{"qemu"}, "cbtctl qemu: a command is required: want one of info, snapshots, bitmaps, changes"},
		{"neither since nor full", []string{"qemu", "changes", img}, "give --since POINT|CHANGEID (snapshot:NAME, bitmap:NAME, layer:PATH, or a change ID qcow2:... a listing printed) for an incremental, or --full for a full backup"},
		{"empty since", []string{"qemu", "changes", img, "--since", ""}, "--since is empty: give POINT|CHANGEID"},
		{"empty since says --full", []string{"qemu", "changes", img, "--since="}, "or --full for a full backup"},
		{"since and full", []string{"qemu", "changes", img, "--trust-bare-name", "--since", "snapshot:s1", "--full"}, "--since and --full exclude each other"},
		{"unknown qemu command", []string{"qemu", "map", img}, `cbtctl qemu: unknown command "map"`},
		{"changes without IMAGE", []string{"qemu", "changes"}, "cbtctl qemu changes: IMAGE is required"},
		{"changes without IMAGE, with flags", []string{"qemu", "changes", "--trust-bare-name", "--since", "snapshot:s1"}, "IMAGE is required"},
		{"info without IMAGE", []string{"qemu", "info"}, "cbtctl qemu info: IMAGE is required"},
		{"snapshots without IMAGE", []string{"qemu", "snapshots", "--format", "json"}, "IMAGE is required"},
		{"bitmaps without IMAGE", []string{"qemu", "bitmaps"}, "IMAGE is required"},
		{"two images", []string{"qemu", "changes", img, "other.qcow2", "--full"}, `unexpected argument "other.qcow2": one IMAGE only`},
		{"two images after --", []string{"qemu", "info", "--", img, "other.qcow2"}, `unexpected argument "other.qcow2"`},
		{"empty IMAGE", []string{"qemu", "info", ""}, "IMAGE is empty"},
		{"bad since", []string{"qemu", "changes", img, "--since", "s1"}, `--since "s1": want active, snapshot:NAME_OR_ID, bitmap:NAME, layer:PATH, or a change ID qcow2:... that a listing printed`},
		{"since without name", []string{"qemu", "changes", img, "--trust-bare-name", "--since", "snapshot:"}, `--since "snapshot:"`},
		{"since of another scheme", []string{"qemu", "changes", img, "--since", "mem:v1.1/2"}, `--since "mem:v1.1/2"`},
		{"bad at", []string{"qemu", "changes", img, "--full", "--at", "checkpoint:c1"}, `--at "checkpoint:c1"`},
		{"at a bitmap", []string{"qemu", "changes", img, "--full", "--at", "bitmap:b1"}, "--at bitmap:b1: a bitmap is a base only"},
		{"bad format", []string{"qemu", "info", img, "--format", "yaml"}, `want text or json, not "yaml"`},
		{"unknown flag", []string{"qemu", "snapshots", img, "--all"}, "--all: no such flag; the flags are --force-share, --format"},
		{"bad size", []string{"qemu", "changes", img, "--full", "--align", "4X"}, `--align "4X": want a byte count`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			help := "cbtctl help qemu"
			if len(tc.args) > 1 {
				help += " " + tc.args[1]
			}
			if tc.name == "unknown qemu command" {
				help = "cbtctl help qemu"
			}
			requireUsageError(t, cbtctl(t, tc.args...), tc.msg, help)
		})
	}
}

func TestQemuMissingImage(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.qcow2")
	for _, cmd := range []string{"info", "snapshots", "bitmaps", "changes"} {
		t.Run(cmd, func(t *testing.T) {
			r := cbtctl(t, "qemu", cmd, missing, "--format", "json", "--full")
			if cmd != "changes" {
				r = cbtctl(t, "qemu", cmd, missing, "--format", "json")
			}
			assert.Equal(t, exitError, r.code)
			assert.Empty(t, r.stdout, "nothing on stdout when the image cannot be opened")
			assert.Contains(t, r.stderr, "cbtctl qemu "+cmd+": ")
			assert.Contains(t, r.stderr, missing)
			assert.Contains(t, r.stderr, "check the image path")
		})
	}
}

func TestQemuMissingPoint(t *testing.T) {
	c := newQemuChain(t)
	for _, at := range []string{"snapshot:nope", "snapshot:9", "layer:" + filepath.Join(c.dir, "other.qcow2")} {
		r := cbtctl(t, "qemu", "changes", c.top, "--full", "--at", at)
		assert.Equal(t, exitError, r.code, "--at %s: stderr: %s", at, r.stderr)
		assert.Empty(t, r.stdout)
		assert.Contains(t, r.stderr, "it does not exist (anymore)")
	}
}

// TestQemuFullBackupRequired: a --since snapshot deleted since, or a bitmap
// not saved cleanly, exits 3 and says to take a full backup.
func TestQemuFullBackupRequired(t *testing.T) {
	c := newQemuChain(t)
	r := cbtctl(t, "qemu", "changes", c.top, "--full", "--at", "snapshot:s1", "--format", "json")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	stored := decodeOne(t, r.stdout).changeID(t)
	qemuImg(t, "snapshot", "-d", "s1", c.top)

	// A running qemu that crashed (or still runs) leaves its enabled
	// bitmaps marked in use: qemu-nbd read-write, killed with SIGKILL.
	holdImage(t, c.top)(syscall.SIGKILL)
	require.Equal(t, []string{"in-use", "auto"}, qemuInfoJSON(t, c.top).FormatSpecific.Data.Bitmaps[0].Flags)

	for _, since := range []string{"snapshot:s1", stored, "bitmap:b1"} {
		t.Run(since, func(t *testing.T) {
			for _, format := range []string{"text", "json"} {
				r := cbtctl(t, "qemu", "changes", c.top, "--since", since, "--format", format)
				assert.Equal(t, exitFullBackup, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
				assert.Contains(t, r.stderr, "full backup required")
				assert.Contains(t, r.stderr, "run again with --full instead of --since")
				assert.NotContains(t, r.stderr, "--start", "no resume offered when a full backup is required")
				if format == "json" && r.stdout != "" {
					assert.NotNil(t, decodeOne(t, r.stdout).Error, "a listing that failed says so")
				}
			}
		})
	}

	// A later snapshot of the same name is not the one the stored change ID
	// names: still a full backup. The name alone is refused, and trusted it
	// names the new one, taken after s2: a listing backwards, refused.
	qemuImg(t, "snapshot", "-c", "s1", c.top)
	r = cbtctl(t, "qemu", "changes", c.top, "--since", stored, "--at", "snapshot:s2")
	assert.Equal(t, exitFullBackup, r.code, "a new snapshot s1 is not the base stored: stderr: %s", r.stderr)
	r = cbtctl(t, "qemu", "changes", c.top, "--since", "snapshot:s1", "--at", "snapshot:s2")
	assert.Equal(t, exitFullBackup, r.code, "a bare name: stderr: %s", r.stderr)
	assert.Contains(t, r.stderr, "--trust-bare-name")
	r = cbtctl(t, "qemu", "changes", c.top, "--trust-bare-name", "--since", "snapshot:s1", "--at", "snapshot:s2", "--format", "json")
	assert.Equal(t, exitError, r.code, "stderr: %s", r.stderr)
	assert.Contains(t, r.stderr, "taken after the disk's point")

	// cbtctl qemu bitmaps says so before.
	r = cbtctl(t, "qemu", "bitmaps", c.top, "--format", "json")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	var bitmaps []bitmapJSON
	decodeStrict(t, r.stdout, &bitmaps)
	require.Len(t, bitmaps, 1)
	assert.Equal(t, []string{"in-use", "auto"}, bitmaps[0].Flags)
	assert.True(t, bitmaps[0].InUse)
	assert.False(t, bitmaps[0].Usable)
	assert.NotEmpty(t, bitmaps[0].Reason)

	// The full backup the message asks for works.
	r = cbtctl(t, "qemu", "changes", c.top, "--full", "--format", "json")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.NotEmpty(t, decodeOne(t, r.stdout).Extents)
}

// TestQemuBusy: an image a running qemu holds is an error saying so, unless
// --force-share, which lists between snapshots only.
func TestQemuBusy(t *testing.T) {
	c := newQemuChain(t)
	holdImage(t, c.top)

	for _, cmd := range []string{"info", "snapshots", "bitmaps", "changes"} {
		r := cbtctl(t, "qemu", cmd, c.top)
		if cmd == "changes" {
			r = cbtctl(t, "qemu", cmd, c.top, "--full")
		}
		assert.Equal(t, exitError, r.code, "%s: stderr: %s", cmd, r.stderr)
		assert.Empty(t, r.stdout)
		assert.Contains(t, r.stderr, "the image is in use by a running qemu", cmd)
		assert.Contains(t, r.stderr, "--force-share", cmd)
	}

	r := cbtctl(t, "qemu", "snapshots", c.top, "--force-share")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	table, ids, ok := strings.Cut(r.stdout, "Change IDs:\n")
	require.True(t, ok, r.stdout)
	assert.Equal(t, string(qemuImg(t, "snapshot", "-l", "-U", c.top)), table)
	assert.Contains(t, ids, "qcow2:snapshot:s1#")

	// Between snapshots: reliable, no warning.
	r = cbtctl(t, "qemu", "changes", c.top, "--force-share", "--trust-bare-name", "--since", "snapshot:s1", "--at", "snapshot:s2", "--format", "json")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Empty(t, r.stderr)
	assert.Equal(t, []extent.Extent{ext(128*kib, 64*kib)}, decodeOne(t, r.stdout).Extents)

	// At the active state: what qemu keeps in memory is refused, not listed
	// stale.
	for _, args := range [][]string{{"--trust-bare-name", "--since", "snapshot:s2"}, {"--full", "--at", "active"}} {
		r = cbtctl(t, append([]string{"qemu", "changes", c.top, "--force-share", "--format", "json"}, args...)...)
		assert.Equal(t, exitError, r.code, "%v: stderr: %s", args, r.stderr)
		assert.NotNil(t, decodeOne(t, r.stdout).Error, "the listing that failed says so")
		assert.Contains(t, r.stderr, "the image is in use by a running qemu", args)
	}
	// Since a bitmap qemu holds: busy (package qemu says cbt.ErrBusy), not a
	// full backup: once the VM stops cleanly the bitmap is a good base again.
	r = cbtctl(t, "qemu", "changes", c.top, "--force-share", "--trust-bare-name", "--since", "bitmap:b1", "--format", "json")
	assert.Equal(t, exitError, r.code, "stderr: %s", r.stderr)
	assert.Contains(t, r.stderr, "the image is in use by a running qemu")
}

// TestQemuBaseAfterPoint: a base that does not come before the point listed
// is an error of the arguments, not a reason for a full backup.
func TestQemuBaseAfterPoint(t *testing.T) {
	c := newQemuChain(t)
	r := cbtctl(t, "qemu", "changes", c.top, "--trust-bare-name", "--since", "snapshot:s1", "--at", "layer:"+c.base)
	assert.Equal(t, exitError, r.code, "stderr: %s", r.stderr)
	assert.Contains(t, r.stderr, "check --since and --at")
}
