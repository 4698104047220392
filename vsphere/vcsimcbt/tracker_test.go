package vcsimcbt

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/changedblocks/sdk/extent"
)

func TestNewValidatesOptions(t *testing.T) {
	simulator.Test(func(ctx context.Context, _ *vim25.Client) {
		reg := simulator.Map(ctx)
		for _, o := range []Options{
			{Window: -1}, {MaxExtents: -1}, {BlockSize: -4096},
			{BlockSize: 3000}, {Window: 100 * kib, BlockSize: 64 * kib},
		} {
			_, err := New(reg, &o)
			assert.Error(t, err, "%+v", o)
		}
		_, err := New(nil, nil)
		assert.Error(t, err)
		tr, err := New(reg, nil)
		require.NoError(t, err)
		defer tr.Close()
		assert.Equal(t, Options{Window: DefaultWindow, MaxExtents: DefaultMaxExtents, BlockSize: DefaultBlockSize}, tr.Options())
	})
}

func TestWriteErrors(t *testing.T) {
	withEnv(t, nil, func(e *env) {
		assert.ErrorIs(t, e.tr.Write(e.ref(), 999, 0, 1), ErrUnknownDisk)
		assert.ErrorIs(t, e.tr.Write(types.ManagedObjectReference{Type: "VirtualMachine", Value: "vm-0"}, diskKey, 0, 1), ErrUnknownDisk)
		for _, w := range [][2]int64{{-1, 1}, {0, 0}, {0, -1}, {10 * gib, 1}, {10*gib - 1, 2}, {1, 1 << 62}} {
			assert.ErrorIs(t, e.tr.Write(e.ref(), diskKey, w[0], w[1]), ErrOutOfRange, "%v", w)
		}
		assert.NoError(t, e.tr.Write(e.ref(), diskKey, 10*gib-1, 1))
		assert.ErrorIs(t, e.tr.WriteAll(e.ref(), diskKey, []extent.Extent{{Offset: 0, Length: 1}, {Offset: 0, Length: 0}}), ErrOutOfRange)
		_, err := e.tr.Reset(e.ref(), diskKey)
		assert.ErrorIs(t, err, ErrNotTracked)
		_, err = e.tr.Written(e.ref(), diskKey, Star, nil)
		assert.ErrorIs(t, err, ErrRejected, "nil snapshot on a powered-on VM is rejected as the query would be")
	})
}

// Every other method goes to vcsim unchanged; Close stops stamping.
func TestPassThroughAndClose(t *testing.T) {
	withEnv(t, &Options{EnableImmediately: true}, func(e *env) {
		e.tr.Close()
		e.setCBT(true)
		s := e.snapshot("after-close")
		assert.Empty(t, changeIDOf(e.disk(&s)))
	})
}
