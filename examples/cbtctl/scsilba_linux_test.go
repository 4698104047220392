//go:build linux

package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The real opener on files that are no SCSI device.
func TestSCSILBAStatusNotADevice(t *testing.T) {
	p := filepath.Join(t.TempDir(), "disk.img")
	require.NoError(t, os.WriteFile(p, make([]byte, 512), 0o600))
	r := cbtctl(t, "scsi", "lba-status", p)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "not supported")
	assert.Contains(t, r.stderr, "copy the whole disk")
	r = cbtctl(t, "scsi", "lba-status", filepath.Join(t.TempDir(), "sg9"))
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "check the device path")
}
