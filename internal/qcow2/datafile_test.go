package qcow2

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestExternalDataFile checks images whose guest data lives in an external
// data file: host offset = guest offset (guest cluster 0 at host offset 0,
// marked allocated by bit 63), allocation as `qemu-img map` reports it, and
// qemu-img's refusal of internal snapshots.
func TestExternalDataFile(t *testing.T) {
	needTools(t, "qemu-img", "qemu-io")
	for _, raw := range []bool{false, true} {
		name := map[bool]string{false: "data-file", true: "data-file-raw"}[raw]
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "img.qcow2")
			opts := "data_file=" + filepath.Join(dir, "data.raw")
			if raw {
				opts += ",data_file_raw=on"
			}
			createImage(t, path, opts, "4M")
			qemuIO(t, path, "write -P 1 0 64k", "write -P 2 1M 100k", "write -z 3M 64k")
			img := openFile(t, path, nil)
			require.True(t, img.Header.ExternalDataFile())
			assert.Equal(t, raw, img.Header.RawExternalData())
			v := img.ActiveView()
			assert.Equal(t, qemuMapPresent(t, path), collect(t, img.Allocated(v)))
			c, err := img.Lookup(v, 0)
			require.NoError(t, err)
			assert.Equal(t, ClusterData, c.Kind)
			assert.Equal(t, uint64(0), c.HostOffset)
			assert.True(t, c.Copied)
			for mc, err := range img.Clusters(v) {
				require.NoError(t, err)
				if mc.Kind == ClusterData {
					assert.Equal(t, uint64(mc.GuestOffset), mc.HostOffset)
				}
			}
			assert.Contains(t, runErr(t, "qemu-img", "snapshot", "-c", "s1", path), "not supported")
		})
	}
}
