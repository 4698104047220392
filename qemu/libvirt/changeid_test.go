package libvirt

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt"
)

func TestCheckpointRefRoundTrip(t *testing.T) {
	for _, r := range []CheckpointRef{
		{Name: "c1"},
		{Name: "c1", Time: 1764460800},
		{Name: "nightly#3", Nonce: "0a1b2c3d4e5f6071"},
		{Name: "c2", Time: 1764460800, Nonce: "0a1b2c3d4e5f6071", Domain: "0c8e5c3a-1f2b-4c5d-8e9f-0a1b2c3d4e5f"},
		{Name: "c3", Time: 1764460800, Domain: "0c8e5c3a-1f2b-4c5d-8e9f-0a1b2c3d4e5f"},
		{Name: "a#t12"}, // a name that looks guarded is kept whole when unguarded... see below
	} {
		id := r.ChangeID()
		require.Equal(t, Scheme, id.Scheme())
		back, err := cbt.ParseChangeID(id.String())
		require.NoError(t, err)
		got, err := ParseCheckpointRef(back.Value())
		require.NoError(t, err)
		if r.Name == "a#t12" && r.Time == 0 && r.Nonce == "" {
			// Ambiguous: an unguarded name ending in #tDIGITS reads as guarded.
			assert.Equal(t, CheckpointRef{Name: "a", Time: 12}, got)
			continue
		}
		assert.Equal(t, r, got)
	}
	for _, bad := range []string{"", "checkpoint:", "snapshot:s1", "qcow2:checkpoint:x"} {
		_, err := ParseCheckpointRef(bad)
		assert.ErrorIs(t, err, cbt.ErrInvalidArgument, bad)
	}
}

func TestCheckpointRefVerify(t *testing.T) {
	cp := Checkpoint{Name: "c1", CreationTime: 100, Description: "nightly; cbt-guard:abcd"}
	assert.NoError(t, CheckpointRef{Name: "c1"}.verify(cp))
	assert.NoError(t, CheckpointRef{Name: "c1", Time: 100}.verify(cp))
	assert.NoError(t, CheckpointRef{Name: "c1", Nonce: "abcd"}.verify(cp))
	assert.ErrorIs(t, CheckpointRef{Name: "c1", Time: 101}.verify(cp), cbt.ErrChangeIDInvalid)
	assert.ErrorIs(t, CheckpointRef{Name: "c1", Nonce: "abce"}.verify(cp), cbt.ErrChangeIDInvalid)
}

func TestCheckpointRefCarriesNonce(t *testing.T) {
	cp := Checkpoint{Name: "c1", CreationTime: 100, Description: "nightly; cbt-guard:00ff12", Domain: "0c8e5c3a-1f2b-4c5d-8e9f-0a1b2c3d4e5f"}
	r := cp.Ref()
	assert.Equal(t, CheckpointRef{Name: "c1", Time: 100, Nonce: "00ff12", Domain: cp.Domain}, r)
	// The same name, made again in the same second by this package: the
	// nonce tells them apart where the creation time cannot.
	again := cp
	again.Description = "nightly; cbt-guard:77aa01"
	assert.ErrorIs(t, r.verify(again), cbt.ErrChangeIDInvalid)
	assert.NoError(t, r.verify(cp))
	assert.Equal(t, "", guardNonce("no guard here"))
}
