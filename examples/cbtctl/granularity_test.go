package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/extent"
)

// TestGranularityOfWhatIsListed: listing since a qcow2 bitmap, the
// granularity printed (JSON and text) is the bitmap's, as the extents are;
// otherwise the image's cluster size.
func TestGranularityOfWhatIsListed(t *testing.T) {
	needQemuTools(t)
	img := filepath.Join(t.TempDir(), "vm.qcow2")
	qemuImg(t, "create", "-q", "-f", "qcow2", "-o", "cluster_size=65536", img, "8M")
	qemuIO(t, img, "write 0 64k")
	qemuImg(t, "bitmap", "--add", "-g", "256k", img, "big")
	qemuImg(t, "bitmap", "--add", "-g", "16k", img, "small")
	qemuIO(t, img, "write 1M 4k", "write 3M 4k")
	truth := []extent.Extent{ext(1*mib, 4*kib), ext(3*mib, 4*kib)}

	for _, tc := range []struct {
		since string
		gran  int64
		human string
	}{
		{"bitmap:big", 256 * kib, "256 KiB"},
		{"qcow2:bitmap:big", 256 * kib, "256 KiB"},
		{"bitmap:small", 16 * kib, "16 KiB"},
	} {
		t.Run(tc.since, func(t *testing.T) {
			r := cbtctl(t, "qemu", "changes", img, "--trust-bare-name", "--since", tc.since, "--format", "json")
			require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
			c := decodeOne(t, r.stdout)
			assert.EqualValues(t, tc.gran, *c.Granularity)
			requireCovers(t, c.Extents, truth, tc.since)
			for _, e := range c.Extents {
				assert.Zero(t, e.Offset%tc.gran, "extents in the bitmap's granules: %v", e)
				assert.Zero(t, e.Length%tc.gran, "extents in the bitmap's granules: %v", e)
			}
			r = cbtctl(t, "qemu", "changes", img, "--trust-bare-name", "--since", tc.since)
			require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
			assert.Contains(t, r.stdout, ", in "+tc.human+" granules); ")
		})
	}
	r := cbtctl(t, "qemu", "changes", img, "--full", "--format", "json")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.EqualValues(t, 64*kib, *decodeOne(t, r.stdout).Granularity, "a full listing: the cluster size")
	r = cbtctl(t, "qemu", "changes", img, "--full")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.True(t, strings.Contains(r.stdout, ", in 64 KiB granules); "), r.stdout)
}
