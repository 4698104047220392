package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/qemutools"
)

const (
	rhvcImage  = "5e1f2a3b-4c5d-4e6f-8a7b-9c0d1e2f3a4b"
	rhvcDomain = "6f7a8b9c-0d1e-4f2a-8b3c-4d5e6f7a8b9c"
)

// rhvcVol returns the UUID of the n-th test volume.
func rhvcVol(n int) string { return fmt.Sprintf("c0ffee00-0000-4000-8000-%012d", n) }

// rhvcChain is a chain of real volumes: a file domain (images/IMAGE/VOLUME
// and .meta files) or a block domain (lv/VOLUME files, lvs.txt with vdsm's
// tags, and images/IMAGE/VOLUME links for the qemu tools).
type rhvcChain struct {
	root  string
	block bool
	ids   []string
}

func (c *rhvcChain) imageDir() string          { return filepath.Join(c.root, "images", rhvcImage) }
func (c *rhvcChain) imagePath(v string) string { return filepath.Join(c.imageDir(), v) }

// rhvcNewChain makes a chain of n 4 MiB qcow2 volumes, volume i written at
// [i MiB, i MiB + 64 KiB) and, on the leaf, zeroed at [0, 64 KiB).
func rhvcNewChain(t *testing.T, n int, block bool) *rhvcChain {
	qemutools.Need(t, "qemu-img", "qemu-io")
	c := &rhvcChain{root: t.TempDir(), block: block}
	require.NoError(t, os.MkdirAll(c.imageDir(), 0o755))
	if block {
		require.NoError(t, os.MkdirAll(filepath.Join(c.root, "lv"), 0o755))
	}
	var lvs strings.Builder
	for i := range n {
		id := rhvcVol(i + 1)
		var extra []string
		parent := "00000000-0000-0000-0000-000000000000"
		if i > 0 {
			parent = c.ids[i-1]
			name := parent
			if block {
				name = "../" + rhvcImage + "/" + parent
			}
			extra = []string{"-b", name, "-F", "qcow2"}
		}
		if block {
			require.NoError(t, os.WriteFile(filepath.Join(c.root, "lv", id), nil, 0o644))
			require.NoError(t, os.Symlink(filepath.Join("..", "..", "lv", id), c.imagePath(id)))
		}
		qemutools.Create(t, c.imagePath(id), "", "4M", extra...)
		qemutools.QemuIO(t, c.imagePath(id), fmt.Sprintf("write -P %d %d 64k", 0x30+i, i<<20))
		role := "INTERNAL"
		if i == n-1 {
			role = "LEAF"
			qemutools.QemuIO(t, c.imagePath(id), "write -z 0 64k")
		}
		if block {
			fmt.Fprintf(&lvs, "  uuid%d|%s|%s|-wi-a-----|134217728|0|/dev/mapper/x(0)|IU_%s,MD_%d,PU_%s\n", i, id, rhvcDomain, rhvcImage, i+1, parent)
		} else {
			meta := fmt.Sprintf("CAP=4194304\nCTIME=%d\nDESCRIPTION={\"DiskAlias\":\"d\",\"DiskDescription\":\"\"}\nDISKTYPE=DATA\nDOMAIN=%s\nFORMAT=COW\nGEN=0\nIMAGE=%s\nLEGALITY=LEGAL\nPUUID=%s\nSEQ=%d\nTYPE=SPARSE\nVOLTYPE=%s\nEOF\n",
				1700000000+i, rhvcDomain, rhvcImage, parent, i+1, role)
			require.NoError(t, os.WriteFile(c.imagePath(id)+".meta", []byte(meta), 0o644))
		}
		c.ids = append(c.ids, id)
	}
	if block {
		require.NoError(t, os.WriteFile(filepath.Join(c.root, "lvs.txt"), []byte(lvs.String()), 0o644))
	}
	return c
}

// source returns the flags that name the chain's storage.
func (c *rhvcChain) source() []string {
	if c.block {
		return []string{"--lvs", filepath.Join(c.root, "lvs.txt"), "--lv-dir", filepath.Join(c.root, "lv")}
	}
	return []string{"--meta", c.imageDir()}
}

// export is the guest view at a volume.
func (c *rhvcChain) export(t *testing.T, vol string) []byte {
	return qemutools.ExportRaw(t, c.imagePath(vol), "")
}

// rhvcDiffs returns the 512-byte sectors where a and b differ.
func rhvcDiffs(a, b []byte) []extent.Extent {
	var out []extent.Extent
	for off := 0; off < max(len(a), len(b)); off += 512 {
		if off+512 > len(a) || off+512 > len(b) || string(a[off:off+512]) != string(b[off:off+512]) {
			out = append(out, extent.Extent{Offset: int64(off), Length: 512})
		}
	}
	return extent.Normalize(out)
}

// rhvcCovered fails t when a byte of want lies outside every extent of got.
func rhvcCovered(t *testing.T, got, want []extent.Extent) {
	t.Helper()
	for _, w := range want {
		in := false
		for _, g := range got {
			if g.Offset <= w.Offset && w.End() <= g.End() {
				in = true
				break
			}
		}
		require.True(t, in, "UNDER-REPORT: changed bytes %v outside the listing %v", w, got)
	}
}

func TestRHVChangesJSON(t *testing.T) {
	for _, block := range []bool{false, true} {
		t.Run(fmt.Sprintf("block=%v", block), func(t *testing.T) {
			c := rhvcNewChain(t, 3, block)
			v1, v2, leaf := c.ids[0], c.ids[1], c.ids[2]
			zero := make([]byte, 4<<20)

			// Everything allocated, at the leaf: no change ID.
			r := cbtctl(t, append([]string{"rhv", "changes", "--full", "--format", "json"}, c.source()...)...)
			require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
			assert.Empty(t, r.stderr, "no warning about a sound chain")
			out := decodeOne(t, r.stdout)
			assert.EqualValues(t, 4<<20, *out.Capacity)
			assert.EqualValues(t, 64<<10, *out.Granularity)
			assert.Nil(t, out.ChangeID, "the leaf names no fixed point")
			require.NotNil(t, out.NoChangeID)
			assert.Equal(t, "the leaf volume of the chain is still written, so it names no point to store: take a snapshot in RHV, and list at the volume that became internal (--volume UUID)", *out.NoChangeID)
			rhvcCovered(t, out.Extents, rhvcDiffs(zero, c.export(t, leaf)))
			assert.Equal(t, []extent.Extent{{Offset: 0, Length: 64 << 10}, {Offset: 1 << 20, Length: 64 << 10}, {Offset: 2 << 20, Length: 64 << 10}}, out.Extents)

			// At an internal volume: the guarded change ID.
			r = cbtctl(t, append([]string{"rhv", "changes", "--full", "--format", "json", "--volume", v1}, c.source()...)...)
			require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
			base := decodeOne(t, r.stdout).changeID(t)
			assert.True(t, strings.HasPrefix(base, "rhv:volume:"+v1+"#"+v2+"~"), "%s", base)

			// Since it, at the leaf.
			r = cbtctl(t, append([]string{"rhv", "changes", "--format", "json", "--since", base}, c.source()...)...)
			require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
			out = decodeOne(t, r.stdout)
			rhvcCovered(t, out.Extents, rhvcDiffs(c.export(t, v1), c.export(t, leaf)))
			assert.Equal(t, []extent.Extent{{Offset: 0, Length: 64 << 10}, {Offset: 1 << 20, Length: 64 << 10}, {Offset: 2 << 20, Length: 64 << 10}}, out.Extents)
			// A bare UUID carries no guard of the volumes below: full backup.
			for _, since := range []string{v1, "volume:" + v1, "rhv:volume:" + v1 + "#" + v2} {
				r = cbtctl(t, append([]string{"rhv", "changes", "--format", "json", "--since", since}, c.source()...)...)
				assert.Equal(t, exitFullBackup, r.code, "since %s: stderr: %s", since, r.stderr)
				assert.Contains(t, r.stderr, "carries no guard")
			}
			// Since the volume listed: nothing.
			r = cbtctl(t, append([]string{"rhv", "changes", "--full", "--format", "json", "--volume", v2}, c.source()...)...)
			require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
			at2 := decodeOne(t, r.stdout).changeID(t)
			r = cbtctl(t, append([]string{"rhv", "changes", "--format", "json", "--volume", v2, "--since", at2}, c.source()...)...)
			require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
			assert.Empty(t, decodeOne(t, r.stdout).Extents)
			// The common flags.
			r = cbtctl(t, append([]string{"rhv", "changes", "--format", "json", "--since", base, "--start", "1M", "--length", "1M", "--align", "1M"}, c.source()...)...)
			require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
			assert.Equal(t, []extent.Extent{{Offset: 1 << 20, Length: 1 << 20}}, decodeOne(t, r.stdout).Extents)
		})
	}
}

func TestRHVChangesText(t *testing.T) {
	c := rhvcNewChain(t, 2, false)
	r := cbtctl(t, append([]string{"rhv", "changes", "--full", "--volume", c.ids[0]}, c.source()...)...)
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Contains(t, r.stdout, "rhv:volume:"+c.ids[0]+"#"+c.ids[1]+"~")
	assert.Contains(t, r.stdout, "65536")
}

// TestRHVChangesMerged: after a snapshot deletion merged the volume above
// the base into it, the stored change ID asks for a full backup (exit 3).
func TestRHVChangesMerged(t *testing.T) {
	c := rhvcNewChain(t, 3, false)
	v1, v2, leaf := c.ids[0], c.ids[1], c.ids[2]
	r := cbtctl(t, append([]string{"rhv", "changes", "--full", "--format", "json", "--volume", v1}, c.source()...)...)
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	stored := decodeOne(t, r.stdout).changeID(t)
	r = cbtctl(t, append([]string{"rhv", "changes", "--full", "--format", "json", "--volume", v2}, c.source()...)...)
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	storedV2 := decodeOne(t, r.stdout).changeID(t)

	// Delete the snapshot of v1: v2 committed into v1, the leaf rebased onto
	// v1, v2's files removed, the leaf's metadata pointing at v1.
	qemutools.QemuImg(t, "commit", "-q", "-f", "qcow2", c.imagePath(v2))
	qemutools.QemuImg(t, "rebase", "-u", "-f", "qcow2", "-b", v1, "-F", "qcow2", c.imagePath(leaf))
	require.NoError(t, os.Remove(c.imagePath(v2)))
	require.NoError(t, os.Remove(c.imagePath(v2)+".meta"))
	meta, err := os.ReadFile(c.imagePath(leaf) + ".meta")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(c.imagePath(leaf)+".meta", []byte(strings.Replace(string(meta), "PUUID="+v2, "PUUID="+v1, 1)), 0o644))

	for _, since := range []string{stored, storedV2} {
		r = cbtctl(t, append([]string{"rhv", "changes", "--format", "json", "--since", since}, c.source()...)...)
		assert.Equal(t, exitFullBackup, r.code, "since %s: stdout %s stderr %s", since, r.stdout, r.stderr)
		assert.Contains(t, r.stderr, "full backup required")
	}
	// A full listing still works.
	r = cbtctl(t, append([]string{"rhv", "changes", "--full", "--format", "json"}, c.source()...)...)
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
}

func TestRHVChangesErrors(t *testing.T) {
	c := rhvcNewChain(t, 2, false)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, exitUsage, "--meta DIR"},
		{[]string{"--meta", c.imageDir()}, exitUsage, "give --since VOLUME|CHANGEID (a volume UUID, or a change ID rhv:volume:... a listing printed) for an incremental, or --full"},
		{[]string{"--meta", c.imageDir(), "--since", ""}, exitUsage, "--since is empty"},
		{[]string{"--meta", c.imageDir(), "--since", c.ids[0], "--full"}, exitUsage, "--since and --full exclude each other"},
		{[]string{"--meta", c.imageDir(), "--full", "--start", "1Z"}, exitUsage, `--start "1Z": want a byte count`},
		{[]string{"--meta", c.imageDir(), "--full", "--start", "8M"}, exitUsage, "--start 8M: beyond the end of the disk: want 0 to its capacity, 4194304 (4 MiB)"},
		{[]string{"--meta", filepath.Join(c.imageDir(), c.ids[0]), "--full"}, exitUsage, "--meta: " + filepath.Join(c.imageDir(), c.ids[0]) + " is a regular file, not a directory"},
		{[]string{"--lvs", c.imageDir(), "--full"}, exitUsage, "--lvs " + c.imageDir() + ": " + c.imageDir() + " is a directory, not a regular file"},
		{[]string{"--meta", c.imageDir(), "--lvs", "x"}, exitUsage, "--meta DIR"},
		{[]string{"--meta", c.imageDir(), "--lv-dir", "x"}, exitUsage, "are for --lvs"},
		{[]string{"--lvs", "x", "--metadata", "y"}, exitUsage, "--domain-version 4 or 5"},
		{[]string{"--lvs", "x", "--domain-version", "5"}, exitUsage, "is for --metadata"},
		{[]string{"--meta", c.imageDir(), "--since", "qcow2:layer:x"}, exitUsage, "volume UUID"},
		{[]string{"--meta", c.imageDir(), "--since", "../x"}, exitUsage, "want a UUID"},
		{[]string{"--meta", c.imageDir(), "extra"}, exitUsage, "unexpected argument"},
		{[]string{"--meta", filepath.Join(c.root, "missing"), "--full"}, exitError, "does not exist"},
		{[]string{"--lvs", filepath.Join(c.root, "missing"), "--full"}, exitError, "does not exist"},
		{[]string{"--meta", c.imageDir(), "--image", rhvcVol(99), "--full"}, exitError, "no volume of image"},
		{[]string{"--meta", c.imageDir(), "--volume", rhvcVol(99), "--full"}, exitError, "not in the chain"},
		{[]string{"--meta", c.imageDir(), "--volume", c.ids[0], "--since", c.ids[1]}, exitError, "above the disk's volume"},
		{[]string{"--meta", c.imageDir(), "--since", c.ids[1]}, exitFullBackup, "is the leaf"},
		{[]string{"--meta", c.imageDir(), "--since", rhvcVol(99)}, exitFullBackup, "no longer in the chain"},
	} {
		r := cbtctl(t, append([]string{"rhv", "changes"}, tc.args...)...)
		if tc.code == exitUsage {
			requireUsageError(t, r, tc.want, "cbtctl help rhv changes")
			continue
		}
		assert.Equal(t, tc.code, r.code, "%q: stderr %s", tc.args, r.stderr)
		assert.Contains(t, r.stderr, tc.want, "%q", tc.args)
	}

	// The qcow2 chain disagrees with the metadata: the leaf's backing file
	// is gone from its header.
	qemutools.QemuImg(t, "rebase", "-u", "-f", "qcow2", "-b", "", c.imagePath(c.ids[1]))
	r := cbtctl(t, "rhv", "changes", "--meta", c.imageDir(), "--full")
	assert.Equal(t, exitError, r.code)
	assert.Contains(t, r.stderr, "names no backing file")
	assert.Contains(t, r.stderr, "cbtctl rhv chain")
}

func TestRHVChangesHelp(t *testing.T) {
	r := cbtctl(t, "help", "rhv", "changes")
	require.Equal(t, exitOK, r.code)
	for _, w := range []string{"--meta", "--lvs", "--lv-dir", "--since", "--full", "--volume", "--format", "--start", "Exit status 3"} {
		assert.Contains(t, r.stdout, w)
	}
}

// rhvArgs is "rhv backup", the chain's storage flags, then rest.
func rhvArgs(c *rhvcChain, rest ...string) []string {
	return append(append([]string{"rhv", "backup"}, c.source()...), rest...)
}

// TestRHVBackup: a full backup at the base volume and an incremental at the
// next one, for a file and a block domain, restored by qemu-img convert
// equal to the volumes' exports; the leaf names no point to store.
func TestRHVBackup(t *testing.T) {
	needQemuTools(t)
	for _, block := range []bool{false, true} {
		c := rhvcNewChain(t, 3, block)
		dir := t.TempDir()
		full, inc := filepath.Join(dir, "0.qcow2"), filepath.Join(dir, "1.qcow2")
		r := cbtctl(t, rhvArgs(c, "--volume", c.ids[0], "--full", "--out", full)...)
		require.Equal(t, exitOK, r.code, r.stderr)
		id := strings.TrimPrefix(regexp.MustCompile(`change ID to store: \S+`).FindString(r.stdout), "change ID to store: ")
		require.NotEmpty(t, id, r.stdout)
		assert.Equal(t, c.export(t, c.ids[0]), qemutools.ExportRaw(t, full, ""))
		r = cbtctl(t, rhvArgs(c, "--volume", c.ids[1], "--since", id, "--backing", full, "--out", inc)...)
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.Equal(t, c.export(t, c.ids[1]), qemutools.ExportRaw(t, inc, ""))
		leaf := filepath.Join(dir, "leaf.qcow2")
		r = cbtctl(t, rhvArgs(c, "--full", "--out", leaf)...)
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.Contains(t, r.stdout, "no change ID")
	}
	requireUsageError(t, cbtctl(t, "rhv", "backup", "--meta", "x", "--full"), "--out FILE.qcow2 is required", "cbtctl help rhv backup")
}
