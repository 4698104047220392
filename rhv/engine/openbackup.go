package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/rhv/imageio"
	"github.com/changedblocks/sdk/rhv/internal/ident"
)

// DefaultCleanupTimeout bounds the finalizing of a transfer and a backup when
// a disk is closed or OpenBackup fails.
const DefaultCleanupTimeout = 5 * time.Minute

// BackupOptions tunes OpenBackup. A nil *BackupOptions means a full backup
// with the defaults.
type BackupOptions struct {
	// Since is the change ID of the previous backup
	// ("rhv:checkpoint:<id>~<guard>", the ChangeID of the disk that backup
	// returned): the backup is then incremental from that checkpoint, once
	// its guard is checked against the engine (see the package doc). The
	// zero ChangeID asks for a full backup.
	Since cbt.ChangeID
	// RequireIncremental makes OpenBackup fail with cbt.ErrChangeIDInvalid,
	// after finalizing the backup, when the engine answers backup mode
	// "full" for the disk of an incremental backup. Without it the disk
	// opens: Changes since Since then fails with cbt.ErrChangeIDInvalid and
	// Changes with a zero base lists the full backup from the same export.
	RequireIncremental bool
	// RequireConsistency fails the backup when the guest cannot be frozen.
	RequireConsistency bool
	// Description is stored with the backup in the engine.
	Description string
	// UseProxy reads extents through the transfer's proxy_url (the engine's
	// imageio proxy, port 54323) instead of transfer_url (the host, port
	// 54322): for clients that cannot reach the hosts.
	UseProxy bool
	// InactivityTimeout is how long the engine keeps an idle transfer
	// before pausing it and removing its ticket; 0 leaves the engine's
	// default (60 s). Raise it when the copy may pause longer.
	InactivityTimeout time.Duration
	// Imageio tunes the imageio client. Nil shares the engine client's HTTP
	// client, and so its certificate checks.
	Imageio *imageio.Options
	// CleanupTimeout bounds the finalizing done by Close or by a failed
	// OpenBackup, which runs on a fresh context so that a cancelled ctx
	// still releases the backup; 0 means DefaultCleanupTimeout.
	CleanupTimeout time.Duration
	// OnReady, when set, is called once the transfer is ready, before
	// OpenBackup returns, with what a copy engine needs to read the data.
	OnReady func(BackupInfo)
	// Logger receives the steps of the flow (info), why a backup is full
	// (warning) and cleanup failures (error); nil is silent.
	Logger *slog.Logger
}

// BackupInfo describes an open backup of one disk.
type BackupInfo struct {
	VMID, DiskID       string
	BackupID           string
	TransferID         string
	FromCheckpointID   string // empty for a full backup
	ToCheckpointID     string // the checkpoint this backup creates
	Mode               string // BackupModeFull or BackupModeIncremental
	FullReason         string // why an incremental backup is full, when it is
	Capacity           int64
	TransferURL        string // the imageio URL extents are read from; it holds the ticket: keep it secret
	ImageioFeatures    []string
	ImageioMaxReaders  int
	TransferUsingProxy bool
}

// OpenBackup starts a backup of one disk of a VM and returns the disk at the
// backup's checkpoint, as a *cbt.Disk of scheme "rhv" whose ChangeID is
// "rhv:checkpoint:<to_checkpoint_id>". The flow is oVirt 4.4+'s:
//
//  1. POST /vms/{vm}/backups with the disk and, for an incremental backup,
//     from_checkpoint_id; wait for phase ready;
//  2. GET /vms/{vm}/backups/{b}/disks for the disk's backup_mode and size;
//  3. POST /imagetransfers for the disk and the backup (download, raw); wait
//     for phase transferring;
//  4. OPTIONS on the transfer URL to check that imageio serves extents.
//
// The disk holds the backup and the transfer until Close, which finalizes
// both (the transfer, then the backup, waiting for succeeded). The caller
// must Close it, also after an error of Changes; Changes does not finalize,
// so that the caller can list again, resume, and read the data through the
// same transfer (OnReady gives its URL). OpenBackup finalizes whatever it
// started when it fails, on a fresh context bounded by CleanupTimeout, even
// when ctx was cancelled.
//
// Changes(since) on the disk answers, from imageio's extents: a zero since,
// the allocated areas (context=zero, the extents not flagged zero); since
// equal to the backup's from-checkpoint, the dirty areas (context=dirty,
// flagged dirty, zeroed ones included); since equal to the disk's own
// checkpoint, nothing. Any other since, or the from-checkpoint when the
// engine made the backup full for this disk (a missing bitmap, a disk new
// to the checkpoint or RAW), is cbt.ErrChangeIDInvalid before any extent:
// list with a zero since from the same disk, or open a new backup. Extents
// are fetched once per context and kept: a backup's export does not change.
//
// A since checkpoint the engine made after the disk's own one is
// cbt.ErrInvalidArgument (a backwards listing).
//
// Errors of OpenBackup: cbt.ErrInvalidArgument (a malformed ID or since of
// another scheme or kind; refused credentials), cbt.ErrChangeIDInvalid (a
// since without a guard, or whose guard does not match the checkpoint the
// engine knows: re-created under its ID, of another VM or disk; the engine
// does not know the since checkpoint, or holds it invalid; with
// RequireIncremental, a full backup mode; an incremental backup that failed,
// which the engine logs as "full VM backup needed"), cbt.ErrBusy (a backup
// is already in progress on the VM (409), a timeout, the engine or imageio
// unreachable), cbt.ErrNotFound (no such VM or disk), cbt.ErrUnsupported
// (the backup or transfer failed, imageio without extents, no permission),
// cbt.ErrCorrupt (answers that break the documented JSON), cbt.ErrNotFound
// also when the engine does not list the checkpoint the backup made; ctx
// errors as they are.
func OpenBackup(ctx context.Context, client *Client, vmID, diskID string, opts *BackupOptions) (d *cbt.Disk, err error) {
	var o BackupOptions
	if opts != nil {
		o = *opts
	}
	if client == nil {
		return nil, fmt.Errorf("%w: rhv: OpenBackup needs an engine client", cbt.ErrInvalidArgument)
	}
	if err := errors.Join(checkID("VM", vmID), checkID("disk", diskID)); err != nil {
		return nil, err
	}
	from, fromGuard := "", ""
	if !o.Since.IsZero() {
		if _, err = CheckpointOf(o.Since); err != nil {
			return nil, err
		}
		from, fromGuard, _ = checkpointOfValue(o.Since.Value())
		if fromGuard == "" {
			return nil, fmt.Errorf("%w: rhv: change ID %q carries no guard (it was made with CheckpointChangeID, or handed out before guards existed): whether checkpoint %s is still the one a backup of disk %s was taken at cannot be proven (a checkpoint can be deleted and made again under the same ID); take a full backup and store the change ID the backup's disk hands out",
				cbt.ErrChangeIDInvalid, ident.Clip(o.Since.String(), 80), from, diskID)
		}
	}
	if o.CleanupTimeout <= 0 {
		o.CleanupTimeout = DefaultCleanupTimeout
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &backupDriver{eng: client, vmID: vmID, diskID: diskID, from: from, fromGuard: fromGuard,
		cleanupTimeout: o.CleanupTimeout, log: log, cache: map[string][]cbt.Extent{}}
	if from != "" {
		// Before anything is started: nothing to release when it fails.
		if err := b.checkSince(ctx); err != nil {
			return nil, err
		}
	}
	defer func() {
		if err != nil {
			if cerr := b.cleanup(); cerr != nil {
				err = fmt.Errorf("%w (and releasing the backup failed: %v)", err, cerr)
			}
		}
	}()
	if err := b.start(ctx, o); err != nil {
		return nil, err
	}
	if b.mode == BackupModeFull && from != "" && o.RequireIncremental {
		return nil, fmt.Errorf("%w: rhv: %s", cbt.ErrChangeIDInvalid, b.fullReason)
	}
	if err := b.openTransfer(ctx, o); err != nil {
		return nil, err
	}
	if o.OnReady != nil {
		o.OnReady(b.info)
	}
	d, err = cbt.NewDisk(b)
	if err != nil {
		// NewDisk closed the driver, which finalized everything.
		return nil, err
	}
	return d, nil
}
