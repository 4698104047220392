package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/changedblocks/sdk/cbt"
)

// TransferRequest starts an image transfer.
type TransferRequest struct {
	DiskID   string // the disk
	BackupID string // the backup whose export to read; empty for a plain download
	// Direction is "download" (the default) or "upload".
	Direction string
	// Format is "raw" (the default: the NBD backend, needed for extents and
	// dirty extents) or "cow".
	Format string
	// InactivityTimeout in seconds; 0 leaves the engine's default (60 s).
	InactivityTimeout int64
}

// StartTransfer starts an image transfer (POST /imagetransfers). It comes
// back initializing; WaitTransfer waits for transferring. The request is not
// retried.
//
// Errors: cbt.ErrBusy (409: the disk is locked by another operation; 5xx or
// a transport failure), cbt.ErrNotFound, cbt.ErrInvalidArgument,
// cbt.ErrUnsupported, cbt.ErrCorrupt (no transfer ID in the answer).
func (c *Client) StartTransfer(ctx context.Context, r TransferRequest) (*ImageTransfer, error) {
	if err := checkID("disk", r.DiskID); err != nil {
		return nil, err
	}
	in := ImageTransfer{Disk: &Ref{ID: r.DiskID}, Direction: r.Direction, Format: r.Format,
		InactivityTimeout: Int(r.InactivityTimeout)}
	if in.Direction == "" {
		in.Direction = "download"
	}
	if in.Format == "" {
		in.Format = "raw"
	}
	if r.BackupID != "" {
		if err := checkID("backup", r.BackupID); err != nil {
			return nil, err
		}
		in.Backup = &Ref{ID: r.BackupID}
	}
	var out ImageTransfer
	if err := c.do(ctx, http.MethodPost, "/imagetransfers", in, &out, false); err != nil {
		return nil, err
	}
	if out.ID == "" {
		return nil, fmt.Errorf("%w: rhv: the engine started an image transfer of disk %s but returned no transfer ID", cbt.ErrCorrupt, r.DiskID)
	}
	return &out, nil
}

// Transfer reads an image transfer (GET /imagetransfers/{id}).
//
// Errors: cbt.ErrNotFound (the transfer ended and was removed), cbt.ErrBusy,
// cbt.ErrInvalidArgument, cbt.ErrUnsupported, cbt.ErrCorrupt.
func (c *Client) Transfer(ctx context.Context, transferID string) (*ImageTransfer, error) {
	if err := checkID("image transfer", transferID); err != nil {
		return nil, err
	}
	return get[ImageTransfer](ctx, c, "/imagetransfers/"+transferID)
}

// Transfers lists the image transfers (GET /imagetransfers).
//
// Errors: as for Transfer.
func (c *Client) Transfers(ctx context.Context) ([]ImageTransfer, error) {
	out, err := get[struct {
		ImageTransfer []ImageTransfer `json:"image_transfer"`
	}](ctx, c, "/imagetransfers")
	if err != nil {
		return nil, err
	}
	return out.ImageTransfer, nil
}

// WaitTransfer polls the transfer until it is transferring, for at most
// Options.PhaseTimeout. A transfer that is paused, cancelled, or
// finished is an error.
//
// Errors: cbt.ErrUnsupported (the transfer failed or was cancelled),
// cbt.ErrBusy (the timeout passed), and those of Transfer.
func (c *Client) WaitTransfer(ctx context.Context, transferID string) (*ImageTransfer, error) {
	var last *ImageTransfer
	_, err := c.poll(ctx, "image transfer "+transferID, func(ctx context.Context) (string, error) {
		t, err := c.Transfer(ctx, transferID)
		if err != nil {
			return "", err
		}
		last = t
		return t.Phase, nil
	}, func(p string) bool { return p == TransferTransferring }, func(p string) bool {
		return p != TransferInitializing && p != "resuming" && p != ""
	})
	return last, err
}

// FinalizeTransfer ends an image transfer (POST /imagetransfers/{id}/finalize)
// and waits until the engine reports it finished or removes it, for at most
// Options.PhaseTimeout. For a download nothing is written; the ticket
// is removed and the disk unlocked.
//
// Errors: cbt.ErrUnsupported (the transfer ended in finished_failure),
// cbt.ErrBusy (the timeout passed), and those of Transfer but
// cbt.ErrNotFound, which means the transfer is already gone.
func (c *Client) FinalizeTransfer(ctx context.Context, transferID string) error {
	if err := checkID("image transfer", transferID); err != nil {
		return err
	}
	if err := c.do(ctx, http.MethodPost, "/imagetransfers/"+transferID+"/finalize", struct{}{}, nil, true); err != nil {
		if isNotFound(err) {
			return nil
		}
		return err
	}
	_, err := c.poll(ctx, "image transfer "+transferID, func(ctx context.Context) (string, error) {
		t, err := c.Transfer(ctx, transferID)
		if isNotFound(err) {
			return TransferFinishedSuccess, nil
		}
		if err != nil {
			return "", err
		}
		return t.Phase, nil
	}, func(p string) bool {
		return p == TransferFinishedSuccess || p == TransferCancelledSystem || p == TransferCancelledUser
	}, func(p string) bool { return p == TransferFinishedFailure })
	return err
}

// isNotFound reports whether err is of class cbt.ErrNotFound.
func isNotFound(err error) bool { return err != nil && errors.Is(err, cbt.ErrNotFound) }
