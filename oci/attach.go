package oci

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/core"

	"github.com/changedblocks/sdk/cbt"
)

// Attachment is an iSCSI attachment of a volume to an instance: what an
// initiator needs to log in.
type Attachment struct {
	ID         string // the volume attachment's OCID
	VolumeID   string
	InstanceID string
	IQN        string // the target's IQN
	Address    string // the target's IPv4 address, such as 169.254.2.2
	Port       int    // the target's port, usually 3260
	// ChapUsername and ChapSecret are the CHAP credentials. The secret is
	// never logged nor printed by String.
	ChapUsername string
	ChapSecret   string
}

// String describes the attachment without the CHAP secret.
func (a Attachment) String() string {
	return fmt.Sprintf("iSCSI attachment %s: %s at %s:%d", a.ID, a.IQN, a.Address, a.Port)
}

// attachmentFrom decodes an iSCSI attachment.
func attachmentFrom(va core.VolumeAttachment) (Attachment, error) {
	is, ok := va.(core.IScsiVolumeAttachment)
	if !ok {
		return Attachment{}, fmt.Errorf("%w: oci: volume attachment is a %T, not an iSCSI attachment", cbt.ErrUnsupported, va)
	}
	a := Attachment{
		ID: deref(is.Id), VolumeID: deref(is.VolumeId), InstanceID: deref(is.InstanceId),
		IQN: deref(is.Iqn), Address: deref(is.Ipv4), ChapUsername: deref(is.ChapUsername), ChapSecret: deref(is.ChapSecret),
	}
	if is.Port != nil {
		a.Port = *is.Port
	}
	if a.ID == "" || a.IQN == "" || a.Address == "" || a.Port <= 0 || a.Port > 65535 {
		return a, fmt.Errorf("%w: oci: iSCSI attachment %q lacks its IQN, address or port", cbt.ErrCorrupt, a.ID)
	}
	return a, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// attach attaches a volume read-only by iSCSI with CHAP, and returns the
// attachment's OCID as soon as the service accepted it (it is ATTACHING).
func (cl *cloud) attach(ctx context.Context, volumeID, name, token string) (string, error) {
	spec := cl.spec(ctx)
	spec.busyUntil = time.Now().Add(cl.o.BusyTimeout)
	r, err := cl.c.Compute.AttachVolume(ctx, core.AttachVolumeRequest{
		AttachVolumeDetails: core.AttachIScsiVolumeDetails{
			InstanceId:  &cl.o.InstanceID,
			VolumeId:    &volumeID,
			DisplayName: &name,
			IsReadOnly:  common.Bool(true),
			UseChap:     common.Bool(true),
		},
		OpcRetryToken:   &token,
		RequestMetadata: common.RequestMetadata{RetryPolicy: spec.policy()},
	})
	if err != nil {
		return "", callError(ctx, err, nil, "attaching the delta volume %s to instance %s by iSCSI", volumeID, cl.o.InstanceID)
	}
	if r.VolumeAttachment == nil || deref(r.GetId()) == "" {
		return "", fmt.Errorf("%w: oci: attaching the delta volume %s: the answer holds no attachment OCID", cbt.ErrCorrupt, volumeID)
	}
	return *r.GetId(), nil
}

func attachmentState(r common.OCIResponse) core.VolumeAttachmentLifecycleStateEnum {
	if v, ok := r.(core.GetVolumeAttachmentResponse); ok && v.VolumeAttachment != nil {
		return v.GetLifecycleState()
	}
	return ""
}

// waitAttached polls the attachment until it is ATTACHED and returns it.
func (cl *cloud) waitAttached(ctx context.Context, id string) (Attachment, error) {
	spec := cl.spec(ctx)
	spec.pollUntil = time.Now().Add(cl.o.WaitTimeout)
	spec.pending = func(r common.OCIResponse) bool {
		return attachmentState(r) == core.VolumeAttachmentLifecycleStateAttaching
	}
	r, err := cl.c.Compute.GetVolumeAttachment(ctx, core.GetVolumeAttachmentRequest{
		VolumeAttachmentId: &id, RequestMetadata: common.RequestMetadata{RetryPolicy: spec.policy()},
	})
	if err != nil {
		return Attachment{}, callError(ctx, err, nil, "waiting for the volume attachment %s", id)
	}
	switch st := attachmentState(r); st {
	case core.VolumeAttachmentLifecycleStateAttached:
		return attachmentFrom(r.VolumeAttachment)
	case core.VolumeAttachmentLifecycleStateAttaching:
		if err := ctx.Err(); err != nil {
			return Attachment{}, err
		}
		return Attachment{}, fmt.Errorf("%w: oci: the volume attachment %s is still ATTACHING after %v", cbt.ErrBusy, id, cl.o.WaitTimeout)
	default:
		return Attachment{}, fmt.Errorf("%w: oci: the volume attachment %s is %s instead of ATTACHED", cbt.ErrNotFound, id, st)
	}
}

// detach detaches a volume and waits until the attachment is DETACHED (or
// gone). An attachment already gone is no error.
func (cl *cloud) detach(ctx context.Context, id string) error {
	spec := cl.cleanupSpec(ctx)
	spec.busyUntil = time.Now().Add(cl.o.CleanupTimeout)
	_, err := cl.c.Compute.DetachVolume(ctx, core.DetachVolumeRequest{
		VolumeAttachmentId: &id, RequestMetadata: common.RequestMetadata{RetryPolicy: spec.policy()},
	})
	if err != nil {
		if statusOf(err) == http.StatusNotFound {
			return nil
		}
		return callError(ctx, err, nil, "detaching the volume attachment %s", id)
	}
	spec = cl.cleanupSpec(ctx)
	spec.pollUntil = time.Now().Add(cl.o.WaitTimeout)
	spec.pending = func(r common.OCIResponse) bool {
		return attachmentState(r) != core.VolumeAttachmentLifecycleStateDetached
	}
	r, err := cl.c.Compute.GetVolumeAttachment(ctx, core.GetVolumeAttachmentRequest{
		VolumeAttachmentId: &id, RequestMetadata: common.RequestMetadata{RetryPolicy: spec.policy()},
	})
	if err != nil {
		if statusOf(err) == http.StatusNotFound {
			return nil
		}
		return callError(ctx, err, nil, "waiting for the volume attachment %s to be DETACHED", id)
	}
	if st := attachmentState(r); st != core.VolumeAttachmentLifecycleStateDetached {
		if err := ctx.Err(); err != nil {
			return err
		}
		return fmt.Errorf("%w: oci: the volume attachment %s is still %s after %v", cbt.ErrBusy, id, st, cl.o.WaitTimeout)
	}
	return nil
}
