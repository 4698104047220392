package rhv

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCompareAgrees(t *testing.T) {
	engine := readFixtureEngine(t)[:2]
	rest := readFixtureREST(t)
	lvs := readFixtureLVs(t)
	assert.Empty(t, Compare(engine, rest, "engine", "rest"))
	// The lvs also list an initializing and two removed volumes: not
	// expected in the engine.
	assert.Empty(t, Compare(engine, lvs, "engine", "lvs"))
}

func TestCompareDisagrees(t *testing.T) {
	engine := []Volume{
		{ID: "a", Image: "i", Parent: BlankUUID, Legality: LegalityLegal, Format: FormatRAW},
		{ID: "b", Image: "i", Parent: "a", Legality: LegalityLegal, Format: FormatCOW},
		{ID: "gone", Image: "i", Parent: "b"}, // merged on storage, still in the DB
		{ID: "m", Image: "i", Parent: "x", Format: FormatUnknown},
		{ID: "a", Image: "zzz"}, // listed twice: the first counts
	}
	storage := []Volume{
		{ID: "a", Image: "j", Parent: "", Legality: LegalityLegal, Format: FormatRAW},
		{ID: "b", Image: "i", Parent: "q", Legality: LegalityIllegal, Format: FormatRAW},
		{ID: "m", Image: "", Parent: UnknownParent, Format: FormatCOW},
		{ID: "new", Image: "i", Parent: "b"},
		{ID: "rm", Image: "i", Parent: "b", Removed: true},
	}
	fs := Compare(engine, storage, "engine", "storage")
	got := make([]string, len(fs))
	for i, f := range fs {
		got[i] = string(f.Kind) + " " + f.Volume + " " + f.Image
	}
	require.Equal(t, []string{
		"ImageMismatch a i",
		"ParentMismatch b i",
		"LegalityMismatch b i",
		"FormatMismatch b i",
		"MissingVolume gone i",
		"MissingVolume new i",
	}, got)
	assert.Equal(t, "the volume is in engine but not in storage", fs[4].Message)
	assert.Equal(t, "engine gives the parent a, storage the parent q", fs[1].Message)
	assert.Equal(t, "the volume is in storage but not in engine", fs[5].Message)
}
