package vsphere

import (
	"context"
	"github.com/changedblocks/sdk/cbt/cbttest"
	"testing"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/extent"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmware/govmomi/vim25/soap"
	vim "github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vslm"
	"github.com/vmware/govmomi/vslm/methods"
	"github.com/vmware/govmomi/vslm/types"
)

// fakeVslm answers the three VSLM methods OpenFCD uses, for one disk "fcd-1"
// with one snapshot "snap-1"; the query goes to an ESXi-like fake.
type fakeVslm struct {
	esxi     *fakeESXi
	changeID string
	asked    []*types.VslmQueryChangedDiskAreas
}

func (f *fakeVslm) RoundTrip(ctx context.Context, req, res soap.HasFault) error {
	notFound := func() error {
		sf := &soap.Fault{Code: "ServerFaultCode", String: "not found"}
		sf.Detail.Fault = vim.NotFound{}
		return soap.WrapSoapFault(sf)
	}
	switch b := res.(type) {
	case *methods.VslmRetrieveVStorageObjectBody:
		r := req.(*methods.VslmRetrieveVStorageObjectBody).Req
		if r.Id.Id != "fcd-1" {
			return notFound()
		}
		b.Res = &types.VslmRetrieveVStorageObjectResponse{Returnval: vim.VStorageObject{
			Config: vim.VStorageObjectConfigInfo{CapacityInMB: f.esxi.capacity >> 20}}}
	case *methods.VslmRetrieveSnapshotDetailsBody:
		r := req.(*methods.VslmRetrieveSnapshotDetailsBody).Req
		if r.SnapshotId.Id != "snap-1" {
			return notFound()
		}
		b.Res = &types.VslmRetrieveSnapshotDetailsResponse{Returnval: vim.VStorageObjectSnapshotDetails{ChangedBlockTrackingId: f.changeID}}
	case *methods.VslmQueryChangedDiskAreasBody:
		r := req.(*methods.VslmQueryChangedDiskAreasBody).Req
		f.asked = append(f.asked, r)
		info, err := f.esxi.query(ctx, r.StartOffset, r.ChangeId)
		if err != nil {
			return err
		}
		b.Res = &types.VslmQueryChangedDiskAreasResponse{Returnval: *info}
	default:
		panic("unexpected method")
	}
	return nil
}

func TestOpenFCD(t *testing.T) {
	changed := []extent.Extent{{Offset: 0, Length: 4096}, {Offset: 5 << 20, Length: 1}, {Offset: 16<<20 - 512, Length: 512}}
	f := &fakeVslm{changeID: realID1, esxi: &fakeESXi{capacity: 16 << 20, window: 4 << 20, max: 1, changed: changed,
		faults: map[int]error{3: soapFault(&vim.SystemError{}, true)}}}
	mgr := vim.ManagedObjectReference{Type: "VslmVStorageObjectManager", Value: "m"}
	d, err := openFCD(t.Context(), f, mgr, "fcd-1", "snap-1", &Options{Backoff: 1})
	require.NoError(t, err)
	defer d.Close()
	assert.Equal(t, int64(16<<20), d.Capacity())
	assert.Equal(t, "vsphere:"+realID1+"#16777216", cbttest.MustChangeID(t, d).String())
	assert.Equal(t, "fcd-fcd-1/snap-1", d.Name())

	got, err := cbt.Collect(d.Changes(t.Context(), base(t, 16<<20), nil))
	require.NoError(t, err)
	assert.Equal(t, changed, got)
	require.NotEmpty(t, f.asked)
	assert.Equal(t, "snap-1", f.asked[0].SnapshotId.Id)
	assert.Equal(t, "fcd-1", f.asked[0].Id.Id)
	assert.Equal(t, mgr, f.asked[0].This)
	assert.Equal(t, realID1[:len(realID1)-1]+"3", f.asked[0].ChangeId)

	_, err = cbt.Collect(d.Changes(t.Context(), cbt.ChangeID{}, nil))
	require.NoError(t, err)
	assert.Equal(t, "*", f.asked[len(f.asked)-1].ChangeId)

	other, err := NewChangeID(realID2, 0)
	require.NoError(t, err)
	_, err = cbt.Collect(d.Changes(t.Context(), other, nil))
	assert.ErrorIs(t, err, cbt.ErrChangeIDInvalid)

	_, err = openFCD(t.Context(), f, mgr, "fcd-2", "snap-1", nil)
	assert.ErrorIs(t, err, cbt.ErrNotFound)
	_, err = openFCD(t.Context(), f, mgr, "fcd-1", "snap-2", nil)
	assert.ErrorIs(t, err, cbt.ErrNotFound)
	var fe *FaultError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "VslmRetrieveSnapshotDetails", fe.Method)

	f.changeID = ""
	_, err = openFCD(t.Context(), f, mgr, "fcd-1", "snap-1", nil)
	assert.ErrorIs(t, err, cbt.ErrNotEnabled)
	f.changeID = "garbage"
	_, err = openFCD(t.Context(), f, mgr, "fcd-1", "snap-1", nil)
	assert.ErrorIs(t, err, cbt.ErrCorrupt)
}

func TestVslmFaultTypes(t *testing.T) {
	c := &vslm.Client{Client: &soap.Client{}}
	VslmFaultTypes(c)
	typ, ok := c.Types("vmodl.fault.InvalidArgument")
	require.True(t, ok)
	assert.Equal(t, "InvalidArgument", typ.Name())
	typ, ok = c.Types("FileFault")
	require.True(t, ok)
	assert.Equal(t, "FileFault", typ.Name())
	_, ok = c.Types("vmodl.fault.NoSuchFault")
	assert.False(t, ok)
}
