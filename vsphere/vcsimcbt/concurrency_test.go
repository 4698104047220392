package vcsimcbt

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/changedblocks/sdk/extent"
)

// Paging loops, guest writes and snapshots at the same time (run with -race):
// each loop still sees exactly what was written up to its snapshot.
func TestConcurrentUse(t *testing.T) {
	withEnv(t, &Options{Window: 1 * gib, MaxExtents: 5}, func(e *env) {
		_, base := e.tracked()
		e.writeAll(extent.Extent{Offset: 0, Length: 1}, extent.Extent{Offset: 5 * gib, Length: 1})
		s1 := e.snapshot("s1")
		want, err := e.tr.Written(e.ref(), diskKey, base, &s1)
		require.NoError(t, err)

		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 4 {
			wg.Go(func() {
				var got []extent.Extent
				for off := int64(0); off < 10*gib; {
					res, err := methods.QueryChangedDiskAreas(e.ctx, e.c, &types.QueryChangedDiskAreas{
						This: e.ref(), Snapshot: &s1, DeviceKey: diskKey, StartOffset: off, ChangeId: base,
					})
					if err != nil {
						errs <- err
						return
					}
					for _, a := range res.Returnval.ChangedArea {
						got = append(got, extent.Extent{Offset: a.Start, Length: a.Length})
					}
					off = res.Returnval.StartOffset + res.Returnval.Length
				}
				assert.Empty(t, extent.SubtractSlices(want, got))
			})
		}
		wg.Go(func() {
			for i := range int64(200) {
				if err := e.tr.Write(e.ref(), diskKey, i*mib, 512); err != nil {
					errs <- err
					return
				}
			}
		})
		wg.Go(func() {
			task, err := e.vm.CreateSnapshot(e.ctx, "concurrent", "", false, false)
			if err == nil {
				err = task.Wait(e.ctx)
			}
			if err != nil {
				errs <- err
			}
		})
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
	})
}

// The standalone-host model (simulator.ESX) works the same way.
func TestESXModel(t *testing.T) {
	simulator.Test(func(ctx context.Context, c *vim25.Client) {
		tr, err := New(simulator.Map(ctx), &Options{EnableImmediately: true})
		require.NoError(t, err)
		defer tr.Close()
		tr.Install(c)
		vm := object.NewVirtualMachine(c, simulator.Map(ctx).Any("VirtualMachine").Reference())
		e := &env{t: t, ctx: ctx, c: c, tr: tr, vm: vm}
		_, base := e.tracked()
		e.writeAll(extent.Extent{Offset: 3 * gib, Length: 1})
		s1 := e.snapshot("s1")
		all, _ := e.pageAll(&s1, base, e.capacity(&s1))
		assert.Equal(t, []extent.Extent{{Offset: 3 * gib, Length: DefaultBlockSize}}, all)
	}, simulator.ESX())
}
