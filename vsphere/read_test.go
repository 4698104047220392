package vsphere_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/changedblocks/sdk/cbt"
)

// TestNotReadable: a vSphere disk lists but does not read through the SDK
// yet, and says so before any read, with what to use instead.
func TestNotReadable(t *testing.T) {
	withVcsim(t, nil, func(e *env) {
		vm, keys := e.newVM(vmSpec{capacity: 8 << 20})
		e.enable(vm)
		d := e.open(e.snapshot(vm), keys[0], nil)
		err := d.Readable()
		assert.ErrorIs(t, err, cbt.ErrUnsupported)
		assert.ErrorContains(t, err, "VDDK")
		_, err = d.ReadAt(t.Context(), make([]byte, 512), 0)
		assert.ErrorIs(t, err, cbt.ErrUnsupported)
	})
}
