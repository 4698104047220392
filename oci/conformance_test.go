package oci

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/cbttest"
	"github.com/changedblocks/sdk/cbt/driver"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/scsi/scsimodel"
)

// The conformance suite over the SCSI device model: each listing since a
// base gets a fresh model LUN holding the delta between the base and the
// disk's backup (at the change block size), served through the same
// listing, paging and GET LBA STATUS scan code as a real delta volume:
// for odd targets scanned whole into a bounded list and closed at once, as
// Open does; for even ones scanned page by page, as OpenAttached does. The
// LUNs misbehave in the documented ways (UNIT ATTENTION first, answers cut
// at a few descriptors, scan length ignored, descriptor-format sense), and
// every one must be closed again.
//
// One difference from the cloud: with a zero base the cloud has no delta
// to make and reports the whole disk (TestZeroSinceAndSelf), which the
// suite's precision bound cannot accept; here a zero base is served as the
// delta since the empty volume, so the suite checks the scan of it.

const (
	confCapacity  = 4 << 20
	confBlockSize = 4096 // the change block size: the delta's precision
)

type modelHarness struct {
	mu      sync.Mutex
	n       int
	clock   int // backups taken: each is a second later than the one before
	backups map[string]*confBackup
}

type confBackup struct {
	target  *modelTarget
	seq     int
	deleted bool
	info    backupInfo // what the service says of it
}

func (h *modelHarness) Config() cbttest.Config {
	return cbttest.Config{
		Capacity:          confCapacity,
		WriteAlign:        512,
		Precision:         confBlockSize,
		Workloads:         cbttest.MinWorkloads,
		ForeignIDsInvalid: true,
	}
}

type modelTarget struct {
	h      *modelHarness
	id     int
	mu     sync.Mutex
	writes []extent.Extent
	points int
	open   atomic.Int64 // LUNs opened and not closed
}

func (h *modelHarness) NewTarget(t testing.TB) cbttest.Target {
	h.mu.Lock()
	h.n++
	tg := &modelTarget{h: h, id: h.n}
	h.mu.Unlock()
	t.Cleanup(func() {
		if n := tg.open.Load(); n != 0 {
			t.Errorf("%d delta devices left open after the disks were closed", n)
		}
	})
	return tg
}

func (tg *modelTarget) Write(_ context.Context, off, length int64) error {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	tg.writes = append(tg.writes, extent.Extent{Offset: off, Length: length})
	return nil
}

func (tg *modelTarget) ChangePoint(context.Context) (cbt.ChangeID, error) {
	tg.mu.Lock()
	tg.points++
	id := fmt.Sprintf("ocid1.volumebackup.oc1.phx.t%dp%d", tg.id, tg.points)
	seq := len(tg.writes)
	tg.mu.Unlock()
	tg.h.mu.Lock()
	tg.h.clock++
	info := backupInfo{id: id, size: confCapacity, created: time.Unix(1764496800+int64(tg.h.clock), 0),
		volume: fmt.Sprintf("ocid1.volume.oc1.phx.t%d", tg.id)}
	tg.h.backups[id] = &confBackup{target: tg, seq: seq, info: info}
	tg.h.mu.Unlock()
	return cbt.NewChangeID(Scheme, id)
}

// RecreatePoint deletes the backup and takes a new one: OCI never gives an
// OCID twice, so the old one is gone for good.
func (tg *modelTarget) RecreatePoint(ctx context.Context, id cbt.ChangeID) (cbt.ChangeID, error) {
	if err := tg.DeletePoint(ctx, id); err != nil {
		return cbt.ChangeID{}, err
	}
	return tg.ChangePoint(ctx)
}

func (tg *modelTarget) DeletePoint(_ context.Context, id cbt.ChangeID) error {
	tg.h.mu.Lock()
	defer tg.h.mu.Unlock()
	b, ok := tg.h.backups[id.Value()]
	if !ok {
		return fmt.Errorf("no backup %s", id)
	}
	b.deleted = true
	return nil
}

func (tg *modelTarget) Open(ctx context.Context, at cbt.ChangeID) (*cbt.Disk, error) {
	tg.h.mu.Lock()
	b, ok := tg.h.backups[at.Value()]
	tg.h.mu.Unlock()
	if !ok || b.target != tg {
		return nil, fmt.Errorf("%w: no backup %s", cbt.ErrNotFound, at)
	}
	second := at.Value()
	o := (&Options{MaxPageExtents: 2}).withDefaults()
	open := func(ctx context.Context, since string) (*delta, error) {
		lo := 0
		if since != "" {
			tg.h.mu.Lock()
			base, ok := tg.h.backups[since]
			tg.h.mu.Unlock()
			switch {
			case !ok || base.deleted:
				// What CreateVolume's 404 for the first backup gives.
				return nil, fmt.Errorf("%w: model: backup %s does not exist", cbt.ErrChangeIDInvalid, since)
			}
			// The checks Open's listings make on the two backups, from what
			// the service says of them (volume, creation time).
			if err := checkBases(base.info, b.info); err != nil {
				return nil, err
			}
			lo = base.seq
		}
		tg.mu.Lock()
		delta := extent.AlignSlice(extent.Normalize(append([]extent.Extent(nil), tg.writes[min(lo, b.seq):max(lo, b.seq)]...)), confBlockSize, confCapacity)
		tg.mu.Unlock()
		lun, err := scsimodel.New(confCapacity, 512, delta)
		if err != nil {
			return nil, err
		}
		// Misbehave as real targets do, differently per target.
		lun.UnitAttentions = 1
		lun.MaxDescriptors = 1 + tg.id%4
		lun.IgnoreScanLength = tg.id%3 == 0
		lun.DescriptorSense = tg.id%2 == 0
		tg.open.Add(1)
		s, err := newDeviceDelta(ctx, since, "model", lun, confCapacity)
		if err != nil {
			_ = lun.Close()
			tg.open.Add(-1)
			return nil, err
		}
		release := func() error {
			tg.open.Add(-1)
			return lun.Close()
		}
		if tg.id%2 == 1 {
			// As Open does: scan it whole and tear it down at once. (No
			// merging: the suite bounds false positives by Precision;
			// TestMaxExtents checks merging.)
			err := s.scanAll(ctx, confCapacity, o.MaxExtents, &o)
			if rerr := release(); err == nil {
				err = rerr
			}
			if err != nil {
				return nil, err
			}
			s.dev = nil
			return s, nil
		}
		// As OpenAttached does: scan it page by page; the listing's End
		// closes it.
		s.release = release
		return s, nil
	}
	info := driver.Info{Name: second, Scheme: Scheme, Capacity: confCapacity, Granularity: granularity, ChangeID: second}
	return newDeltaDisk(info, open, o, nil)
}

func TestConformance(t *testing.T) {
	cbttest.RunConformanceTests(t, &modelHarness{backups: map[string]*confBackup{}})
}
