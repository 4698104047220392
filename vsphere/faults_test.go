package vsphere

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/changedblocks/sdk/cbt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/task"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// soapFault returns the error govmomi returns for a SOAP fault carrying f;
// byValue stores the fault as the XML decoder does (a value, not a pointer).
func soapFault(f types.BaseMethodFault, byValue bool) error {
	sf := &soap.Fault{Code: "ServerFaultCode", String: faultName(f)}
	sf.Detail.Fault = f
	if byValue {
		sf.Detail.Fault = derefFault(f)
	}
	return soap.WrapSoapFault(sf)
}

func derefFault(f types.BaseMethodFault) types.AnyType {
	switch f := f.(type) {
	case *types.FileFault:
		return *f
	case *types.InvalidArgument:
		return *f
	case *types.NotAuthenticated:
		return *f
	case *types.SystemError:
		return *f
	case *types.NotFound:
		return *f
	}
	return f
}

func fileFault(key string) *types.FileFault {
	return &types.FileFault{
		VimFault: types.VimFault{MethodFault: types.MethodFault{
			FaultMessage: []types.LocalizableMessage{{Key: key, Message: "m"}},
		}},
		File: "[ds] vm/vm.vmdk",
	}
}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		name  string
		fault types.BaseMethodFault
		cls   error
		k     kind
	}{
		{"noTrack", fileFault(KeyNoTrack), cbt.ErrNotEnabled, final},
		{"noEpoch", fileFault(KeyNoEpoch), cbt.ErrChangeIDInvalid, final},
		{"cannotGetChanges", fileFault(KeyCannotGetChanges), cbt.ErrChangeIDInvalid, final},
		{"other FileFault", fileFault("vim.fault.FileLocked"), cbt.ErrBusy, transient},
		{"FileFault without key", &types.FileFault{}, cbt.ErrBusy, transient},
		{"FileNotFound", &types.FileNotFound{}, cbt.ErrNotFound, final},
		{"InvalidArgument changeId", &types.InvalidArgument{InvalidProperty: "changeId"}, cbt.ErrChangeIDInvalid, final},
		{"InvalidArgument startOffset", &types.InvalidArgument{InvalidProperty: "startOffset"}, cbt.ErrInvalidArgument, final},
		{"InvalidArgument deviceKey", &types.InvalidArgument{InvalidProperty: "deviceKey"}, cbt.ErrNotFound, final},
		{"InvalidArgument snapshotId", &types.InvalidArgument{InvalidProperty: "snapshotId"}, cbt.ErrNotFound, final},
		{"InvalidArgument", &types.InvalidArgument{}, cbt.ErrInvalidArgument, final},
		{"NotFound", &types.NotFound{}, cbt.ErrNotFound, final},
		{"ManagedObjectNotFound", &types.ManagedObjectNotFound{}, cbt.ErrNotFound, final},
		{"NotAuthenticated", &types.NotAuthenticated{}, cbt.ErrInvalidArgument, relogin},
		{"SystemError", &types.SystemError{Reason: "x"}, cbt.ErrBusy, transient},
		{"MethodNotFound", &types.MethodNotFound{Method: "QueryChangedDiskAreas"}, cbt.ErrUnsupported, final},
		{"NoPermission", &types.NoPermission{}, cbt.ErrUnsupported, final},
		{"TaskInProgress", &types.TaskInProgress{}, cbt.ErrBusy, final},
	} {
		for _, byValue := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/byValue=%v", c.name, byValue), func(t *testing.T) {
				err := soapFault(c.fault, byValue)
				k, cls := classify(err)
				assert.Equal(t, c.cls, cls)
				assert.Equal(t, c.k, k)

				w := wrapCall(context.Background(), "QueryChangedDiskAreas", err)
				assert.ErrorIs(t, w, c.cls)
				var fe *FaultError
				require.ErrorAs(t, w, &fe)
				assert.IsType(t, c.fault, fe.Fault)
				assert.Equal(t, "QueryChangedDiskAreas", fe.Method)
				assert.True(t, soap.IsSoapFault(fe.Err))
				assert.Contains(t, w.Error(), "vsphere:")
			})
		}
	}
}

func TestClassifyTaskAndTransport(t *testing.T) {
	// A task's fault (CreateSnapshot_Task, ReconfigVM_Task) is classified the same.
	te := task.Error{LocalizedMethodFault: &types.LocalizedMethodFault{Fault: &types.InvalidState{}, LocalizedMessage: "busy"}}
	k, cls := classify(te)
	assert.Equal(t, cbt.ErrBusy, cls)
	assert.Equal(t, final, k)
	w := wrapCall(context.Background(), "CreateSnapshot_Task", te)
	var fe *FaultError
	require.ErrorAs(t, w, &fe)
	assert.True(t, fault.Is(fe.Err, &types.InvalidState{}))

	// A transport error is transient.
	k, cls = classify(fmt.Errorf("post: %w", io.ErrUnexpectedEOF))
	assert.Equal(t, cbt.ErrBusy, cls)
	assert.Equal(t, transient, k)
	w = wrapCall(context.Background(), "QueryChangedDiskAreas", io.ErrUnexpectedEOF)
	assert.ErrorIs(t, w, cbt.ErrBusy)
	assert.ErrorIs(t, w, io.ErrUnexpectedEOF)

	// The end of the context passes through untouched.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w = wrapCall(ctx, "QueryChangedDiskAreas", errors.New("post: context canceled"))
	assert.Same(t, context.Canceled, w)
}

func TestMessageKey(t *testing.T) {
	f := &types.FileFault{VimFault: types.VimFault{MethodFault: types.MethodFault{
		FaultMessage: []types.LocalizableMessage{{Key: "vim.fault.Other"}, {Key: KeyNoTrack}},
	}}}
	assert.Equal(t, KeyNoTrack, messageKey(f))
	_, cls := classify(soapFault(f, false))
	assert.Equal(t, cbt.ErrNotEnabled, cls)
	assert.Equal(t, "", messageKey(&types.FileFault{}))
}
