package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/driver"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/rhv"
	"github.com/changedblocks/sdk/rhv/imageio"
	"github.com/changedblocks/sdk/rhv/internal/ident"
)

// backupPageExtents bounds the extents of one driver page.
const backupPageExtents = 4096

// backupDriver is the driver.Disk of one disk of an open backup.
type backupDriver struct {
	eng            *Client
	io             *imageio.Client
	name           string
	vmID, diskID   string
	backupID       string
	transferID     string
	from, to       string // checkpoints
	fromGuard      string // the guards of their change IDs
	toGuard        string
	mode           string
	fullReason     string
	capacity       int64
	info           BackupInfo
	cleanupTimeout time.Duration
	log            *slog.Logger

	mu        sync.Mutex
	cache     map[string][]cbt.Extent // imageio context → reported extents
	finalized bool                    // the backup needs no finalize any more
	// transferPosted: a transfer may exist whose ID the answer did not bring.
	transferPosted bool
	cleaned        bool
}

func (b *backupDriver) Info() driver.Info {
	return driver.Info{
		Name:        b.name,
		Scheme:      rhv.Scheme,
		Capacity:    b.capacity,
		Granularity: 1,
		ChangeID:    guardedCheckpoint(b.to, b.toGuard),
		NoRead:      "reading an incremental backup's data through imageio is not built yet: download the listed ranges from the transfer's imageio URL, or read the volume chain offline with rhv.OpenVolume, which reads",
	}
}

// contextFor returns the imageio context that answers since, "" for the
// disk's own checkpoint (nothing changed), or cbt.ErrChangeIDInvalid; a
// checkpoint the engine made after the disk's own is cbt.ErrInvalidArgument.
// A since without a guard names the backup's own checkpoints by ID (this
// backup made or checked them); one with a guard must carry theirs.
func (b *backupDriver) contextFor(ctx context.Context, since string) (string, error) {
	if since == "" {
		return imageio.ContextZero, nil
	}
	cp, guard, err := checkpointOfValue(since)
	if err != nil {
		return "", fmt.Errorf("%w: %s: base %q is not a checkpoint: a backup answers changes since its own from-checkpoint only (%v); list with a zero since for a full backup",
			cbt.ErrChangeIDInvalid, b.name, ident.Clip(since, 80), err)
	}
	switch {
	case cp == b.to && (guard == "" || guard == b.toGuard):
		return "", nil
	case cp == b.from && guard != "" && guard != b.fromGuard:
		return "", fmt.Errorf("%w: %s: base %q names checkpoint %s, but not as this backup's from-checkpoint: it was handed out for another VM or disk, or the checkpoint was made again under its ID; list with a zero since for a full backup",
			cbt.ErrChangeIDInvalid, b.name, ident.Clip(since, 80), cp)
	case cp == b.from && b.mode == BackupModeIncremental:
		return imageio.ContextDirty, nil
	case cp == b.from:
		return "", fmt.Errorf("%w: rhv: %s", cbt.ErrChangeIDInvalid, b.fullReason)
	case cp == b.to:
		return "", fmt.Errorf("%w: %s: base %q names this backup's checkpoint %s with another guard: it was handed out for another VM or disk; list with a zero since for a full backup",
			cbt.ErrChangeIDInvalid, b.name, ident.Clip(since, 80), cp)
	}
	if b.laterThanOwn(ctx, cp) {
		return "", fmt.Errorf("%w: %s: base checkpoint %s was made after this backup's own checkpoint %s: the base must be an earlier point",
			cbt.ErrInvalidArgument, b.name, cp, b.to)
	}
	if b.from == "" {
		return "", fmt.Errorf("%w: %s: this is a full backup; it cannot list changes since checkpoint %s: list with a zero since, or open a backup with Since set to that checkpoint",
			cbt.ErrChangeIDInvalid, b.name, cp)
	}
	return "", fmt.Errorf("%w: %s: this backup is incremental from checkpoint %s; it cannot list changes since checkpoint %s: list with a zero since, or open a backup with Since set to that checkpoint",
		cbt.ErrChangeIDInvalid, b.name, b.from, cp)
}

// laterThanOwn reports whether the engine lists checkpoint cp as made after
// the backup's own checkpoint: a descendant of it in the checkpoints'
// parent line, or, without parents, with a later creation date. When the
// engine cannot tell (the list fails, cp is unknown), it reports false.
func (b *backupDriver) laterThanOwn(ctx context.Context, cp string) bool {
	cps, err := b.eng.Checkpoints(ctx, b.vmID)
	if err != nil {
		b.log.DebugContext(ctx, "rhv: listing the VM's checkpoints to order a base failed", "vm", b.vmID, "error", err)
		return false
	}
	byID := make(map[string]Checkpoint, len(cps))
	for _, c := range cps {
		byID[c.ID] = c
	}
	c, ok := byID[cp]
	own, okOwn := byID[b.to]
	if !ok || !okOwn {
		return false
	}
	for i, p := 0, c.ParentID; p != "" && i < len(cps); i++ {
		if p == b.to {
			return true
		}
		p = byID[p].ParentID
	}
	return c.ParentID == "" && own.CreationDate > 0 && c.CreationDate > own.CreationDate
}

func (b *backupDriver) ChangedExtents(ctx context.Context, req driver.Request, buf []extent.Extent) ([]extent.Extent, int64, error) {
	ictx, err := b.contextFor(ctx, req.Since)
	if err != nil {
		return nil, 0, err
	}
	if ictx == "" {
		return buf[:0], req.End, nil
	}
	exts, err := b.extents(ctx, ictx)
	if err != nil {
		return nil, 0, err
	}
	i := sort.Search(len(exts), func(i int) bool { return exts[i].End() > req.Offset })
	out := buf[:0]
	next := req.End
	for ; i < len(exts) && exts[i].Offset < req.End; i++ {
		if len(out) == backupPageExtents {
			next = out[len(out)-1].End()
			break
		}
		out = append(out, exts[i])
	}
	return out, next, nil
}

// extents returns the reported extents of one context, reading them from
// imageio once.
func (b *backupDriver) extents(ctx context.Context, ictx string) ([]cbt.Extent, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if exts, ok := b.cache[ictx]; ok {
		return exts, nil
	}
	raw, err := b.io.Extents(ctx, ictx)
	if err != nil {
		var herr *HTTPError
		if ictx == imageio.ContextDirty && errors.Is(err, cbt.ErrUnsupported) && errors.As(err, &herr) && herr.Status == 404 {
			return nil, fmt.Errorf("%w: %s: imageio has no dirty extents for this transfer although the engine reported the disk incremental: the bitmap of checkpoint %s cannot be exported; take a full backup (list with a zero since): %w",
				cbt.ErrChangeIDInvalid, b.name, b.from, herr)
		}
		return nil, err
	}
	exts, err := reportedExtents(raw, ictx, b.capacity)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", err, b.name)
	}
	if n := len(raw); n > 0 && raw[n-1].End() > b.capacity {
		b.log.WarnContext(ctx, "rhv: imageio's image is larger than the disk's provisioned size; the tail is not listed",
			"disk", b.name, "image_end", raw[n-1].End(), "capacity", b.capacity)
	}
	b.log.DebugContext(ctx, "rhv: extents read", "disk", b.name, "context", ictx, "items", len(raw), "reported", len(exts))
	b.cache[ictx] = exts
	return exts, nil
}

// reportedExtents turns imageio extents into the areas to report: for
// context zero those not flagged zero (data, whether in this layer or
// below), for context dirty those flagged dirty (a zeroed area changed too).
// Adjacent areas are merged; the extents must reach the capacity (what lies
// beyond it is dropped).
func reportedExtents(raw []imageio.Extent, ictx string, capacity int64) ([]cbt.Extent, error) {
	end := int64(0)
	if n := len(raw); n > 0 {
		end = raw[n-1].End()
	}
	if end < capacity {
		return nil, fmt.Errorf("%w: rhv: imageio's %s extents end at %d but the disk has %d bytes: the bytes beyond would go unreported",
			cbt.ErrCorrupt, ictx, end, capacity)
	}
	var out []cbt.Extent
	for _, r := range raw {
		if r.Start >= capacity {
			break
		}
		report := !r.Zero
		if ictx == imageio.ContextDirty {
			report = r.Dirty
		}
		if !report {
			continue
		}
		e := cbt.Extent{Offset: r.Start, Length: min(r.End(), capacity) - r.Start}
		if n := len(out); n > 0 && out[n-1].End() == e.Offset {
			out[n-1].Length += e.Length
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

// Close finalizes the transfer and the backup.
func (b *backupDriver) Close() error { return b.cleanup() }

// cleanup finalizes whatever was started: the transfer (waiting until it is
// finished), then the backup (waiting for succeeded), on a fresh context
// bounded by cleanupTimeout. It runs once; later calls return nil.
func (b *backupDriver) cleanup() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cleaned {
		return nil
	}
	b.cleaned = true
	if b.backupID == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.cleanupTimeout)
	defer cancel()
	var errs []error
	ids := []string{b.transferID}
	if b.transferID == "" && b.transferPosted {
		// The answer to the POST was lost: find the backup's transfers.
		ids = nil
		ts, err := b.eng.Transfers(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("listing image transfers to finalize those of backup %s: %w (a transfer of it may be left: cancel it in the engine, then finalize the backup, or the disk stays locked)", b.backupID, err))
		}
		for _, t := range ts {
			if t.Backup != nil && t.Backup.ID == b.backupID && t.ID != "" {
				ids = append(ids, t.ID)
			}
		}
	}
	for _, id := range ids {
		if id == "" {
			continue
		}
		if err := b.eng.FinalizeTransfer(ctx, id); err != nil {
			b.log.ErrorContext(ctx, "rhv: finalizing the image transfer failed", "transfer", id, "error", err)
			errs = append(errs, fmt.Errorf("finalizing image transfer %s: %w (cancel it in the engine, or the disk stays locked)", id, err))
		}
	}
	if !b.finalized {
		if err := b.finalizeBackup(ctx); err != nil {
			b.log.ErrorContext(ctx, "rhv: finalizing the backup failed", "backup", b.backupID, "error", err)
			errs = append(errs, fmt.Errorf("finalizing backup %s of VM %s: %w (finalize it in the engine, or the VM stays locked for backups)", b.backupID, b.vmID, err))
		}
	}
	b.log.InfoContext(ctx, "rhv: backup released", "backup", b.backupID, "errors", len(errs))
	return errors.Join(errs...)
}

// finalizeBackup finalizes the backup and waits for succeeded; a backup the
// engine no longer lists is done.
func (b *backupDriver) finalizeBackup(ctx context.Context) error {
	err := b.eng.FinalizeBackup(ctx, b.vmID, b.backupID)
	if err != nil && !errors.Is(err, cbt.ErrNotFound) {
		return err
	}
	if err != nil {
		return nil
	}
	eb, err := b.eng.WaitBackup(ctx, b.vmID, b.backupID, BackupSucceeded)
	switch {
	case errors.Is(err, cbt.ErrNotFound):
		return nil
	case err != nil && eb != nil && eb.Phase == BackupFailed:
		return fmt.Errorf("%w: rhv: backup %s ended failed after finalize; its checkpoint %s may not be usable as a base: take a full backup next time: %w",
			cbt.ErrUnsupported, b.backupID, b.to, err)
	}
	return err
}
