package oci

import (
	"github.com/changedblocks/sdk/cbt/cbttest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/scsi/scsimodel"
)

func TestOpenAttached(t *testing.T) {
	first, second := "ocid1.volumebackup.oc1.phx.a", "ocid1.volumebackup.oc1.phx.b"
	changed := []extent.Extent{{Offset: 1 << 20, Length: 8192}, {Offset: 5 << 20, Length: 4096}}
	lun, err := scsimodel.New(8<<20, 4096, changed)
	require.NoError(t, err)
	var opened string
	d, err := OpenAttached(t.Context(), "/dev/disk/by-path/x", first, second, &Options{
		OpenDevice: func(path string) (Device, error) { opened = path; return lun, nil },
	})
	require.NoError(t, err)
	assert.Equal(t, "/dev/disk/by-path/x", opened)
	assert.Equal(t, int64(8<<20), d.Capacity())
	assert.Equal(t, "oci:"+second, cbttest.MustChangeID(t, d).String())

	got, err := cbt.Collect(d.Changes(t.Context(), since(t, first), nil))
	require.NoError(t, err)
	assert.Equal(t, lun.Truth(), got)
	// Listed twice: the device stays open between listings.
	got, err = cbt.Collect(d.Changes(t.Context(), since(t, first), nil))
	require.NoError(t, err)
	assert.Equal(t, changed, got)

	got, err = cbt.Collect(d.Changes(t.Context(), cbt.ChangeID{}, nil))
	require.NoError(t, err)
	assert.Equal(t, []extent.Extent{{Offset: 0, Length: 8 << 20}}, got)
	got, err = cbt.Collect(d.Changes(t.Context(), since(t, second), nil))
	require.NoError(t, err)
	assert.Empty(t, got)
	_, err = cbt.Collect(d.Changes(t.Context(), since(t, "ocid1.volumebackup.oc1.phx.other"), nil))
	assert.ErrorIs(t, err, cbt.ErrChangeIDInvalid)

	// The scan used GET LBA STATUS(32) only.
	for _, cdb := range lun.Commands() {
		assert.Contains(t, []byte{0x9e, 0x7f}, cdb[0])
		if cdb[0] == 0x9e {
			assert.Equal(t, byte(0x10), cdb[1]&0x1f, "READ CAPACITY(16) is the only SERVICE ACTION IN(16)")
		}
	}
	require.NoError(t, d.Close())
	_, err = lun.Exec(t.Context(), []byte{0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0}, make([]byte, 32))
	assert.Error(t, err, "Close closed the device")

	_, err = OpenAttached(t.Context(), "/x", first, first, nil)
	assert.ErrorIs(t, err, cbt.ErrInvalidArgument)
}
