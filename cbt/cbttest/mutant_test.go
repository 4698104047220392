package cbttest_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/cbttest"
	"github.com/changedblocks/sdk/cbt/driver"
	"github.com/changedblocks/sdk/cbt/memcbt"
	"github.com/changedblocks/sdk/extent"
	"github.com/stretchr/testify/assert"
)

// mutant wraps a correct driver and breaks it in one way.
type mutant struct {
	driver.Disk
	page func(req driver.Request, exts []extent.Extent, next int64, err error) ([]extent.Extent, int64, error)
}

func (m mutant) ChangedExtents(ctx context.Context, req driver.Request, buf []extent.Extent) ([]extent.Extent, int64, error) {
	exts, next, err := m.Disk.ChangedExtents(ctx, req, buf)
	return m.page(req, exts, next, err)
}

// mutants are drivers with one bug each, and a part of the message the suite
// must fail with.
var mutants = map[string]struct {
	page func(req driver.Request, exts []extent.Extent, next int64, err error) ([]extent.Extent, int64, error)
	want string
}{
	// Loses the last extent of every page: the classic paging bug.
	"drop-last": {func(_ driver.Request, exts []extent.Extent, next int64, err error) ([]extent.Extent, int64, error) {
		if len(exts) > 0 {
			exts = exts[:len(exts)-1]
		}
		return exts, next, err
	}, "UNDER-REPORT"},
	// Reports one byte too few at the end of each extent.
	"short-by-one": {func(_ driver.Request, exts []extent.Extent, next int64, err error) ([]extent.Extent, int64, error) {
		out := exts[:0]
		for _, e := range exts {
			if e.Length > 1 {
				e.Length--
				out = append(out, e)
			}
		}
		return out, next, err
	}, "UNDER-REPORT"},
	// Stops after the first page, as the vSphere peer did.
	"first-page-only": {func(req driver.Request, exts []extent.Extent, next int64, err error) ([]extent.Extent, int64, error) {
		if req.Offset > 0 {
			return nil, req.End, err
		}
		return exts, next, err
	}, "UNDER-REPORT"},
	// Ignores the base and reports every extent it would for a full backup.
	"ignores-since": {nil, "outside the written ranges"},
	// Treats a stale base as a full listing instead of refusing it.
	"accepts-stale": {func(req driver.Request, exts []extent.Extent, next int64, err error) ([]extent.Extent, int64, error) {
		if errors.Is(err, cbt.ErrChangeIDInvalid) {
			return []extent.Extent{{Offset: 0, Length: 1}}, req.End, nil
		}
		return exts, next, err
	}, "want cbt.ErrChangeIDInvalid"},
	// Lists backwards (a base later than the disk's point) instead of
	// refusing it.
	"accepts-backwards": {func(req driver.Request, exts []extent.Extent, next int64, err error) ([]extent.Extent, int64, error) {
		if errors.Is(err, cbt.ErrInvalidArgument) && strings.Contains(err.Error(), "later than") {
			return nil, req.End, nil
		}
		return exts, next, err
	}, "want cbt.ErrInvalidArgument (the base is later"},
	// Reads the live volume instead of the point (dataMutants).
	"reads-live": {nil, "reads differently than when the point was taken"},
	// Each point reads one byte that no listing reports as changed
	// differently (dataMutants).
	"unlisted-byte": {nil, "UNDER-REPORT in data"},
	// Lists the whole disk as reading zeros (dataMutants).
	"zeros-everywhere": {nil, "WRONG ZERO AREA"},
}

// dataMutants are readers with one bug each.
var dataMutants = map[string]func(*memcbt.Volume, driver.Disk) driver.Disk{
	"reads-live": func(v *memcbt.Volume, d driver.Disk) driver.Disk {
		live, err := v.OpenDriver(cbt.ChangeID{})
		if err != nil {
			panic(err)
		}
		return reader{d, live.(driver.Reader).ReadAt}
	},
	"zeros-everywhere": func(_ *memcbt.Volume, d driver.Disk) driver.Disk {
		return allZeros{reader{d, d.(driver.Reader).ReadAt}}
	},
	"unlisted-byte": func(_ *memcbt.Volume, d driver.Disk) driver.Disk {
		r := d.(driver.Reader)
		last, flip := d.Info().Capacity-1, byte(len(d.Info().ChangeID)*31+int(d.Info().ChangeID[len(d.Info().ChangeID)-1]))
		return reader{d, func(ctx context.Context, p []byte, off int64) error {
			err := r.ReadAt(ctx, p, off)
			if off+int64(len(p)) > last {
				p[last-off] ^= flip
			}
			return err
		}}
	},
}

// allZeros says every area reads zeros.
type allZeros struct{ reader }

func (allZeros) ZeroExtents(_ context.Context, req driver.Request, buf []extent.Extent) ([]extent.Extent, int64, error) {
	return append(buf[:0], extent.Extent{Offset: req.Offset, Length: req.End - req.Offset}), req.End, nil
}

// reader is a driver with another ReadAt.
type reader struct {
	driver.Disk
	read func(ctx context.Context, p []byte, off int64) error
}

func (r reader) ReadAt(ctx context.Context, p []byte, off int64) error { return r.read(ctx, p, off) }

const mutantEnv = "CBTTEST_MUTANT"

// TestMutantChild runs the suite on one mutant when started by TestMutants.
func TestMutantChild(t *testing.T) {
	name := os.Getenv(mutantEnv)
	if name == "" {
		t.Skip("runs only as the child process of TestMutants")
	}
	m := mutants[name]
	wrap := func(d driver.Disk) driver.Disk { return mutant{Disk: d, page: m.page} }
	if name == "ignores-since" {
		wrap = func(d driver.Disk) driver.Disk { return ignoreSince{d} }
	}
	h := memHarness{capacity: 1 << 20, opts: memcbt.Options{PageExtents: 2, PageBytes: 256 << 10}, wrap: wrap}
	if dm := dataMutants[name]; dm != nil {
		h.wrap, h.wrapVol = nil, dm
	}
	cbttest.RunConformanceTests(t, h)
}

type ignoreSince struct{ driver.Disk }

func (d ignoreSince) ChangedExtents(ctx context.Context, req driver.Request, buf []extent.Extent) ([]extent.Extent, int64, error) {
	req.Since = ""
	return d.Disk.ChangedExtents(ctx, req, buf)
}

// TestMutants proves the suite catches broken drivers: each mutant must make
// it fail, with the expected message.
func TestMutants(t *testing.T) {
	if os.Getenv(mutantEnv) != "" {
		t.Skip("child process")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for name, m := range mutants {
		t.Run(name, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), exe, "-test.run=^TestMutantChild$", "-test.short", "-test.count=1")
			cmd.Env = append(os.Environ(), mutantEnv+"="+name)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("the suite passed a broken driver (%v):\n%s", err, out)
			}
			assert.Contains(t, string(out), m.want)
		})
	}
}
