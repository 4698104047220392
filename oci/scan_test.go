package oci

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/scsi"
	"github.com/changedblocks/sdk/internal/scsi/scsimodel"
)

// failingDevice answers every command with err.
type failingDevice struct{ err error }

func (f failingDevice) Exec(context.Context, []byte, []byte) (int, error) { return 0, f.err }
func (f failingDevice) Close() error                                      { return nil }

// What a delta device answers maps to the cbt classes; the device's own
// error stays reachable. These were the classes package internal/scsi gave
// before it had its own errors.
func TestSCSIErrorClasses(t *testing.T) {
	sense := func(k, asc, ascq byte) error {
		return &scsi.SenseError{Status: scsi.StatusCheckCondition, Sense: scsi.Sense{ResponseCode: 0x70, Key: k, ASC: asc, ASCQ: ascq}}
	}
	first, second := "ocid1.volumebackup.oc1.phx.a", "ocid1.volumebackup.oc1.phx.b"
	for _, c := range []struct {
		err   error
		class error // nil: none
	}{
		{sense(scsi.KeyIllegalRequest, 0x20, 0), cbt.ErrUnsupported},
		{sense(scsi.KeyIllegalRequest, 0x24, 0), cbt.ErrInvalidArgument},
		{sense(scsi.KeyIllegalRequest, 0x21, 0), cbt.ErrInvalidArgument},
		{sense(scsi.KeyUnitAttention, 0x29, 0), cbt.ErrBusy},
		{sense(scsi.KeyNotReady, 0x04, 1), cbt.ErrBusy},
		{&scsi.StatusError{Status: scsi.StatusBusy}, cbt.ErrBusy},
		{&scsi.StatusError{Status: scsi.StatusReservationConflict}, cbt.ErrBusy},
		{fmt.Errorf("%w: gone", scsi.ErrClosed), cbt.ErrClosed},
		{fmt.Errorf("x: %w", os.ErrNotExist), cbt.ErrNotFound},
		{sense(scsi.KeyMediumError, 0x11, 0), nil},
		// A class the device gave stays, whatever the sentinel says.
		{fmt.Errorf("%w: %w", cbt.ErrNotEnabled, sense(scsi.KeyNotReady, 0x04, 1)), cbt.ErrNotEnabled},
	} {
		_, err := OpenAttached(t.Context(), "/dev/x", first, second, &Options{
			OpenDevice: func(string) (Device, error) { return failingDevice{c.err}, nil },
		})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "oci: reading the capacity of /dev/x", "says what was done")
		assert.True(t, errors.Is(err, c.err) || errors.As(err, new(*scsi.SenseError)), "the device's error stays reachable: %v", err)
		for _, cls := range []error{cbt.ErrUnsupported, cbt.ErrInvalidArgument, cbt.ErrBusy, cbt.ErrClosed, cbt.ErrNotFound, cbt.ErrNotEnabled, cbt.ErrCorrupt} {
			assert.Equal(t, cls == c.class, errors.Is(err, cls), "%v: class %v", err, cls)
		}
	}

	// A malformed answer is ErrCorrupt.
	lun, err := scsimodel.New(1<<20, 512, nil)
	require.NoError(t, err)
	short := shortDevice{lun}
	_, err = OpenAttached(t.Context(), "/dev/x", first, second, &Options{OpenDevice: func(string) (Device, error) { return short, nil }})
	require.ErrorIs(t, err, cbt.ErrCorrupt)
	require.ErrorIs(t, err, scsi.ErrMalformed)

	// A context that ends is returned as it is.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = OpenAttached(ctx, "/dev/x", first, second, &Options{OpenDevice: func(string) (Device, error) { return lun, nil }})
	require.ErrorIs(t, err, context.Canceled)
	assert.False(t, errors.Is(err, cbt.ErrBusy) || errors.Is(err, cbt.ErrCorrupt))
}

// shortDevice answers every command with 3 bytes.
type shortDevice struct{ Device }

func (d shortDevice) Exec(ctx context.Context, cdb, dataIn []byte) (int, error) {
	_, err := d.Device.Exec(ctx, cdb, dataIn)
	return min(3, len(dataIn)), err
}

// OCI defines GET LBA STATUS results only for scans of at most 1 GiB: every
// scan command is GET LBA STATUS(32) with a scan length of at most 1 GiB.
func TestScanWithinOneGiB(t *testing.T) {
	const capacity = 5 << 30
	changed := []extent.Extent{{Offset: 1 << 20, Length: 4096}, {Offset: 4<<30 + 8192, Length: 4096}}
	lun, err := scsimodel.New(capacity, 512, changed)
	require.NoError(t, err)
	d, err := OpenAttached(t.Context(), "/dev/x", "ocid1.volumebackup.oc1.phx.a", "ocid1.volumebackup.oc1.phx.b",
		&Options{OpenDevice: func(string) (Device, error) { return lun, nil }})
	require.NoError(t, err)
	defer d.Close()
	got, err := cbt.Collect(d.Changes(t.Context(), since(t, "ocid1.volumebackup.oc1.phx.a"), nil))
	require.NoError(t, err)
	assert.Equal(t, changed, got)
	scans := 0
	for _, cdb := range lun.Commands() {
		if cdb[0] == scsi.OpServiceActionIn16 {
			require.Equal(t, byte(scsi.SAReadCapacity16), cdb[1]&0x1f, "no GET LBA STATUS(16): it has no scan length")
			continue
		}
		require.Len(t, cdb, 32)
		scans++
		assert.LessOrEqual(t, uint64(binary.BigEndian.Uint32(cdb[20:24]))*512, uint64(1<<30), "scan length")
	}
	assert.GreaterOrEqual(t, scans, 5, "5 GiB in windows of 1 GiB")
}
