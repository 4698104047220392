package cbttest

import (
	"context"
	"testing"

	"github.com/changedblocks/sdk/cbt"
)

// Harness makes disks of one platform for the suite.
type Harness interface {
	// Config returns what the platform can do and how precise it is.
	Config() Config
	// NewTarget creates a fresh disk of cfg.Capacity bytes with change
	// tracking on and nothing written. It registers its own cleanup with
	// t.Cleanup and fails t (t.Fatal) when it cannot.
	NewTarget(t testing.TB) Target
}

// Target is one disk under test.
type Target interface {
	// Write writes length bytes at off with the platform's own tools (data
	// the guest would write). Offsets and lengths are multiples of
	// Config.WriteAlign.
	Write(ctx context.Context, off, length int64) error
	// ChangePoint takes a point in time (snapshot, bitmap, checkpoint) and
	// returns its change ID.
	ChangePoint(ctx context.Context) (cbt.ChangeID, error)
	// Open returns the disk at a point ChangePoint returned. The suite closes it.
	Open(ctx context.Context, at cbt.ChangeID) (*cbt.Disk, error)
}

// Resetter is implemented by targets whose tracking can be reset (a CBT
// reset, a bitmap lost or removed): afterwards every change ID handed out
// before must give cbt.ErrChangeIDInvalid as a base.
type Resetter interface {
	ResetTracking(ctx context.Context) error
}

// Deleter is implemented by targets whose change points can be deleted
// (snapshot or bitmap removal): a deleted point must give
// cbt.ErrChangeIDInvalid as a base.
type Deleter interface {
	DeletePoint(ctx context.Context, id cbt.ChangeID) error
}

// Recreator is implemented by targets whose change points can be deleted
// and made again under the same name or identity, as far as the platform
// allows: a snapshot taken again under the same name, a checkpoint of the
// same name, a bitmap removed and added again, a backup taken again.
// RecreatePoint deletes the point id names, makes the new one at once (it
// includes every write made so far) and returns the new point's change ID.
// The old change ID must then never give a listing that misses a write made
// after the old point: it is refused with cbt.ErrChangeIDInvalid, or, on a
// platform whose change IDs name a point of a tracking history rather than
// an object (Config.RecreatedBaseStaysValid), lists correctly.
type Recreator interface {
	RecreatePoint(ctx context.Context, id cbt.ChangeID) (cbt.ChangeID, error)
}

// MinWorkloads is the fewest randomized workloads the suite runs.
const MinWorkloads = 200

// Config describes a platform to the suite.
type Config struct {
	// Capacity of the disks the suite creates, in bytes. Default 4 MiB.
	Capacity int64
	// WriteAlign: the suite writes whole multiples of it (512 for tools that
	// write sectors). Default 1.
	WriteAlign int64
	// Precision bounds false positives: nothing may be reported outside the
	// written ranges widened to multiples of Precision (a qcow2 cluster, a
	// bitmap granule). 0 means the disk's Granularity.
	Precision int64
	// Workloads is the number of randomized workloads: default 1000, or
	// MinWorkloads in -short mode; never fewer than MinWorkloads.
	Workloads int
	// MaxRounds bounds the change points per workload (default 4) and
	// MaxWrites the writes between two points (default 8).
	MaxRounds, MaxWrites int
	// ForeignIDsInvalid says that a change ID taken on one disk is refused
	// with cbt.ErrChangeIDInvalid by another disk of the platform (true where
	// IDs carry a disk identity, as vSphere's and memcbt's do; false where
	// they are names, as qcow2 snapshot names are).
	ForeignIDsInvalid bool
	// RecreatedBaseStaysValid says that a change ID stays a correct base
	// after the object its point was taken with is deleted and made again
	// under the same name (Recreator): the ID names a point of the disk's
	// tracking history, which deleting the object does not touch (vSphere: a
	// changeId stays valid after its snapshot is removed, and a snapshot
	// taken again gets a new one). The suite then checks that a listing since
	// the old ID covers every write after the old point instead of asking
	// for cbt.ErrChangeIDInvalid. Platforms whose change IDs name an object
	// (a qcow2 bitmap or snapshot, a libvirt checkpoint, an OCI backup) leave
	// it false: for them the old ID must be refused.
	RecreatedBaseStaysValid bool
	// NewestPointOnly says that a disk can be opened only at the newest
	// point, as a backup that makes its point when it starts (oVirt's
	// incremental backups) is: no disk is ever at a point earlier than a base
	// the platform knows, so a backwards listing cannot be set up and
	// SinceLaterPoint is skipped. The platform's own tests must still refuse
	// a base later than the disk's point (ErrInvalidArgument).
	NewestPointOnly bool
	// Seed is the first seed; workloads use Seed, Seed+1, ... Default 1.
	Seed uint64
}

func (c Config) withDefaults() Config {
	if c.Capacity <= 0 {
		c.Capacity = 4 << 20
	}
	if c.WriteAlign <= 0 {
		c.WriteAlign = 1
	}
	if c.Workloads <= 0 && !testing.Short() {
		c.Workloads = 1000
	}
	c.Workloads = max(c.Workloads, MinWorkloads)
	if c.MaxRounds <= 0 {
		c.MaxRounds = 4
	}
	if c.MaxWrites <= 0 {
		c.MaxWrites = 8
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	return c
}
