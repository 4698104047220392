package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/extent"
)

func TestDemoText(t *testing.T) {
	r := cbtctl(t, "mem", "demo", "--seed", "3")
	require.Equal(t, exitOK, r.code, "stderr: %s\nstdout: %s", r.stderr, r.stdout)
	assert.Empty(t, r.stderr)
	out := r.stdout
	for _, want := range []string{
		"workload seed 3",
		"3. Full backup.",
		"6. Incremental backup",
		"8. The next incremental, since the stored mem:v",
		"    # incomplete: 0 extents listed before an error; store no change ID\n",
		"    stderr> cbtctl mem changes: full backup required: ",
		"A `changes` command exits with status 3 here.",
		"9. Full backup from mem:v",
		"no written byte was left out.\n",
	} {
		assert.Contains(t, out, want)
	}
	assert.Equal(t, 3, strings.Count(out, "   Checked: every one of the "), "three listings checked")
	assert.Equal(t, 2, strings.Count(out, "bytes allocated ("), "two full backups")
	assert.Equal(t, 1, strings.Count(out, "bytes changed ("), "one incremental")
	assert.Regexp(t, `\n    # \d+ extents?, \d+ bytes changed \(.*\); change ID to store: mem:v\d+\.1/2\n`, out)
	assert.Regexp(t, `\n    # \d+ extents?, \d+ bytes allocated \(.*\); change ID to store: mem:v\d+\.2/1\n`, out)

	// The same seed, the same run; another seed, another run.
	again := cbtctl(t, "mem", "demo", "--seed", "3")
	assert.Equal(t, sameVolume(out), sameVolume(again.stdout))
	other := cbtctl(t, "mem", "demo", "--seed", "4")
	require.Equal(t, exitOK, other.code, other.stderr)
	assert.NotEqual(t, sameVolume(out), sameVolume(other.stdout))
}

func TestDemoJSON(t *testing.T) {
	r := cbtctl(t, "mem", "demo", "--format", "json", "--capacity", "16M", "--granularity", "4K", "--writes", "200")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Empty(t, r.stderr)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	require.Len(t, lines, 4, "four listings, one a line")
	var got [4]changesJSON
	for i, l := range lines {
		got[i] = decodeOne(t, l+"\n")
		assert.EqualValues(t, 16<<20, *got[i].Capacity)
		assert.EqualValues(t, 4096, *got[i].Granularity)
		assert.True(t, extent.IsNormalized(got[i].Extents))
	}
	suffix := []string{".1/1", ".1/2", ".2/1", ".2/1"}
	for i, c := range got {
		id, err := cbt.ParseChangeID(*c.ChangeID)
		require.NoError(t, err)
		assert.True(t, strings.HasSuffix(id.Value(), suffix[i]), "listing %d: %s", i, id)
		if i == 2 {
			require.NotNil(t, c.Error)
			assert.Contains(t, *c.Error, "tracking was reset")
			assert.Empty(t, c.Extents)
		} else {
			assert.Nil(t, c.Error)
			assert.NotEmpty(t, c.Extents)
		}
	}
	// Tracking resets keep the data: what was allocated at the first full
	// backup and not changed since is still allocated at the last one.
	kept := extent.SubtractSlices(got[0].Extents, got[1].Extents)
	assert.Empty(t, extent.SubtractSlices(kept, got[3].Extents))
}

func TestDemoProgress(t *testing.T) {
	r := cbtctl(t, "mem", "demo", "--format", "json", "--progress")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, 3, strings.Count(r.stderr, "\n"), "a bar for each listing that went through")
	assert.NotContains(t, r.stdout, "\r")
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	n := 0
	for dec.More() {
		var v map[string]any
		require.NoError(t, dec.Decode(&v))
		n++
	}
	assert.Equal(t, 4, n)
}

// TestDemoChecksCatchMistakes proves the demo's checks can fail: handed a
// ground truth the listing does not match, they say so.
func TestDemoChecksCatchMistakes(t *testing.T) {
	vol := memVolumeFlags{capacity: 1 << 20, granularity: 4096}
	v, err := vol.volume("check")
	require.NoError(t, err)
	require.NoError(t, v.Write(0, 100))
	p, err := v.ChangePoint()
	require.NoError(t, err)
	var out strings.Builder
	d := &demo{ctx: t.Context(), stdout: &out, stderr: &out, v: v, text: true}
	wrote := []extent.Extent{{Offset: 0, Length: 100}}

	require.NoError(t, d.list(p, cbt.ChangeID{}, wrote, wrote))
	assert.Contains(t, out.String(), "Checked: every one of the 100 bytes to copy is listed; the other 3996\n")

	err = d.list(p, cbt.ChangeID{}, []extent.Extent{{Offset: 8192, Length: 1}}, wrote)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "check failed: 1 written bytes are not listed, the first in [8192, 8193): the listing under-reports")

	err = d.list(p, cbt.ChangeID{}, nil, []extent.Extent{{Offset: 8192, Length: 1}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "check failed: [0, 4096) is listed, but no write or discard touched a granule of it")

	// A base that is still valid is no "full backup required" path.
	err = d.stale(p, p)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "want cbt.ErrChangeIDInvalid (exit status 3), got status 0")
}
