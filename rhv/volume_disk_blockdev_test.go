package rhv_test

import (
	"github.com/changedblocks/sdk/cbt/cbttest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/rhv"
)

// TestOpenVolumeBlockDevices reads a chain from block devices, as on a host
// with an activated block domain (/dev/DOMAIN/VOLUME links to device
// nodes): each LV file is attached read-only to a loop device. It needs
// root and losetup, and is skipped without them.
func TestOpenVolumeBlockDevices(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("attaching loop devices needs root")
	}
	if _, err := exec.LookPath("losetup"); err != nil {
		t.Skip("losetup not installed")
	}
	c, ids := diskSmall(t, diskBlockDomain, 3)
	c.io(ids[2], "write -z 0 64k", "write -P 3 512k 4k")
	dev := t.TempDir()
	for _, id := range ids {
		out, err := exec.Command("losetup", "--find", "--show", "--read-only", c.filePath(id)).CombinedOutput()
		if err != nil {
			t.Skipf("losetup cannot attach a loop device here: %v: %s", err, out)
		}
		loop := strings.TrimSpace(string(out))
		t.Cleanup(func() {
			if out, err := exec.Command("losetup", "--detach", loop).CombinedOutput(); err != nil {
				t.Errorf("losetup --detach %s: %v: %s", loop, err, out)
			}
		})
		require.NoError(t, os.Symlink(loop, filepath.Join(dev, id)))
	}
	onDevices := make([]*cbt.Disk, len(ids))
	for i, id := range ids {
		onFiles := gtOpen(t, c, id)
		d, err := rhv.OpenVolume(&c.chain, id, &rhv.VolumeOptions{Dir: dev})
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, d.Close()) })
		onDevices[i] = d
		assert.Equal(t, onFiles.Capacity(), d.Capacity())
		wantID, wantErr := onFiles.ChangeID()
		gotID, gotErr := d.ChangeID()
		assert.Equal(t, wantErr == nil, gotErr == nil, "a change ID on files and on block devices alike: %v, %v", wantErr, gotErr)
		if wantErr == nil {
			// The same point; the guards differ: a device's modification
			// time is not part of it.
			wp, err := rhv.VolumePointOf(wantID)
			require.NoError(t, err)
			gp, err := rhv.VolumePointOf(gotID)
			require.NoError(t, err)
			assert.Equal(t, wp.Volume, gp.Volume)
			assert.Equal(t, wp.Child, gp.Child)
			assert.NotEmpty(t, gp.Guard)
		}
		for b := -1; b < i; b++ {
			fileBase, devBase := cbt.ChangeID{}, cbt.ChangeID{}
			if b >= 0 {
				fileBase, devBase = cbttest.MustChangeID(t, gtOpen(t, c, ids[b])), cbttest.MustChangeID(t, onDevices[b])
			}
			want, err := cbt.Collect(onFiles.Changes(t.Context(), fileBase, nil))
			require.NoError(t, err)
			got, err := cbt.Collect(d.Changes(t.Context(), devBase, nil))
			require.NoError(t, err)
			assert.Equal(t, want, got, "volume %d since %q", i, devBase)
			assert.NotEmpty(t, got)
		}
	}
}
