package qemu_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/qemutools"
	"github.com/changedblocks/sdk/qemu"
	"github.com/stretchr/testify/require"
)

// newQcow2 creates a qcow2 image of size in a temporary directory (opts as
// for qemu-img create -o, extra as more arguments) and returns its path.
func newQcow2(t testing.TB, name, opts, size string, extra ...string) string {
	t.Helper()
	qemutools.Need(t, "qemu-img", "qemu-io")
	p := filepath.Join(t.TempDir(), name)
	qemutools.Create(t, p, opts, size, extra...)
	return p
}

// snapshot runs qemu-img snapshot -c.
func snapshot(t testing.TB, path, name string) {
	t.Helper()
	qemutools.QemuImg(t, "snapshot", "-c", name, path)
}

// changeID returns the change ID of a point.
func changeID(t testing.TB, p qemu.Point) cbt.ChangeID {
	t.Helper()
	id, err := p.ChangeID()
	require.NoError(t, err)
	return id
}

// snapID returns the change ID a snapshot of the image hands out.
func snapID(t testing.TB, path, name string) cbt.ChangeID {
	t.Helper()
	im, err := qemu.OpenImage(path, nil)
	require.NoError(t, err)
	defer im.Close()
	snaps, err := im.Snapshots()
	require.NoError(t, err)
	for _, s := range snaps {
		if s.Name == name {
			return changeID(t, s.Point)
		}
	}
	t.Fatalf("%s has no snapshot %q", path, name)
	return cbt.ChangeID{}
}

// openAt opens the disk at a point, closed at the end of the test.
func openAt(t testing.TB, path string, at qemu.Point, opts *qemu.Options) *cbt.Disk {
	t.Helper()
	d, err := qemu.Open(path, at, opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, d.Close()) })
	return d
}

// listChanges collects a whole listing.
func listChanges(t testing.TB, d *cbt.Disk, since cbt.ChangeID) ([]extent.Extent, error) {
	t.Helper()
	return cbt.Collect(d.Changes(context.Background(), since, nil))
}

// mustList collects a listing that must succeed.
func mustList(t testing.TB, d *cbt.Disk, since cbt.ChangeID) []extent.Extent {
	t.Helper()
	got, err := listChanges(t, d, since)
	require.NoError(t, err)
	return got
}

// ext is a shorthand for an extent.
func ext(off, length int64) extent.Extent { return extent.Extent{Offset: off, Length: length} }

// trusted opens disks that accept bare names and paths as bases: for tests
// of the listing itself, whose names are never reused (the guards have
// their own tests, recreate_test.go).
var trusted = &qemu.Options{TrustUnguarded: true}

const (
	kiB = int64(1) << 10
	miB = int64(1) << 20
)
