package oci

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/changedblocks/sdk/cbt"
)

// Options says where the delta volume is made and attached, and how long to
// wait for the service. Target fields are required; zero durations and
// counts mean the defaults given.
type Options struct {
	// CompartmentID is the compartment the delta volume is created in.
	// Required.
	CompartmentID string
	// AvailabilityDomain is the availability domain of the delta volume: the
	// instance's (such as "Uocm:PHX-AD-1"). Required.
	AvailabilityDomain string
	// InstanceID is the Linux instance the delta volume is attached to by
	// iSCSI: the one this program runs on. Required.
	InstanceID string
	// ChangeBlockSize is the delta's change block size in bytes: a power of
	// two from 4096 to 1048576. 0 means 4096, the service's default.
	ChangeBlockSize int64
	// DisplayName starts the name of the delta volume and its attachment,
	// followed by "-<random>" (unique to one listing); default "cbt-delta".
	// Volumes of this package are also tagged (freeform tag "cbt-delta")
	// so that a leftover can be found.
	DisplayName string

	// Connector logs in to the attached volume and returns its block device
	// path. nil means IscsiadmConnector with its defaults.
	Connector Connector
	// OpenDevice opens the block device the Connector returned for SCSI
	// commands. nil means SG_IO on Linux (root or CAP_SYS_RAWIO is needed for
	// GET LBA STATUS(32)).
	OpenDevice func(path string) (Device, error)

	// PollInterval is the pause between two reads of a volume or attachment
	// that is not ready yet. Default 5 s.
	PollInterval time.Duration
	// WaitTimeout bounds each wait for a state (volume AVAILABLE, attachment
	// ATTACHED or DETACHED). Default 30 min: a delta volume is restored from
	// backups before it is AVAILABLE.
	WaitTimeout time.Duration
	// BusyTimeout bounds the wait for a backup that is not AVAILABLE yet (the
	// service answers 409 Conflict). Default 10 min; then cbt.ErrBusy.
	BusyTimeout time.Duration
	// Retries is the number of retries of a call that failed with 429 or 5xx
	// (but 501) or a network error, with exponential backoff from RetryBackoff
	// up to 30 s. Default 6 retries, from 1 s.
	Retries      int
	RetryBackoff time.Duration
	// CleanupTimeout bounds the teardown (disconnect, detach, delete), which
	// runs with a fresh context even after the caller's is cancelled.
	// Default 10 min.
	CleanupTimeout time.Duration
	// MaxExtents bounds the extents of a delta held in memory between the
	// scan and the caller's iteration (16 bytes each). A delta with more is
	// reported coarser: neighbours are merged across the smallest gaps
	// needed, and the unchanged bytes between them reported as changed;
	// no changed byte is ever left out. Default 1<<20.
	MaxExtents int
	// MaxPageExtents bounds the extents of one page. Default 4096.
	MaxPageExtents int

	// Logger receives debug records of each step and warnings of a failed
	// teardown. nil is silent. CHAP secrets are never logged.
	Logger *slog.Logger
}

// withDefaults returns o with defaults filled in.
func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.ChangeBlockSize == 0 {
		c.ChangeBlockSize = DefaultChangeBlockSize
	}
	if c.Connector == nil {
		c.Connector = &IscsiadmConnector{}
	}
	if c.OpenDevice == nil {
		c.OpenDevice = openSGIO
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.PollInterval, 5*time.Second)
	def(&c.WaitTimeout, 30*time.Minute)
	def(&c.BusyTimeout, 10*time.Minute)
	def(&c.RetryBackoff, time.Second)
	def(&c.CleanupTimeout, 10*time.Minute)
	if c.Retries <= 0 {
		c.Retries = 6
	}
	if c.MaxExtents <= 0 {
		c.MaxExtents = 1 << 20
	}
	if c.MaxPageExtents <= 0 {
		c.MaxPageExtents = 4096
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// validate checks the fields the lifecycle needs.
func (o *Options) validate() error {
	switch {
	case o.CompartmentID == "":
		return fmt.Errorf("%w: oci: Options.CompartmentID is required: the compartment to create the delta volume in", cbt.ErrInvalidArgument)
	case o.AvailabilityDomain == "":
		return fmt.Errorf("%w: oci: Options.AvailabilityDomain is required: the availability domain of the instance", cbt.ErrInvalidArgument)
	case o.InstanceID == "":
		return fmt.Errorf("%w: oci: Options.InstanceID is required: the instance to attach the delta volume to", cbt.ErrInvalidArgument)
	}
	return checkBlockSize(o.ChangeBlockSize)
}
