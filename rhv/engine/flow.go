package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/rhv/imageio"
)

// start starts the backup, waits for ready and reads its checkpoint and the
// disk's capacity and mode.
func (b *backupDriver) start(ctx context.Context, o BackupOptions) error {
	if err := b.startBackup(ctx, o); err != nil {
		return err
	}
	if err := b.readCheckpoint(ctx); err != nil {
		return err
	}
	if err := b.readDisk(ctx); err != nil {
		return err
	}
	b.name = "vm/" + b.vmID + "/disk/" + b.diskID + "@backup/" + b.backupID
	return nil
}

// startBackup starts the backup and waits until it is ready.
func (b *backupDriver) startBackup(ctx context.Context, o BackupOptions) error {
	what := "VM " + b.vmID
	// The backup gets its ID from here, so that a lost answer (a cancelled
	// ctx, a broken connection) still leaves an ID to finalize.
	id, err := newUUID()
	if err != nil {
		return err
	}
	b.backupID = id
	started, err := b.eng.StartBackup(ctx, b.vmID, BackupRequest{ID: id, FromCheckpointID: b.from, DiskIDs: []string{b.diskID},
		RequireConsistency: o.RequireConsistency, Description: o.Description})
	if started != nil && started.ID != "" {
		b.backupID = started.ID // what the engine started, also when it is not the ID asked for
	}
	if err != nil {
		if refused(err) {
			b.backupID = "" // nothing was started
		}
		return b.checkpointError(err, "starting a backup of "+what)
	}
	b.log.InfoContext(ctx, "rhv: backup started", "vm", b.vmID, "backup", b.backupID, "from_checkpoint", b.from)
	eb, err := b.eng.WaitBackup(ctx, b.vmID, b.backupID, BackupReady)
	if err != nil {
		if eb != nil && eb.Phase == BackupFailed {
			b.finalized = true // a failed backup needs no finalize
			if b.from != "" {
				return fmt.Errorf("%w: rhv: incremental backup %s of %s from checkpoint %s failed: the engine could not redefine the checkpoints or find their bitmaps (it logs \"full VM backup needed\"): %w",
					cbt.ErrChangeIDInvalid, b.backupID, what, b.from, err)
			}
		}
		return err
	}
	if eb.ToCheckpointID == "" {
		return fmt.Errorf("%w: rhv: backup %s of %s is ready without a to_checkpoint_id: the disk is not enabled for incremental backup (it must be qcow2 with backup=incremental), so no change ID can be handed out",
			cbt.ErrUnsupported, b.backupID, what)
	}
	if _, err := CheckpointChangeID(eb.ToCheckpointID); err != nil {
		return fmt.Errorf("%w: rhv: backup %s: to_checkpoint_id: %w", cbt.ErrCorrupt, b.backupID, err)
	}
	b.to = eb.ToCheckpointID
	return nil
}

// readCheckpoint reads the backup's own checkpoint, whose creation date
// guards the change ID the disk hands out.
func (b *backupDriver) readCheckpoint(ctx context.Context) error {
	cp, err := b.eng.Checkpoint(ctx, b.vmID, b.to)
	if err != nil {
		return fmt.Errorf("rhv: backup %s of VM %s: reading its checkpoint %s, whose creation date guards the change ID handed out: %w", b.backupID, b.vmID, b.to, err)
	}
	b.toGuard = checkpointGuard(b.vmID, b.diskID, b.to, int64(cp.CreationDate))
	return nil
}

// readDisk reads the disk's capacity and backup mode in the backup.
func (b *backupDriver) readDisk(ctx context.Context) error {
	disks, err := b.eng.BackupDisks(ctx, b.vmID, b.backupID)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(disks, func(d Disk) bool { return d.ID == b.diskID })
	if i < 0 {
		return fmt.Errorf("%w: rhv: backup %s of VM %s does not list disk %s", cbt.ErrCorrupt, b.backupID, b.vmID, b.diskID)
	}
	disk := disks[i]
	b.capacity = int64(disk.ProvisionedSize)
	if b.capacity <= 0 {
		ed, err := b.eng.Disk(ctx, b.diskID)
		if err != nil {
			return err
		}
		b.capacity = int64(ed.ProvisionedSize)
	}
	if b.capacity <= 0 {
		return fmt.Errorf("%w: rhv: disk %s has no provisioned_size", cbt.ErrCorrupt, b.diskID)
	}
	b.mode = strings.ToLower(disk.BackupMode)
	switch {
	case b.from == "":
		b.mode = BackupModeFull
	case b.mode == BackupModeFull:
		b.fullReason = fmt.Sprintf("the engine made backup %s of disk %s full although it was asked for an incremental from checkpoint %s: the checkpoint's bitmap is missing on the disk (lost after an unclean shutdown or a failed merge), the disk is new to the checkpoint, or it is RAW; take a full backup (list with a zero since) and keep its change ID",
			b.backupID, b.diskID, b.from)
		b.log.WarnContext(ctx, "rhv: incremental backup fell back to full", "vm", b.vmID, "disk", b.diskID, "backup", b.backupID, "reason", b.fullReason)
	case b.mode == "":
		// Engines before 4.5 do not report a mode; they refuse to mix full
		// and incremental disks, so the disk is incremental. A ticket
		// without dirty extents is still caught when they are read.
		b.mode = BackupModeIncremental
	case b.mode != BackupModeIncremental:
		return fmt.Errorf("%w: rhv: backup %s: disk %s has backup_mode %q", cbt.ErrCorrupt, b.backupID, b.diskID, disk.BackupMode)
	}
	return nil
}

// refused reports whether err is the engine's refusal (an answer below
// 500): nothing was started.
func refused(err error) bool {
	var herr *HTTPError
	return errors.As(err, &herr) && herr.Status < 500
}

// checkSince checks the from-checkpoint's guard against the engine: the
// checkpoint must still exist for the VM, and its guard (VM, disk, ID,
// creation date) must be the one the change ID carries.
func (b *backupDriver) checkSince(ctx context.Context) error {
	cp, err := b.eng.Checkpoint(ctx, b.vmID, b.from)
	if errors.Is(err, cbt.ErrNotFound) {
		return fmt.Errorf("%w: rhv: the engine no longer knows checkpoint %s for VM %s (it was removed, or belongs to another VM), so what changed since it is unknown; take a full backup: %w",
			cbt.ErrChangeIDInvalid, b.from, b.vmID, err)
	}
	if err != nil {
		return err
	}
	if g := checkpointGuard(b.vmID, b.diskID, b.from, int64(cp.CreationDate)); g != b.fromGuard {
		return fmt.Errorf("%w: rhv: checkpoint %s of VM %s is not the one the change ID names: it was handed out for a backup of another VM or disk, or the checkpoint was deleted and made again under the same ID since (the engine made the one it knows at %d ms); take a full backup",
			cbt.ErrChangeIDInvalid, b.from, b.vmID, int64(cp.CreationDate))
	}
	return nil
}

// newUUID returns a random (version 4) UUID.
func newUUID() (string, error) {
	var u [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		return "", fmt.Errorf("%w: rhv: no randomness for a backup ID: %v", cbt.ErrUnsupported, err)
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}

// checkpointError turns an engine refusal that names the from-checkpoint
// (unknown, invalid) into cbt.ErrChangeIDInvalid.
func (b *backupDriver) checkpointError(err error, doing string) error {
	var herr *HTTPError
	if b.from == "" || !errors.As(err, &herr) {
		return err
	}
	if herr.Status != 400 && herr.Status != 404 && herr.Status != 409 {
		return err
	}
	text := strings.ToLower(herr.Detail + " " + herr.Reason + " " + herr.Message)
	if !strings.Contains(text, "checkpoint") {
		return err
	}
	return fmt.Errorf("%w: rhv: %s: the engine refused checkpoint %s (unknown to the VM, removed, or invalid): %w",
		cbt.ErrChangeIDInvalid, doing, b.from, herr)
}

// openTransfer starts the image transfer of the backup and connects to
// imageio.
func (b *backupDriver) openTransfer(ctx context.Context, o BackupOptions) error {
	b.transferPosted = true
	t, err := b.eng.StartTransfer(ctx, TransferRequest{DiskID: b.diskID, BackupID: b.backupID,
		InactivityTimeout: int64((o.InactivityTimeout + time.Second - 1) / time.Second)})
	if err != nil {
		if refused(err) {
			b.transferPosted = false // nothing was started
		}
		return err
	}
	b.transferID = t.ID
	b.log.InfoContext(ctx, "rhv: image transfer started", "transfer", b.transferID, "backup", b.backupID)
	if t, err = b.eng.WaitTransfer(ctx, b.transferID); err != nil {
		return err
	}
	u, proxy := t.TransferURL, false
	if o.UseProxy || u == "" {
		u, proxy = t.ProxyURL, true
	}
	if u == "" {
		return fmt.Errorf("%w: rhv: image transfer %s is transferring but has neither transfer_url nor proxy_url", cbt.ErrCorrupt, b.transferID)
	}
	iopts := o.Imageio
	if iopts == nil {
		iopts = &imageio.Options{HTTPClient: b.eng.HTTPClient(), Logger: o.Logger}
	}
	if b.io, err = imageio.New(u, iopts); err != nil {
		return err
	}
	so, err := b.io.Options(ctx)
	if err != nil {
		return err
	}
	if !so.Has("extents") {
		return fmt.Errorf("%w: rhv: the imageio server of transfer %s offers %v, not extents: it is older than 2.0; upgrade ovirt-imageio on the host",
			cbt.ErrUnsupported, b.transferID, so.Features)
	}
	b.info = BackupInfo{VMID: b.vmID, DiskID: b.diskID, BackupID: b.backupID, TransferID: b.transferID,
		FromCheckpointID: b.from, ToCheckpointID: b.to, Mode: b.mode, FullReason: b.fullReason, Capacity: b.capacity,
		TransferURL: u, ImageioFeatures: so.Features, ImageioMaxReaders: so.MaxReaders, TransferUsingProxy: proxy}
	return nil
}
