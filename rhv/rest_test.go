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

func readFixtureREST(t *testing.T) []Volume {
	t.Helper()
	f, err := os.Open("testdata/chains/rest_disksnapshots.json")
	require.NoError(t, err)
	defer f.Close()
	vols, err := ReadREST(f)
	require.NoError(t, err)
	return vols
}

func TestReadREST(t *testing.T) {
	vols := readFixtureREST(t)
	require.Len(t, vols, 2)
	assert.Equal(t, Volume{ID: fixtureLeaf, Parent: fixtureBase, Image: fixtureImage, Format: FormatCOW, Type: "SPARSE",
		Legality: LegalityLegal, Capacity: 2 << 30, Status: "OK", MDSlot: -1,
		Extra: map[string]string{"snapshot": "1a1a1a1a-0000-0000-0000-000000000002"}}, vols[0])
	assert.Equal(t, BlankUUID, vols[1].Parent, "the API omits parent for the base")
	assert.Equal(t, FormatRAW, vols[1].Format)
	assert.Equal(t, "PREALLOCATED", vols[1].Type)

	ch, fs := BuildChain(fixtureImage, vols)
	require.True(t, ch.Ordered)
	assert.Empty(t, fs)
	assert.Equal(t, []string{fixtureBase, fixtureLeaf}, ids(ch.Volumes))
}

func TestReadRESTVariants(t *testing.T) {
	// One disk snapshot, numbers as numbers, sparse as a bool, illegal.
	vols, err := ReadREST(strings.NewReader(`{"id":"v","disk":{"id":"d"},"parent":{"id":"p"},"provisioned_size":512,"sparse":true,"status":"illegal","format":"cow"}`))
	require.NoError(t, err)
	require.Len(t, vols, 1)
	assert.Equal(t, int64(512), vols[0].Capacity)
	assert.Equal(t, "SPARSE", vols[0].Type)
	assert.Equal(t, LegalityIllegal, vols[0].Legality)
	assert.Equal(t, []FindingKind{KindIllegal}, findingKinds(volumeFindings(vols[0])))

	// No disk link: the href names the disk.
	vols, err = ReadREST(strings.NewReader(`{"disk_snapshot":[{"id":"v","href":"/ovirt-engine/api/disks/d9/disksnapshots/v"},{"id":"w","href":"/ovirt-engine/api/storagedomains/s/disksnapshots/w"}]}`))
	require.NoError(t, err)
	assert.Equal(t, "d9", vols[0].Image)
	assert.Equal(t, "", vols[1].Image)

	vols, err = ReadREST(strings.NewReader(`{"disk_snapshot":[]}`))
	require.NoError(t, err)
	assert.Empty(t, vols)
	vols, err = ReadREST(strings.NewReader(`{}`))
	require.NoError(t, err)
	assert.Empty(t, vols)

	// A locked one, a parent link without id.
	vols, err = ReadREST(strings.NewReader(`{"disk_snapshot":[{"id":"v","status":"locked","parent":{}}]}`))
	require.NoError(t, err)
	assert.Equal(t, "LOCKED", vols[0].Status)
	assert.Equal(t, UnknownParent, vols[0].Parent)
}

func TestReadRESTErrors(t *testing.T) {
	for _, in := range []string{
		`<disk_snapshots><disk_snapshot id="x"/></disk_snapshots>`,
		`{"disk_snapshot":[{"disk":{"id":"d"}}]}`,
		`{"disk_snapshot":[{"id":"v","provisioned_size":"1.5"}]}`,
		`{"foo":1}`,
		`[`,
	} {
		_, err := ReadREST(strings.NewReader(in))
		require.Error(t, err, in)
		assert.True(t, errors.Is(err, cbt.ErrCorrupt), "%v", err)
	}
	_, err := ReadREST(strings.NewReader(`<x/>`))
	assert.Contains(t, err.Error(), "Accept: application/json")
}
