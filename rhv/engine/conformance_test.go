package engine

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/cbttest"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/rhv/internal/ovirtfake"
	"github.com/stretchr/testify/require"
)

// The conformance suite over OpenBackup and the fake engine and imageio.
//
// A change point is a backup: ChangePoint finalizes the backup the target
// holds, opens a new one from the last checkpoint (full for the first) and
// returns its checkpoint; Open hands that open backup over. This is the only
// way a checkpoint comes to exist in oVirt, and a backup answers only the
// bases zero, its from-checkpoint and its own checkpoint, and only while it
// is open (one per VM at a time). So:
//   - Config.MaxRounds is 1: the suite's randomized workloads list every
//     earlier point from a later one, which needs one open backup per point
//     at once; TestBackupRandomizedIncrementals covers chains of
//     incrementals instead;
//   - the targets are no Deleter: the engine refuses to delete a checkpoint
//     while the backup reading from it runs;
//   - they are Resetters: a reset drops the bitmaps (the unclean-shutdown
//     failure), after which the engine makes the next backup full.
//
// Each target checks, when the test ends, that no backup and no transfer was
// left running.

type engHarness struct{}

func (engHarness) Config() cbttest.Config {
	return cbttest.Config{
		Capacity:          4 << 20,
		WriteAlign:        512,
		MaxRounds:         1,
		ForeignIDsInvalid: true,
		Workloads:         cbttest.MinWorkloads,
		// A backup makes its checkpoint when it starts; TestCheckpointBackwards
		// refuses a base the engine lists after the backup's checkpoint.
		NewestPointOnly: true,
	}
}

func (engHarness) NewTarget(t testing.TB) cbttest.Target {
	f := ovirtfake.New(t, false)
	vm, disk := f.AddVM(4 << 20)
	c := engClient(t, f, nil)
	tg := &engTarget{f: f, c: c, vm: vm, disk: disk}
	t.Cleanup(func() {
		tg.mu.Lock()
		if tg.held != nil {
			if err := tg.held.Close(); err != nil {
				t.Errorf("closing the held backup: %v", err)
			}
		}
		tg.mu.Unlock()
		backups, transfers := f.Active()
		if len(backups)+len(transfers) > 0 {
			t.Errorf("left running: backups %v, transfers %v", backups, transfers)
		}
	})
	return tg
}

type engTarget struct {
	f        *ovirtfake.Fake
	c        *Client
	vm, disk string

	mu   sync.Mutex
	held *cbt.Disk    // the open backup of the newest point, until Open hands it over
	last cbt.ChangeID // the newest point
}

func (e *engTarget) Write(_ context.Context, off, length int64) error {
	e.f.Write(e.vm, off, length)
	return nil
}

func (e *engTarget) ChangePoint(ctx context.Context) (cbt.ChangeID, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.held != nil {
		if err := e.held.Close(); err != nil {
			return cbt.ChangeID{}, err
		}
		e.held = nil
	}
	d, err := OpenBackup(ctx, e.c, e.vm, e.disk, &BackupOptions{Since: e.last})
	if err != nil {
		return cbt.ChangeID{}, err
	}
	id, err := d.ChangeID()
	if err != nil {
		_ = d.Close()
		return cbt.ChangeID{}, err
	}
	e.held, e.last = d, id
	return e.last, nil
}

func (e *engTarget) Open(_ context.Context, at cbt.ChangeID) (*cbt.Disk, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.held == nil || e.last != at {
		return nil, fmt.Errorf("the fake serves only the backup of its newest point %s, not %s", e.last, at)
	}
	d := e.held
	e.held = nil
	return d, nil
}

func (e *engTarget) ResetTracking(context.Context) error {
	e.f.LostBitmaps(e.vm)
	return nil
}

func TestConformanceBackup(t *testing.T) {
	cbttest.RunConformanceTests(t, engHarness{})
}

// Chains of incremental backups against the ranges written: each backup
// from the previous checkpoint reports every byte written in between (and
// nothing else), and a zero base everything written.
func TestBackupRandomizedIncrementals(t *testing.T) {
	const capacity = 1<<20 + 4096
	seeds := 60
	if testing.Short() {
		seeds = 20
	}
	for seed := range seeds {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			f := ovirtfake.New(t, false)
			vm, disk := f.AddVM(capacity)
			c := engClient(t, f, &Options{PollInterval: time.Microsecond})
			rng := uint64(seed)*0x9e3779b97f4a7c15 + 1
			next := func(n int64) int64 {
				rng ^= rng << 13
				rng ^= rng >> 7
				rng ^= rng << 17
				return int64(rng % uint64(n))
			}
			var all []extent.Extent
			since := cbt.ChangeID{}
			for round := range 4 {
				var between []extent.Extent
				for range next(6) {
					off := next(capacity)
					e := extent.Extent{Offset: off, Length: 1 + next(min(capacity-off, 200000))}
					f.Write(vm, e.Offset, e.Length)
					between = append(between, e)
				}
				all = append(all, between...)
				d, err := OpenBackup(t.Context(), c, vm, disk, &BackupOptions{Since: since})
				require.NoError(t, err, "round %d", round)
				if !since.IsZero() {
					require.Equal(t, nonNil(extent.Normalize(append([]extent.Extent(nil), between...))), nonNil(engList(t, d, since)), "round %d since the previous backup", round)
				}
				require.Equal(t, nonNil(extent.Normalize(append([]extent.Extent(nil), all...))), nonNil(engList(t, d, cbt.ChangeID{})), "round %d full", round)
				require.NoError(t, d.Close())
				since = cbttest.MustChangeID(t, d)
			}
			engNoLeak(t, f)
		})
	}
}

func nonNil(e []extent.Extent) []extent.Extent {
	if e == nil {
		return []extent.Extent{}
	}
	return e
}
