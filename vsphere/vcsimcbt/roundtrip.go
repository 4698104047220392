package vcsimcbt

import (
	"context"
	"errors"
	"fmt"
	"github.com/vmware/govmomi/vim25/xml"
	"reflect"

	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// roundTripper answers QueryChangedDiskAreas from the model and forwards
// everything else.
type roundTripper struct {
	t    *Tracker
	next soap.RoundTripper
}

// RoundTrip implements soap.RoundTripper.
func (rt *roundTripper) RoundTrip(ctx context.Context, req, res soap.HasFault) error {
	in, ok := req.(*methods.QueryChangedDiskAreasBody)
	out, ok2 := res.(*methods.QueryChangedDiskAreasBody)
	if !ok || !ok2 || in.Req == nil {
		return rt.next.RoundTrip(ctx, req, res)
	}
	t := rt.t
	t.mu.Lock()
	n, r, rewrites := t.take()
	t.mu.Unlock()
	if r != nil {
		if _, ok := r.fault.(*types.NotAuthenticated); ok {
			// The session expires for real, so the client must log in again.
			ref := t.reg.SessionManager().Reference()
			_, _ = methods.Logout(ctx, rt.next, &types.Logout{This: ref})
		}
		return wireFault(r.msg, r.fault)
	}

	// vcsim checks the session and the VM reference, then answers
	// MethodNotFound: it has no CBT (notes §4.1).
	var probe methods.QueryChangedDiskAreasBody
	err := rt.next.RoundTrip(ctx, req, &probe)
	if err == nil {
		return fmt.Errorf("vcsimcbt: call %d: vcsim answered QueryChangedDiskAreas itself; this model expects it not to", n)
	}
	if !soap.IsSoapFault(err) {
		return err
	}
	if _, ok := soap.ToSoapFault(err).VimFault().(types.MethodNotFound); !ok {
		return err
	}

	var info types.DiskChangeInfo
	var mf *modelFault
	werr := t.withVM(in.Req.This, func(v *vmState) error {
		q, f := t.resolve(v, in.Req.DeviceKey, in.Req.ChangeId, in.Req.Snapshot)
		if f == nil && (in.Req.StartOffset < 0 || in.Req.StartOffset >= q.capacity) {
			f = &modelFault{InvalidArgument(PropStartOffset), fmt.Sprintf(
				"vcsimcbt: startOffset %d is outside [0, %d), the disk's capacity (InvalidArgument startOffset)",
				in.Req.StartOffset, q.capacity)}
		}
		if f != nil {
			mf = f
			return nil
		}
		info = t.page(q.disk.roundedBetween(q.lo, q.hi), in.Req.StartOffset, q.capacity)
		return nil
	})
	if errors.Is(werr, ErrUnknownDisk) {
		// The VM went away between vcsim's check and ours.
		return wireFault(werr.Error(), &types.ManagedObjectNotFound{Obj: in.Req.This})
	}
	if werr != nil {
		return werr
	}
	if mf != nil {
		return wireFault(mf.msg, mf.fault)
	}
	for _, f := range rewrites {
		info = f(info)
	}
	out.Res = &types.QueryChangedDiskAreasResponse{Returnval: info}
	return nil
}

// wireFault returns the error a govmomi client gets when the server answers
// fault: a SOAP fault whose detail holds the fault by value, as decoding it
// off the wire yields (vcsim's own faults look the same).
func wireFault(msg string, fault types.BaseMethodFault) error {
	f := &soap.Fault{
		XMLName: xml.Name{Space: "http://schemas.xmlsoap.org/soap/envelope/", Local: "Fault"},
		Code:    "ServerFaultCode",
		String:  msg,
	}
	f.Detail.Fault = fault
	if v := reflect.ValueOf(fault); v.Kind() == reflect.Pointer && !v.IsNil() {
		f.Detail.Fault = v.Elem().Interface()
	}
	return soap.WrapSoapFault(f)
}
