package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/rhv"
)

const (
	chainData  = "../../rhv/testdata/chains/"
	chainImage = "ae863f0d-0f24-41d4-b6ed-333c6634c7dc"
	chainBase  = "0574c3f6-3d44-4cc7-98e3-6d90626dd95f"
	chainLeaf  = "3fc4fd44-6d75-4b48-aafc-d72c7bba10d9"
)

// decodeChainLines decodes each line of stdout as one image's report,
// refusing members the documented shape does not have.
func decodeChainLines(t *testing.T, stdout string) []rhvChainJSON {
	t.Helper()
	var out []rhvChainJSON
	for _, line := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		var r rhvChainJSON
		require.NoError(t, dec.Decode(&r), line)
		require.False(t, dec.More(), line)
		out = append(out, r)
	}
	return out
}

func TestRHVChainJSONGoodChain(t *testing.T) {
	for _, args := range [][]string{
		{"--dump", chainData + "dump.json"},
		{"--rest", chainData + "rest_disksnapshots.json"},
		{"--lvs", chainData + "lvs_vdsm.out"},
		{"--engine", chainData + "engine_images.txt"},
		{"--dump", chainData + "dump.json", "--engine", chainData + "engine_images.txt", "--rest", chainData + "rest_disksnapshots.json"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := cbtctl(t, append([]string{"rhv", "chain", "--image", chainImage, "--format", "json"}, args...)...)
			require.Equal(t, exitOK, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
			assert.Empty(t, r.stderr)
			got := decodeChainLines(t, r.stdout)
			require.Len(t, got, 1)
			assert.Equal(t, chainImage, got[0].Image)
			require.Len(t, got[0].Volumes, 2)
			assert.Equal(t, chainBase, got[0].Volumes[0].ID, "base first")
			assert.Equal(t, rhv.BlankUUID, got[0].Volumes[0].Parent)
			assert.Equal(t, chainLeaf, got[0].Volumes[1].ID)
			assert.Equal(t, chainBase, got[0].Volumes[1].Parent)
			assert.Empty(t, got[0].Findings)
			assert.NotNil(t, got[0].Findings)
		})
	}
}

func TestRHVChainJSONExactShape(t *testing.T) {
	r := cbtctl(t, "rhv", "chain", "--dump", chainData+"dump_text.txt", "--format", "json", "--image", "2222bbbb-0000-0000-0000-000000000002")
	require.Equal(t, exitError, r.code, "findings: exit 1; stderr: %s", r.stderr)
	var raw map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &raw))
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	assert.Equal(t, []string{"findings", "image", "volumes"}, keys)
	var findings []map[string]string
	require.NoError(t, json.Unmarshal(raw["findings"], &findings))
	require.Len(t, findings, 2)
	assert.Equal(t, "DuplicateParentError", findings[0]["kind"])
	assert.Equal(t, "c0000000-0000-0000-0000-00000000000c", findings[0]["volume"])
	assert.Contains(t, findings[0]["message"], "(_BLANK_UUID<-a)", "no HTML escaping")
	assert.Equal(t, "IllegalVolume", findings[1]["kind"])
	assert.Len(t, findings[0], 3)
}

func TestRHVChainAllImagesOneLineEach(t *testing.T) {
	r := cbtctl(t, "rhv", "chain", "--dump", chainData+"dump_text.txt", "--format", "json")
	require.Equal(t, exitError, r.code)
	got := decodeChainLines(t, r.stdout)
	require.Len(t, got, 2)
	assert.Equal(t, "1111aaaa-0000-0000-0000-000000000001", got[0].Image)
	assert.Empty(t, got[0].Findings)
	assert.Len(t, got[1].Findings, 2)
}

func TestRHVChainLVsWithMetadata(t *testing.T) {
	// A metadata LV copy (v5) whose leaf record names BLANK as parent while
	// the PU_ tag names the base.
	dir := t.TempDir()
	lv := make([]byte, 2<<20)
	rec := func(parent, voltype string) string {
		return fmt.Sprintf("CAP=2147483648\nCTIME=1\nDESCRIPTION=\nDISKTYPE=DATA\nDOMAIN=3386c6f2-926f-42c4-839c-38287fac8998\nFORMAT=COW\nGEN=0\nIMAGE=%s\nLEGALITY=LEGAL\nPUUID=%s\nSEQ=1\nTYPE=SPARSE\nVOLTYPE=%s\nEOF\n", chainImage, parent, voltype)
	}
	copy(lv[1<<20+17*8192:], rec(rhv.BlankUUID, "INTERNAL"))
	copy(lv[1<<20+18*8192:], rec(rhv.BlankUUID, "LEAF"))
	md := filepath.Join(dir, "metadata")
	require.NoError(t, os.WriteFile(md, lv, 0o644))

	r := cbtctl(t, "rhv", "chain", "--lvs", chainData+"lvs_vdsm.out", "--metadata", md, "--domain-version", "5", "--image", chainImage)
	require.Equal(t, exitError, r.code, r.stderr)
	assert.Contains(t, r.stdout, "NOT a chain")
	assert.Contains(t, r.stdout, "! ParentTagMismatch "+chainLeaf)
	assert.Contains(t, r.stdout, "! DuplicateParentError "+rhv.BlankUUID)
	assert.Contains(t, r.stdout, "# 1 image(s), 2 finding(s)")

	// Read as v4, the slots are empty: invalid metadata, not a crash.
	r = cbtctl(t, "rhv", "chain", "--lvs", chainData+"lvs_vdsm.out", "--metadata", md, "--domain-version", "4", "--image", chainImage, "--format", "json")
	require.Equal(t, exitError, r.code, r.stderr)
	got := decodeChainLines(t, r.stdout)
	require.Len(t, got, 1)
	kinds := map[string]bool{}
	for _, f := range got[0].Findings {
		kinds[f.Kind] = true
	}
	assert.True(t, kinds["InvalidMetadata"], "%v", got[0].Findings)
}

func TestRHVChainCompareSources(t *testing.T) {
	// The engine still lists a volume the storage no longer has.
	dir := t.TempDir()
	engine, err := os.ReadFile(chainData + "engine_images.txt")
	require.NoError(t, err)
	extra := " 99999999-0000-0000-0000-000000000099 | 2017-03-03 10:00:00+00 | 2147483648 | 00000000-0000-0000-0000-000000000000 | " + chainLeaf +
		" |           1 | 2017-03-02 10:00:00+00 | 1a1a1a1a-0000-0000-0000-000000000003 |           2 |             4 | " + chainImage +
		" | x | x | t | 0 | 1 | 3\n"
	lines := strings.SplitAfterN(string(engine), "\n", 3)
	path := filepath.Join(dir, "engine.txt")
	require.NoError(t, os.WriteFile(path, []byte(lines[0]+lines[1]+extra+lines[2]), 0o644))

	r := cbtctl(t, "rhv", "chain", "--dump", chainData+"dump.json", "--engine", path, "--image", chainImage, "--format", "json")
	require.Equal(t, exitError, r.code, r.stderr)
	got := decodeChainLines(t, r.stdout)
	require.Len(t, got, 1)
	assert.Equal(t, []string{chainBase, chainLeaf}, []string{got[0].Volumes[0].ID, got[0].Volumes[1].ID}, "the storage's chain")
	var kinds []string
	for _, f := range got[0].Findings {
		kinds = append(kinds, f.Kind+" "+f.Volume)
	}
	assert.Equal(t, []string{
		"VolumeRoleMismatch " + chainLeaf, // engine: the old leaf is not the top any more
		"MissingVolume 99999999-0000-0000-0000-000000000099",
	}, kinds)
	assert.Contains(t, got[0].Findings[1].Message, "in engine but not in dump")
}

func TestRHVChainMetaDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), chainImage)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	meta := "CAP=1073741824\nCTIME=1\nDESCRIPTION=\nDISKTYPE=DATA\nDOMAIN=sd\nFORMAT=RAW\nGEN=0\nIMAGE=" + chainImage +
		"\nLEGALITY=ILLEGAL\nPUUID=" + rhv.BlankUUID + "\nSEQ=1\nTYPE=PREALLOCATED\nVOLTYPE=LEAF\nEOF\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, chainBase+".meta"), []byte(meta), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, chainBase), nil, 0o644))
	r := cbtctl(t, "rhv", "chain", "--meta", dir)
	require.Equal(t, exitError, r.code, r.stderr)
	assert.Contains(t, r.stdout, "image "+chainImage+": 1 volume(s), base first")
	assert.Contains(t, r.stdout, "! IllegalVolume "+chainBase)
}

func TestRHVChainUsageAndErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--engine", "x", "extra"},
		{"--metadata", "m", "--domain-version", "5", "--dump", "d"},
		{"--lvs", "l", "--metadata", "m"},
		{"--lvs", "l", "--metadata", "m", "--domain-version", "6"},
		{"--dump", "d", "--domain-version", "4"},
		{"--dump", "d", "--format", "xml"},
	} {
		r := cbtctl(t, append([]string{"rhv", "chain"}, args...)...)
		requireUsageError(t, r, "cbtctl rhv chain: ", "cbtctl help rhv chain")
	}
	// Sources that are no files say what they are.
	dir := t.TempDir()
	requireUsageError(t, cbtctl(t, "rhv", "chain", "--dump", dir), dir+" is a directory, not a regular file or block device", "cbtctl help rhv chain")
	requireUsageError(t, cbtctl(t, "rhv", "chain", "--meta", chainData+"dump.json"), "--meta: "+chainData+"dump.json is a regular file, not a directory", "cbtctl help rhv chain")

	r := cbtctl(t, "rhv", "chain", "--dump", filepath.Join(t.TempDir(), "missing"))
	assert.Equal(t, exitError, r.code)
	assert.Contains(t, r.stderr, "no such file")
	assert.Empty(t, r.stdout)

	r = cbtctl(t, "rhv", "chain", "--rest", chainData+"lvs_vdsm.out")
	assert.Equal(t, exitError, r.code)
	assert.Contains(t, r.stderr, "check that each file holds what its flag names")

	r = cbtctl(t, "rhv", "chain", "--dump", chainData+"dump.json", "--image", "nope")
	assert.Equal(t, exitError, r.code)
	assert.Contains(t, r.stderr, "no source lists a volume of image nope")

	r = cbtctl(t, "rhv", "chain", "-h")
	assert.Equal(t, exitOK, r.code)
	assert.Contains(t, r.stdout, "Exit status: 0 no findings, 1 findings")
}

// TestRHVInputFIFO: each input file of "rhv chain" and "rhv changes" is
// opened without blocking and refused when it is a named pipe, a usage
// error (status 2) at once: no writer ever opens these FIFOs, so an
// ordinary open would wait forever.
func TestRHVInputFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	lvs := chainData + "lvs_vdsm.out"
	for _, args := range [][]string{
		{"rhv", "chain", "--lvs", fifo},
		{"rhv", "chain", "--dump", fifo},
		{"rhv", "chain", "--rest", fifo},
		{"rhv", "chain", "--engine", fifo},
		{"rhv", "chain", "--lvs", lvs, "--metadata", fifo, "--domain-version", "5"},
		{"rhv", "changes", "--lvs", fifo, "--full"},
		{"rhv", "changes", "--lvs", lvs, "--metadata", fifo, "--domain-version", "5", "--full"},
	} {
		name := strings.NewReplacer(fifo, "FIFO", lvs, "LVS").Replace(strings.Join(args[1:], " "))
		t.Run(name, func(t *testing.T) {
			done := make(chan result, 1)
			go func() { done <- cbtctl(t, args...) }()
			select {
			case r := <-done:
				requireUsageError(t, r, fifo+" is a named pipe (FIFO)", "cbtctl help rhv "+args[1])
			case <-time.After(hangGuard):
				t.Fatalf("cbtctl %v blocks opening a FIFO", args)
			}
		})
	}
}
