package cbttest

import (
	"testing"

	"github.com/changedblocks/sdk/cbt"
)

// MustChangeID returns d's change ID, failing t when d has none.
func MustChangeID(t testing.TB, d *cbt.Disk) cbt.ChangeID {
	t.Helper()
	id, err := d.ChangeID()
	if err != nil {
		t.Fatalf("change ID of %s: %v", d.Name(), err)
	}
	return id
}
