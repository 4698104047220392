package rhv_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/rhv"
)

const (
	cidVol   = "7b1b3c5e-0d4f-4c55-9f0a-1e2d3c4b5a69"
	cidChild = "0c9e8d7f-6a5b-4c3d-8e2f-1a0b9c8d7e6f"
)

func TestVolumeChangeID(t *testing.T) {
	id, err := rhv.VolumeChangeID(cidVol)
	require.NoError(t, err)
	assert.Equal(t, "rhv:volume:"+cidVol, id.String())
	p, err := rhv.VolumePointOf(id)
	require.NoError(t, err)
	assert.Equal(t, rhv.VolumePoint{Volume: cidVol}, p)

	g, err := rhv.VolumePoint{Volume: cidVol, Child: cidChild}.ChangeID()
	require.NoError(t, err)
	assert.Equal(t, "rhv:volume:"+cidVol+"#"+cidChild, g.String())
	back, err := cbt.ParseChangeID(g.String())
	require.NoError(t, err)
	p, err = rhv.VolumePointOf(back)
	require.NoError(t, err)
	assert.Equal(t, rhv.VolumePoint{Volume: cidVol, Child: cidChild}, p)

	// A guarded point round-trips.
	gg, err := rhv.VolumePoint{Volume: cidVol, Child: cidChild, Guard: "g1abc"}.ChangeID()
	require.NoError(t, err)
	assert.Equal(t, "rhv:volume:"+cidVol+"#"+cidChild+"~g1abc", gg.String())
	p, err = rhv.VolumePointOf(gg)
	require.NoError(t, err)
	assert.Equal(t, rhv.VolumePoint{Volume: cidVol, Child: cidChild, Guard: "g1abc"}, p)

	// The whole change ID is accepted by ParseVolumePoint too.
	p, err = rhv.ParseVolumePoint(g.String())
	require.NoError(t, err)
	assert.Equal(t, cidChild, p.Child)
}

func TestVolumeChangeIDErrors(t *testing.T) {
	for _, s := range []string{
		"", "volume:", "volume:#" + cidChild, "volume:" + cidVol + "#", "checkpoint:" + cidVol,
		"volume:../x", "volume:a/b", "volume:" + strings.Repeat("a", 65), "volume:" + cidVol + "#x#y",
		"volume:a b", "layer:/x",
		"volume:" + cidVol + "~g1", "volume:" + cidVol + "#" + cidChild + "~", "volume:" + cidVol + "#" + cidChild + "~a~b",
		"volume:" + cidVol + "#" + cidChild + "~a b",
	} {
		_, err := rhv.ParseVolumePoint(s)
		assert.ErrorIs(t, err, cbt.ErrInvalidArgument, "%q", s)
	}
	_, err := rhv.VolumeChangeID("")
	assert.ErrorIs(t, err, cbt.ErrInvalidArgument)
	_, err = rhv.VolumePoint{Volume: cidVol, Child: "a:b"}.ChangeID()
	assert.ErrorIs(t, err, cbt.ErrInvalidArgument)
	_, err = rhv.VolumePoint{Volume: cidVol, Guard: "g1"}.ChangeID()
	assert.ErrorIs(t, err, cbt.ErrInvalidArgument, "a guard without a child")
	other, err := cbt.NewChangeID("qcow2", "volume:"+cidVol)
	require.NoError(t, err)
	_, err = rhv.VolumePointOf(other)
	assert.ErrorIs(t, err, cbt.ErrInvalidArgument)
}

// FuzzParseVolumePoint: whatever parses round-trips through its string form
// and makes a valid change ID; nothing else panics.
func FuzzParseVolumePoint(f *testing.F) {
	for _, s := range []string{"volume:" + cidVol, "volume:" + cidVol + "#" + cidChild, "volume:" + cidVol + "#" + cidChild + "~g1ab", "rhv:volume:x", "volume:", "volume:a#", "checkpoint:x", "volume:\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := rhv.ParseVolumePoint(s)
		if err != nil {
			require.ErrorIs(t, err, cbt.ErrInvalidArgument)
			return
		}
		again, err := rhv.ParseVolumePoint(p.String())
		require.NoError(t, err)
		require.Equal(t, p, again)
		id, err := p.ChangeID()
		require.NoError(t, err)
		back, err := rhv.VolumePointOf(id)
		require.NoError(t, err)
		require.Equal(t, p, back)
	})
}
