package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/extent"
)

// changesCommand is a changes subcommand with the arguments that get it
// past its own required flags, and a valid base for --since.
type changesCommand struct {
	name  string   // "qemu changes"
	args  []string // everything but --since and --full
	since string   // a --since value it parses
	base  string   // the flag of the base: --since, or oci's --first
}

// changesCommands are every platform's changes command, set up to fail (if
// they get that far) before reaching any server.
func changesCommands(t *testing.T) []changesCommand {
	t.Helper()
	script := writeScript(t, staleOps)
	cmds := []changesCommand{
		{"mem changes", []string{"mem", "changes", "--script", script}, "a", "--since"},
		{"qemu changes", []string{"qemu", "changes", filepath.Join(t.TempDir(), "never-opened.qcow2")}, "snapshot:s1", "--since"},
		{"vsphere changes", []string{"vsphere", "changes", "--url", "https://u:p@127.0.0.1:1/sdk", "--vm", "vm-1"}, "vsphere:52de5d7a-3e56-4a5c-9a4e-4c7b6a2f1e11/7", "--since"},
		{"rhv changes", []string{"rhv", "changes", "--meta", t.TempDir()}, rhvcVol(1), "--since"},
		{"oci changes", []string{"oci", "changes", "--second", "ocid1.volumebackup.oc1.phx.second", "--compartment", "c", "--availability-domain", "a", "--instance", "i"},
			"ocid1.volumebackup.oc1.phx.first", "--first"},
	}
	if r := cbtctl(t, "help", "libvirt", "changes"); r.code == exitOK { // a cgo build
		cmds = append(cmds, changesCommand{"libvirt changes", []string{"libvirt", "changes", "nope", "--disk", "vda", "--connect", "test:///default"}, "checkpoint:k1", "--since"})
	}
	return cmds
}

// TestChangesNeedSinceOrFull: a full backup is asked for with --full, an
// incremental with --since; neither, both, or an empty --since is a usage
// error saying so, on every platform.
func TestChangesNeedSinceOrFull(t *testing.T) {
	for _, c := range changesCommands(t) {
		t.Run(c.name, func(t *testing.T) {
			help := "cbtctl help " + c.name
			r := cbtctl(t, c.args...)
			requireUsageError(t, r, "give "+c.base+" ", help)
			assert.Contains(t, r.stderr, "for an incremental, or --full for a full backup")

			for _, empty := range [][]string{{c.base, ""}, {c.base + "="}} {
				r = cbtctl(t, append(slices.Clone(c.args), empty...)...)
				requireUsageError(t, r, c.base+" is empty: give ", help)
				assert.Contains(t, r.stderr, "or --full for a full backup")
			}
			r = cbtctl(t, append(slices.Clone(c.args), c.base, c.since, "--full")...)
			requireUsageError(t, r, c.base+" and --full exclude each other", help)

			r = cbtctl(t, "help", strings.Fields(c.name)[0], "changes")
			require.Equal(t, exitOK, r.code)
			assert.Contains(t, r.stdout, "\t--full\n", "the help lists --full")
			assert.Contains(t, r.stdout, "--full)", "the synopsis shows --since or --full")
		})
	}
	// The top-level help and the package doc show it too.
	r := cbtctl(t, "help")
	assert.Contains(t, r.stdout, "cbtctl <platform> changes (--since CHANGEID | --full) [flags]")
	assert.Contains(t, r.stdout, "--full               list everything allocated: a full backup")
}

// TestNoChangeIDToStore: a listing whose point names none says so and why,
// in text (its last line) and JSON (changeId null, noChangeId), never
// "changeId":""; so does a partial listing.
func TestNoChangeIDToStore(t *testing.T) {
	live := writeScript(t, []op{{kind: "write", off: 0, len: 1}})
	r := cbtctl(t, "mem", "changes", "--script", live, "--full")
	require.Equal(t, exitOK, r.code, r.stderr)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	require.Len(t, lines, 3, r.stdout)
	assert.Equal(t, "# 1 extent, 65536 bytes allocated (64 KiB, 0.01% of 1 GiB, in 64 KiB granules); no change ID to store (see below)", lines[1])
	assert.Equal(t, `# no change ID to store: the live volume is still written: take a change point ("point NAME" in the script) and list --at it`, lines[2])

	r = cbtctl(t, "mem", "changes", "--script", live, "--full", "--format", "json")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.NotContains(t, r.stdout, `"changeId":""`)
	assert.Contains(t, r.stdout, `"changeId":null,"noChangeId":"the live volume is still written: take a change point (\"point NAME\" in the script) and list --at it"`)
	decodeOne(t, r.stdout)

	// Partial listings: none to store; a listing whose range covers the
	// whole disk is whole.
	ops, _ := randomOps(3, 64<<20, 50)
	script := writeScript(t, ops)
	base := []string{"mem", "changes", "--script", script, "--capacity", "64M", "--since", "a"}
	const partial = "a partial listing (--start, --length) reaches no point; store the change ID of a whole listing"
	for _, args := range [][]string{{"--start", "1M"}, {"--length", "32M"}, {"--start", "63M", "--length", "1M"}, {"--start", "64M"}} {
		r = cbtctl(t, append(slices.Clone(base), append(args, "--format", "json")...)...)
		require.Equal(t, exitOK, r.code, r.stderr)
		c := decodeOne(t, r.stdout)
		assert.Nil(t, c.ChangeID, "%v", args)
		require.NotNil(t, c.NoChangeID, "%v", args)
		assert.Equal(t, partial, *c.NoChangeID, "%v", args)

		r = cbtctl(t, append(slices.Clone(base), args...)...)
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.True(t, strings.HasSuffix(r.stdout, "# no change ID to store: "+partial+"\n"), "%v: %s", args, r.stdout)
		assert.NotContains(t, r.stdout, "change ID to store: mem:")
	}
	for _, args := range [][]string{{"--length", "64M"}, {"--length", "1T"}, {"--start", "0", "--length", "64M"}} {
		r = cbtctl(t, append(slices.Clone(base), append(args, "--format", "json")...)...)
		require.Equal(t, exitOK, r.code, r.stderr)
		c := decodeOne(t, r.stdout)
		assert.True(t, strings.HasPrefix(c.changeID(t), "mem:"), "%v", args)
	}
}

// TestSizeFlags: every size flag of every subcommand takes the binary
// units, and anything else is a usage error naming the flag and the forms,
// never an error of the platform (exit 1) with unrelated advice.
func TestSizeFlags(t *testing.T) {
	common := []string{"--start", "--length", "--align", "--gap"}
	type sized struct {
		args  []string // the command, set up as for TestChangesNeedSinceOrFull, with --full
		flags []string
	}
	cases := map[string]sized{}
	for _, c := range changesCommands(t) {
		flags := common
		switch c.name {
		case "mem changes":
			flags = append(slices.Clone(common), "--capacity", "--granularity")
		case "oci changes":
			flags = append(slices.Clone(common), "--block-size")
		}
		cases[c.name] = sized{append(slices.Clone(c.args), "--full"), flags}
	}
	cases["mem demo"] = sized{[]string{"mem", "demo"}, []string{"--capacity", "--granularity"}}
	cases["scsi lba-status"] = sized{[]string{"scsi", "lba-status", "/dev/never-opened"}, append(slices.Clone(common), "--max-allocation", "--window")}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			for _, flag := range c.flags {
				for _, bad := range []string{"4X", "1.5G", "-1", "0x10", "64 K", "K"} {
					r := cbtctl(t, append(slices.Clone(c.args), flag, bad)...)
					requireUsageError(t, r, fmt.Sprintf("%s %q: ", flag, bad), "cbtctl help "+name)
				}
				r := cbtctl(t, append(slices.Clone(c.args), flag, "16E")...)
				requireUsageError(t, r, fmt.Sprintf("%s %q: too large", flag, "16E"), "cbtctl help "+name)
			}
			r := cbtctl(t, "help", strings.Fields(name)[0], strings.Fields(name)[1])
			require.Equal(t, exitOK, r.code)
			for _, flag := range c.flags {
				assert.Contains(t, r.stdout, "\t"+flag+" ", "the help lists %s", flag)
			}
		})
	}
}

// TestSizeSuffixesList: sizes with units list the same as byte counts, and
// a --start beyond the disk is a usage error naming --start and the
// capacity, on mem and on a qcow2 image.
func TestSizeSuffixesList(t *testing.T) {
	ops, _ := randomOps(4, 64<<20, 100)
	script := writeScript(t, ops)
	base := []string{"mem", "changes", "--script", script, "--capacity", "64MiB", "--granularity", "4k", "--since", "a", "--format", "json"}
	withUnits := cbtctl(t, append(slices.Clone(base), "--start", "1M", "--length", "32MB", "--align", "64KiB", "--gap", "1k")...)
	require.Equal(t, exitOK, withUnits.code, withUnits.stderr)
	base[5], base[7] = "67108864", "4096"
	inBytes := cbtctl(t, append(slices.Clone(base), "--start", "1048576", "--length", "33554432", "--align", "65536", "--gap", "1024")...)
	require.Equal(t, exitOK, inBytes.code, inBytes.stderr)
	assert.Equal(t, sameVolume(inBytes.stdout), sameVolume(withUnits.stdout))
	assert.NotEmpty(t, decodeOne(t, withUnits.stdout).Extents)

	r := cbtctl(t, "mem", "changes", "--script", script, "--full", "--start", "2G")
	requireUsageError(t, r, "cbtctl mem changes: --start 2G: beyond the end of the disk: want 0 to its capacity, 1073741824 (1 GiB)", "cbtctl help mem changes")

	c := newQemuChain(t)
	r = cbtctl(t, "qemu", "changes", c.top, "--trust-bare-name", "--since", "snapshot:s1", "--start", "2G")
	requireUsageError(t, r, "cbtctl qemu changes: --start 2G: beyond the end of the disk: want 0 to its capacity, 4194304 (4 MiB)", "cbtctl help qemu changes")
	r = cbtctl(t, "qemu", "changes", c.top, "--trust-bare-name", "--since", "snapshot:s1", "--start", "1M", "--length", "2MiB", "--align", "1M", "--format", "json")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, []extent.Extent{ext(2*mib, 1*mib)}, decodeOne(t, r.stdout).Extents)
}
