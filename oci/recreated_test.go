package oci

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/extent"
)

// A listing backwards (the disk at the first backup, since the second): the
// service would make the same delta volume either way (the blocks that
// differ), so only the backups' creation times tell; refused with
// ErrInvalidArgument before any volume is made. Before the check, it listed
// the delta and the caller stored the earlier backup as its new point.
func TestSinceLaterBackup(t *testing.T) {
	s := newScenario(t, false)
	d, err := Open(t.Context(), s.c, s.first, fakeOptions(s.f, s.conn))
	require.NoError(t, err)
	defer d.Close()
	_, err = cbt.Collect(d.Changes(t.Context(), since(t, s.second), nil))
	assert.ErrorIs(t, err, cbt.ErrInvalidArgument)
	assert.NotErrorIs(t, err, cbt.ErrChangeIDInvalid)
	assert.Zero(t, s.f.Count("POST /volumes"), "refused before a volume is made")
	s.assertClean(t)
}

// A volume restored from an older backup is a new volume on OCI (a new
// OCID), and backed up again: the stored base (a backup of the old volume,
// taken after the one restored) and the new volume's backup are refused as
// a pair, never listed as if the restore had not happened (the writes made
// between the restored backup and the base are gone from the disk, and no
// delta of the new volume's own would show them). The same for the backup
// that was restored. Both refusals come before any volume is made.
func TestRestoredVolume(t *testing.T) {
	s := newScenario(t, false) // first, writes, second (the stored base)
	restored := s.f.Restore(s.first)
	s.f.Write(restored, extent.Extent{Offset: 64 << 20, Length: 4096})
	third := s.f.Backup(restored, false)
	d, err := Open(t.Context(), s.c, third, fakeOptions(s.f, s.conn))
	require.NoError(t, err)
	defer d.Close()
	for _, base := range []string{s.second, s.first} {
		got, err := cbt.Collect(d.Changes(t.Context(), since(t, base), nil))
		assert.ErrorIs(t, err, cbt.ErrChangeIDInvalid, "since %s", base)
		assert.Empty(t, got)
	}
	assert.Zero(t, s.f.Count("POST /volumes"), "refused before a volume is made")
	s.assertClean(t)
}
