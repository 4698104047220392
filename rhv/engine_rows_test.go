package rhv

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt"
)

func readFixtureEngine(t *testing.T) []Volume {
	t.Helper()
	f, err := os.Open("testdata/chains/engine_images.txt")
	require.NoError(t, err)
	defer f.Close()
	vols, err := ReadEngine(f)
	require.NoError(t, err)
	return vols
}

func TestReadEngine(t *testing.T) {
	vols := readFixtureEngine(t)
	require.Len(t, vols, 5)
	assert.Equal(t, Volume{ID: fixtureBase, Parent: BlankUUID, Image: fixtureImage, Format: FormatRAW, Type: "PREALLOCATED",
		Role: RoleInternal, Legality: LegalityLegal, Capacity: 2 << 30, Status: "OK", MDSlot: -1,
		Extra: map[string]string{"vm_snapshot_id": "1a1a1a1a-0000-0000-0000-000000000001"}}, vols[0])
	assert.Equal(t, RoleLeaf, vols[1].Role)
	assert.Equal(t, FormatCOW, vols[1].Format)
	assert.Equal(t, "SPARSE", vols[1].Type)
	assert.Equal(t, "ILLEGAL", vols[3].Status)
	assert.Equal(t, LegalityIllegal, vols[3].Legality)
	assert.Equal(t, "LOCKED", vols[4].Status)

	chains, fs := BuildChains(vols)
	require.Len(t, chains, 2)
	assert.True(t, chains[0].Ordered)
	assert.True(t, chains[1].Ordered)
	assert.Equal(t, []string{"c1c1c1c1-0000-0000-0000-00000000000c", "c2c2c2c2-0000-0000-0000-00000000000c", "c3c3c3c3-0000-0000-0000-00000000000c"}, ids(chains[1].Volumes))
	assert.Equal(t, []FindingKind{KindIllegal, KindLocked}, findingKinds(fs))
	assert.Equal(t, "5e5e5e5e-0000-0000-0000-00000000005e", fs[0].Image)
}

func TestReadEngineUnalignedAnyOrder(t *testing.T) {
	// psql -A, columns in another order, an extra column, a NULL parent.
	in := "SELECT ...;\n" +
		"imagestatus|image_group_id|foo|parentid|image_guid|volume_format|active\n" +
		"1|img|x|" + BlankUUID + "|v1|5|f\n" +
		"7|img|x||v2|4|t\n" +
		"(2 rows)\n"
	vols, err := ReadEngine(strings.NewReader(in))
	require.NoError(t, err)
	require.Len(t, vols, 2)
	assert.Equal(t, "v1", vols[0].ID)
	assert.Equal(t, FormatRAW, vols[0].Format)
	assert.Equal(t, UnknownParent, vols[1].Parent)
	assert.Equal(t, "7", vols[1].Status, "an unknown status is kept as it is")
	assert.Equal(t, RoleLeaf, vols[1].Role)

	_, fs := BuildChain("img", vols)
	assert.Equal(t, []FindingKind{KindUnknownParent}, findingKinds(fs))
}

func TestReadEngineErrors(t *testing.T) {
	for _, in := range []string{
		"",
		" a | b \n---+---\n 1 | 2\n",
		"image_guid|parentid|image_group_id|size\nv|p|i|big\n",
		"image_guid|parentid|image_group_id\nv|p\n",
		"image_guid|parentid|image_group_id\n|p|i\n",
	} {
		_, err := ReadEngine(strings.NewReader(in))
		require.Error(t, err, "%q", in)
		assert.True(t, errors.Is(err, cbt.ErrCorrupt), "%v", err)
	}
}
