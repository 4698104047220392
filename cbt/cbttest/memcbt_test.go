package cbttest_test

import (
	"context"
	"testing"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/cbttest"
	"github.com/changedblocks/sdk/cbt/driver"
	"github.com/changedblocks/sdk/cbt/memcbt"
)

// memHarness runs the suite on memcbt volumes; wrap, when set, replaces the
// driver of every opened disk (the mutants of mutant_test.go).
type memHarness struct {
	capacity int64
	opts     memcbt.Options
	cfg      cbttest.Config
	wrap     func(driver.Disk) driver.Disk
	// wrapVol, when set, replaces the driver of every opened disk and is
	// given the volume too (the data mutants).
	wrapVol func(*memcbt.Volume, driver.Disk) driver.Disk
}

func (h memHarness) Config() cbttest.Config {
	c := h.cfg
	c.Capacity = h.capacity
	c.ForeignIDsInvalid = true
	return c
}

func (h memHarness) NewTarget(t testing.TB) cbttest.Target {
	o := h.opts
	v, err := memcbt.NewVolume(h.capacity, &o)
	if err != nil {
		t.Fatal(err)
	}
	wrap := h.wrap
	if h.wrapVol != nil {
		wrap = func(d driver.Disk) driver.Disk { return h.wrapVol(v, d) }
	}
	return memTarget{v: v, wrap: wrap}
}

type memTarget struct {
	v    *memcbt.Volume
	wrap func(driver.Disk) driver.Disk
}

func (m memTarget) Write(_ context.Context, off, length int64) error { return m.v.Write(off, length) }
func (m memTarget) ChangePoint(context.Context) (cbt.ChangeID, error) {
	return m.v.ChangePoint()
}
func (m memTarget) ResetTracking(context.Context) error { m.v.ResetTracking(); return nil }
func (m memTarget) DeletePoint(_ context.Context, id cbt.ChangeID) error {
	return m.v.DeletePoint(id)
}
func (m memTarget) Open(_ context.Context, at cbt.ChangeID) (*cbt.Disk, error) {
	drv, err := m.v.OpenDriver(at)
	if err != nil {
		return nil, err
	}
	if m.wrap != nil {
		drv = m.wrap(drv)
	}
	return cbt.NewDisk(drv)
}

func TestConformanceMemcbt(t *testing.T) {
	for name, h := range map[string]memHarness{
		// Byte precise, large pages.
		"bytes": {capacity: 1 << 20},
		// 4 KiB granules, sector writes, tiny pages: many pages per listing.
		"granules": {capacity: 4<<20 + 4096, opts: memcbt.Options{Granularity: 4096, PageExtents: 3, PageBytes: 64 << 10},
			cfg: cbttest.Config{WriteAlign: 512}},
		// A capacity that is not a multiple of the granule; one-extent pages.
		"ragged": {capacity: 1<<20 + 1000, opts: memcbt.Options{Granularity: 65536, PageExtents: 1, PageBytes: 1 << 30},
			cfg: cbttest.Config{Seed: 1000}},
	} {
		t.Run(name, func(t *testing.T) { cbttest.RunConformanceTests(t, h) })
	}
}

func (m memTarget) RecreatePoint(_ context.Context, id cbt.ChangeID) (cbt.ChangeID, error) {
	return m.v.RecreatePoint(id)
}
