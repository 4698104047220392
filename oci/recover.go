package oci

import (
	"context"
	"errors"
	"fmt"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/core"
)

// maxListPages bounds the pages read when looking for a lost resource.
const maxListPages = 100

// unknownOutcome reports whether a create or attach that failed may have
// been done by the service all the same: its answer was lost (a network
// error, a 5xx, a cancellation while the request was out). A 4xx is a
// refusal: nothing was done.
func unknownOutcome(err error) bool {
	if err == nil {
		return false
	}
	if se, ok := serviceError(err); ok {
		return se.GetHTTPStatusCode() >= 500
	}
	return true
}

// findVolumes returns the delta volumes, not terminated, of a display name
// (unique to one lifecycle) in the compartment and availability domain.
func (cl *cloud) findVolumes(ctx context.Context, name string) ([]string, error) {
	var ids []string
	var page *string
	for range maxListPages {
		md := common.RequestMetadata{RetryPolicy: cl.cleanupSpec(ctx).policy()}
		var next *string
		if cl.kind == BootVolumeBackup {
			r, err := cl.c.Blockstorage.ListBootVolumes(ctx, core.ListBootVolumesRequest{
				CompartmentId: &cl.o.CompartmentID, AvailabilityDomain: &cl.o.AvailabilityDomain, Page: page, RequestMetadata: md,
			})
			if err != nil {
				return ids, callError(ctx, err, nil, "listing boot volumes named %s", name)
			}
			for _, v := range r.Items {
				if deref(v.DisplayName) == name && v.LifecycleState != core.BootVolumeLifecycleStateTerminated {
					ids = append(ids, deref(v.Id))
				}
			}
			next = r.OpcNextPage
		} else {
			r, err := cl.c.Blockstorage.ListVolumes(ctx, core.ListVolumesRequest{
				CompartmentId: &cl.o.CompartmentID, AvailabilityDomain: &cl.o.AvailabilityDomain, DisplayName: &name, Page: page, RequestMetadata: md,
			})
			if err != nil {
				return ids, callError(ctx, err, nil, "listing volumes named %s", name)
			}
			for _, v := range r.Items {
				if deref(v.DisplayName) == name && v.LifecycleState != core.VolumeLifecycleStateTerminated {
					ids = append(ids, deref(v.Id))
				}
			}
			next = r.OpcNextPage
		}
		if next == nil || *next == "" {
			return ids, nil
		}
		page = next
	}
	return ids, fmt.Errorf("oci: listing volumes named %s: more than %d pages", name, maxListPages)
}

// findAttachments returns the attachments of a volume to the instance that
// are not detached.
func (cl *cloud) findAttachments(ctx context.Context, volumeID string) ([]string, error) {
	var ids []string
	var page *string
	for range maxListPages {
		r, err := cl.c.Compute.ListVolumeAttachments(ctx, core.ListVolumeAttachmentsRequest{
			CompartmentId: &cl.o.CompartmentID, InstanceId: &cl.o.InstanceID, VolumeId: &volumeID, Page: page,
			RequestMetadata: common.RequestMetadata{RetryPolicy: cl.cleanupSpec(ctx).policy()},
		})
		if err != nil {
			return ids, callError(ctx, err, nil, "listing the attachments of %s", volumeID)
		}
		for _, a := range r.Items {
			if a != nil && a.GetLifecycleState() != core.VolumeAttachmentLifecycleStateDetached && deref(a.GetId()) != "" {
				ids = append(ids, *a.GetId())
			}
		}
		if r.OpcNextPage == nil || *r.OpcNextPage == "" {
			return ids, nil
		}
		page = r.OpcNextPage
	}
	return ids, fmt.Errorf("oci: listing the attachments of %s: more than %d pages", volumeID, maxListPages)
}

// recoverLost finds what a create or attach with a lost answer made, so
// that teardown removes it.
func (lc *lifecycle) recoverLost(ctx context.Context) error {
	var errs []error
	if lc.volumeID == "" && lc.lostName != "" {
		ids, err := lc.cl.findVolumes(ctx, lc.lostName)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w; a delta volume named %s may be left: delete it by hand", err, lc.lostName))
		}
		for _, id := range ids {
			if err := lc.cl.deleteVolume(ctx, id); err != nil {
				errs = append(errs, err)
			}
		}
		lc.lostName = ""
	}
	if lc.attachmentID == "" && lc.lostAttach && lc.volumeID != "" {
		ids, err := lc.cl.findAttachments(ctx, lc.volumeID)
		if err != nil {
			// Unknown whether it is attached: deleting it would only be
			// refused (409) until the cleanup timeout.
			lc.attachUnknown = true
			errs = append(errs, err)
		}
		if len(ids) > 0 {
			// Normally one; every one found is detached (the first by
			// teardown, after the device is closed).
			lc.attachmentID = ids[0]
			for _, id := range ids[1:] {
				if err := lc.cl.detach(ctx, id); err != nil {
					lc.attachUnknown = true
					errs = append(errs, fmt.Errorf("%w; detach attachment %s of the delta volume %s by hand", err, id, lc.volumeID))
				}
			}
		}
		lc.lostAttach = false
	}
	return errors.Join(errs...)
}
