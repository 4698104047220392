package oci

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
)

// lifecycle is one delta volume from creation to deletion: what exists of
// it, so that teardown removes exactly that.
type lifecycle struct {
	cl           *cloud
	volumeID     string
	attachmentID string
	attachment   *Attachment
	connecting   bool // Connect was called: Disconnect must be
	dev          Device
	// lostName and lostAttach are set when a create or attach failed with
	// its outcome unknown: teardown looks for what it may have made.
	lostName   string
	lostAttach bool
	// attachUnknown: the volume may hold attachments teardown could not
	// list or detach, so deleting it would be refused.
	attachUnknown bool
}

// token returns a random retry token.
func token() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// openDelta runs the whole lifecycle of a delta volume: create it, wait
// until AVAILABLE, attach it by iSCSI, wait until ATTACHED, connect, open
// the device, read its capacity, scan it whole into memory, then close,
// disconnect, detach and delete it. The teardown runs once on every path
// (done, error, cancellation, a panic of a Connector or device), with a
// fresh context bounded by CleanupTimeout, before openDelta returns: the
// volume is gone before the caller sees an extent, however long it then
// takes over them, and whether it iterates to the end or not. On success a
// teardown failure is kept in the delta's leftover (the extents are right
// all the same).
// Not split: one create-attach-scan-teardown sequence whose deferred
// teardown must see every step's state.
func (cl *cloud) openDelta(ctx context.Context, first string, at backupInfo) (s *delta, err error) {
	second, capacity := at.id, at.size
	if first == "" {
		// The delta API has no "since nothing": everything is reported.
		return &delta{all: true}, nil
	}
	if _, err := checkPair(first, second); err != nil {
		return nil, err
	}
	// The base is read first: gone, of another volume, or later than the
	// disk's backup, it is refused before a billed volume is made.
	base, err := cl.readBase(ctx, first)
	if err != nil {
		return nil, err
	}
	if err := checkBases(base, at); err != nil {
		return nil, err
	}
	lc := &lifecycle{cl: cl}
	scanned := false
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cl.o.CleanupTimeout)
		defer cancel()
		terr := lc.teardown(cctx)
		switch {
		case scanned:
			s.leftover = terr
			cl.o.Logger.DebugContext(ctx, "oci: the delta volume is torn down", "volume", s.name, "extents", len(s.scanned), "err", terr)
		case err != nil && terr != nil:
			err = errors.Join(err, terr)
		case terr != nil: // a panic is on its way up
			cl.o.Logger.WarnContext(ctx, "oci: teardown failed", "err", terr)
		}
	}()
	log := cl.o.Logger
	// The name is unique to this lifecycle, so that a volume whose create
	// answer was lost can be found by it.
	name := cl.o.DisplayName
	if name == "" {
		name = "cbt-delta"
	}
	name += "-" + token()[:12]
	log.DebugContext(ctx, "oci: creating the delta volume", "first", first, "second", second, "name", name, "changeBlockSize", cl.o.ChangeBlockSize)
	if lc.volumeID, err = cl.createDelta(ctx, first, second, name, token()); err != nil {
		if unknownOutcome(err) {
			lc.lostName = name
		}
		return nil, err
	}
	log.DebugContext(ctx, "oci: waiting for the delta volume", "volume", lc.volumeID)
	if err = cl.waitVolume(ctx, lc.volumeID); err != nil {
		return nil, err
	}
	if lc.attachmentID, err = cl.attach(ctx, lc.volumeID, name, token()); err != nil {
		lc.lostAttach = unknownOutcome(err)
		return nil, err
	}
	log.DebugContext(ctx, "oci: waiting for the attachment", "attachment", lc.attachmentID)
	a, err := cl.waitAttached(ctx, lc.attachmentID)
	if err != nil {
		return nil, err
	}
	lc.attachment = &a
	log.DebugContext(ctx, "oci: connecting", "attachment", a.String())
	lc.connecting = true
	path, err := cl.o.Connector.Connect(ctx, a)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		return nil, fmt.Errorf("oci: connecting to the delta volume %s (%s): %w", lc.volumeID, a, err)
	}
	if lc.dev, err = cl.o.OpenDevice(path); err != nil {
		return nil, err
	}
	dl, err := newDeviceDelta(ctx, first, lc.volumeID+" at "+path, lc.dev, capacity)
	if err != nil {
		return nil, err
	}
	log.DebugContext(ctx, "oci: scanning the delta volume", "volume", lc.volumeID, "blockSize", dl.capacity.BlockSize, "blocks", dl.capacity.Blocks)
	if err = dl.scanAll(ctx, capacity, cl.o.MaxExtents, &cl.o); err != nil {
		return nil, err
	}
	dl.dev = nil // closed by the teardown
	s, scanned = dl, true
	return s, nil
}

// teardown closes the device, disconnects, detaches and deletes the volume,
// as far as each exists. It goes on after a failure; the volume is not
// deleted while its attachment could not be removed (the service refuses
// it). The error names what is left behind.
func (lc *lifecycle) teardown(ctx context.Context) error {
	var errs []error
	if err := lc.recoverLost(ctx); err != nil {
		errs = append(errs, err)
	}
	if lc.dev != nil {
		if err := lc.dev.Close(); err != nil {
			errs = append(errs, fmt.Errorf("oci: closing the delta device: %w", err))
		}
		lc.dev = nil
	}
	if lc.connecting && lc.attachment != nil {
		if err := lc.cl.o.Connector.Disconnect(ctx, *lc.attachment); err != nil {
			errs = append(errs, fmt.Errorf("oci: disconnecting from %s: %w", lc.attachment, err))
		}
		lc.connecting = false
	}
	if lc.attachmentID != "" {
		if err := lc.cl.detach(ctx, lc.attachmentID); err != nil {
			errs = append(errs, fmt.Errorf("%w; the delta volume %s is left attached (attachment %s): detach and delete it by hand",
				err, lc.volumeID, lc.attachmentID))
			return errors.Join(errs...)
		}
		lc.attachmentID = ""
	}
	if lc.volumeID != "" && lc.attachUnknown {
		errs = append(errs, fmt.Errorf("oci: the delta volume %s may still be attached (its attachments could not all be listed or detached): detach it, then delete it by hand", lc.volumeID))
		return errors.Join(errs...)
	}
	if lc.volumeID != "" {
		if err := lc.cl.deleteVolume(ctx, lc.volumeID); err != nil {
			errs = append(errs, err)
			return errors.Join(errs...)
		}
		lc.volumeID = ""
	}
	return errors.Join(errs...)
}
