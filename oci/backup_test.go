package oci

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt"
)

func TestBackupKindOf(t *testing.T) {
	for id, want := range map[string]BackupKind{
		"ocid1.volumebackup.oc1.phx.abc":         BlockVolumeBackup,
		"ocid1.bootvolumebackup.oc1.iad.xyz":     BootVolumeBackup,
		"ocid1.volumebackup.oc2..abc":            BlockVolumeBackup, // no region
		"ocid1.volumebackup.oc1.phx.future.part": BlockVolumeBackup,
	} {
		k, err := BackupKindOf(id)
		require.NoError(t, err, id)
		assert.Equal(t, want, k, id)
	}
	for _, id := range []string{
		"", "volumebackup", "ocid1.volume.oc1.phx.abc", "ocid2.volumebackup.oc1.phx.abc",
		"ocid1.volumebackup.oc1.phx.", "ocid1.volumebackup..phx.abc", "ocid1.volumebackup.oc1.phx.a b",
		"ocid1.volumebackup.oc1.phx.\u00e9", "ocid1.volumebackup.oc1.phx." + strings.Repeat("a", 300),
	} {
		_, err := BackupKindOf(id)
		assert.ErrorIs(t, err, cbt.ErrInvalidArgument, "%q", id)
	}
}

func TestCheckPair(t *testing.T) {
	b1, b2 := "ocid1.volumebackup.oc1.phx.a", "ocid1.volumebackup.oc1.phx.b"
	k, err := checkPair(b1, b2)
	require.NoError(t, err)
	assert.Equal(t, BlockVolumeBackup, k)
	for _, p := range [][2]string{{"", b2}, {b1, ""}, {b1, b1}, {b1, "ocid1.bootvolumebackup.oc1.phx.b"}, {"x", b2}} {
		_, err := checkPair(p[0], p[1])
		assert.ErrorIs(t, err, cbt.ErrInvalidArgument, "%q", p)
	}
}

func TestCheckBlockSize(t *testing.T) {
	for n := int64(4096); n <= 1<<20; n *= 2 {
		assert.NoError(t, checkBlockSize(n), n)
	}
	for _, n := range []int64{0, -4096, 512, 2048, 4095, 6144, 1<<20 + 4096, 2 << 20} {
		assert.ErrorIs(t, checkBlockSize(n), cbt.ErrInvalidArgument, n)
	}
}

// Validation happens before any request.
func TestOpenValidates(t *testing.T) {
	f, c := newFakeOCI(t)
	v := f.Source(1)
	second := f.Backup(v, false)
	for name, mod := range map[string]func(*Options){
		"no compartment": func(o *Options) { o.CompartmentID = "" },
		"no AD":          func(o *Options) { o.AvailabilityDomain = "" },
		"no instance":    func(o *Options) { o.InstanceID = "" },
		"block size":     func(o *Options) { o.ChangeBlockSize = 3000 },
	} {
		o := fakeOptions(f, &fakeConnector{})
		mod(o)
		_, err := Open(t.Context(), c, second, o)
		assert.ErrorIs(t, err, cbt.ErrInvalidArgument, name)
	}
	_, err := Open(t.Context(), c, "ocid1.volume.oc1.phx.x", fakeOptions(f, &fakeConnector{}))
	assert.ErrorIs(t, err, cbt.ErrInvalidArgument)
	_, err = Open(t.Context(), nil, second, fakeOptions(f, &fakeConnector{}))
	assert.ErrorIs(t, err, cbt.ErrInvalidArgument)
	assert.Empty(t, f.Calls(), "nothing is sent for a bad argument")

	d, err := Open(t.Context(), c, second, fakeOptions(f, &fakeConnector{}))
	require.NoError(t, err)
	defer d.Close()
	for _, base := range []string{"garbage", "ocid1.bootvolumebackup.oc1.phx.x"} {
		_, err = cbt.Collect(d.Changes(t.Context(), since(t, base), nil))
		assert.ErrorIs(t, err, cbt.ErrInvalidArgument, base)
	}
	assert.Equal(t, []string{"GET /volumeBackups"}, f.Calls())
}

func FuzzBackupKindOf(f *testing.F) {
	for _, s := range []string{"ocid1.volumebackup.oc1.phx.abc", "ocid1.bootvolumebackup.oc1..x", "", "ocid1....", "ocid1.volumebackup.oc1.phx."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		k, err := BackupKindOf(id)
		if err != nil {
			if k != 0 {
				t.Fatalf("kind %v with error %v", k, err)
			}
			return
		}
		if !strings.HasPrefix(id, "ocid1.volumebackup.") && !strings.HasPrefix(id, "ocid1.bootvolumebackup.") {
			t.Fatalf("%q accepted as %v", id, k)
		}
		if len(id) > maxOCIDLen || strings.ContainsAny(id, " \t\n") {
			t.Fatalf("%q accepted", id)
		}
	})
}
