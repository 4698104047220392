//go:build linux

package scsi

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// The layout of struct sg_io_hdr that gcc gives on amd64 (and arm64).
func TestSgIOHdrLayout(t *testing.T) {
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		t.Skipf("the layout is checked for 64-bit targets, not %s", runtime.GOARCH)
	}
	var h sgIOHdr
	assert.Equal(t, uintptr(88), unsafe.Sizeof(h))
	offsets := map[string][2]uintptr{
		"interface_id":    {unsafe.Offsetof(h.interfaceID), 0},
		"dxfer_direction": {unsafe.Offsetof(h.dxferDirection), 4},
		"cmd_len":         {unsafe.Offsetof(h.cmdLen), 8},
		"mx_sb_len":       {unsafe.Offsetof(h.mxSbLen), 9},
		"iovec_count":     {unsafe.Offsetof(h.iovecCount), 10},
		"dxfer_len":       {unsafe.Offsetof(h.dxferLen), 12},
		"dxferp":          {unsafe.Offsetof(h.dxferp), 16},
		"cmdp":            {unsafe.Offsetof(h.cmdp), 24},
		"sbp":             {unsafe.Offsetof(h.sbp), 32},
		"timeout":         {unsafe.Offsetof(h.timeout), 40},
		"flags":           {unsafe.Offsetof(h.flags), 44},
		"pack_id":         {unsafe.Offsetof(h.packID), 48},
		"usr_ptr":         {unsafe.Offsetof(h.usrPtr), 56},
		"status":          {unsafe.Offsetof(h.status), 64},
		"masked_status":   {unsafe.Offsetof(h.maskedStatus), 65},
		"msg_status":      {unsafe.Offsetof(h.msgStatus), 66},
		"sb_len_wr":       {unsafe.Offsetof(h.sbLenWr), 67},
		"host_status":     {unsafe.Offsetof(h.hostStatus), 68},
		"driver_status":   {unsafe.Offsetof(h.driverStatus), 70},
		"resid":           {unsafe.Offsetof(h.resid), 72},
		"duration":        {unsafe.Offsetof(h.duration), 76},
		"info":            {unsafe.Offsetof(h.info), 80},
	}
	for name, o := range offsets {
		assert.Equal(t, o[1], o[0], name)
	}
}

func TestOpenRegularFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "disk.img")
	require.NoError(t, os.WriteFile(p, make([]byte, 4096), 0o600))
	_, err := Open(p)
	require.ErrorIs(t, err, ErrUnsupported)
	assert.Contains(t, err.Error(), "not a SCSI generic or SCSI block device")
	assert.Contains(t, err.Error(), "regular file")

	_, err = Open(t.TempDir())
	require.ErrorIs(t, err, ErrUnsupported)
	assert.Contains(t, err.Error(), "directory")
}

func TestOpenDevNull(t *testing.T) {
	_, err := Open("/dev/null")
	require.ErrorIs(t, err, ErrUnsupported)
	assert.Contains(t, err.Error(), "SG_GET_VERSION_NUM")
	assert.Contains(t, err.Error(), "not a SCSI generic")
}

func TestOpenMissing(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "sg99"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestSGIOErrnoMessages(t *testing.T) {
	err := sgioErrno("/dev/sdb", OpVariableLength, unix.EPERM)
	require.ErrorIs(t, err, unix.EPERM)
	require.ErrorIs(t, err, os.ErrPermission)
	assert.Contains(t, err.Error(), "root")
	assert.Contains(t, err.Error(), "CAP_SYS_RAWIO")
	assert.Contains(t, err.Error(), "0x7f")
	require.ErrorIs(t, sgioErrno("/dev/sdb", 0x9e, unix.ENOTTY), ErrUnsupported)
	require.ErrorIs(t, sgioErrno("/dev/sdb", 0x9e, unix.EIO), unix.EIO)
}

// A device reached through a file that is not a SCSI device: Exec reaches the
// ioctl and fails with the explained errno.
func TestExecOnNonSGFile(t *testing.T) {
	f, err := os.Open("/dev/null")
	require.NoError(t, err)
	d := &sgDevice{path: "/dev/null", f: f}
	_, err = d.Exec(context.Background(), ReadCapacity16CDB(32), make([]byte, 32))
	require.ErrorIs(t, err, unix.ENOTTY)
	require.ErrorIs(t, err, ErrUnsupported)
	_, err = d.Exec(context.Background(), []byte{0, 0}, nil)
	require.ErrorIs(t, err, ErrInvalid)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = d.Exec(ctx, ReadCapacity16CDB(32), nil)
	require.ErrorIs(t, err, context.Canceled)
	require.NoError(t, d.Close())
	require.NoError(t, d.Close(), "Close twice")
	_, err = d.Exec(context.Background(), ReadCapacity16CDB(32), nil)
	require.ErrorIs(t, err, ErrClosed)
}

func TestSGResult(t *testing.T) {
	sense := Sense{Key: KeyIllegalRequest, ASC: ASCInvalidOpcode}.AppendFixed(nil)
	buf := make([]byte, maxSenseLen)
	copy(buf, sense)

	n, err := sgResult(&sgIOHdr{resid: 8}, buf, 32)
	require.NoError(t, err)
	assert.Equal(t, 24, n, "dxfer_len - resid")

	// CHECK CONDITION with an ioctl that returned 0.
	_, err = sgResult(&sgIOHdr{status: StatusCheckCondition, maskedStatus: 1, driverStatus: driverSense, sbLenWr: uint8(len(sense)), info: sgInfoCheck}, buf, 32)
	var se *SenseError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, byte(KeyIllegalRequest), se.Sense.Key)
	assert.Equal(t, byte(StatusCheckCondition), se.Status)

	// driver_status DRIVER_SENSE alone.
	_, err = sgResult(&sgIOHdr{driverStatus: driverSense, sbLenWr: uint8(len(sense)), info: sgInfoCheck}, buf, 32)
	require.ErrorAs(t, err, &se)

	// Transport failures.
	_, err = sgResult(&sgIOHdr{hostStatus: 3, info: sgInfoCheck}, buf, 32)
	var he *HostError
	require.ErrorAs(t, err, &he)
	require.ErrorIs(t, err, ErrBusy)
	assert.Contains(t, err.Error(), "DID_TIME_OUT")
	_, err = sgResult(&sgIOHdr{hostStatus: 0x11, info: sgInfoCheck}, buf, 32)
	require.ErrorAs(t, err, &he)
	assert.Contains(t, err.Error(), "DID_NEXUS_FAILURE")
	assert.NotErrorIs(t, err, ErrBusy)

	// Other statuses.
	_, err = sgResult(&sgIOHdr{status: StatusBusy, info: sgInfoCheck}, buf, 32)
	var st *StatusError
	require.ErrorAs(t, err, &st)
	_, err = sgResult(&sgIOHdr{status: StatusCheckCondition, info: sgInfoCheck}, buf, 32)
	require.Error(t, err, "CHECK CONDITION without sense")
	_, err = sgResult(&sgIOHdr{driverStatus: 0x04, info: sgInfoCheck}, buf, 32)
	require.Error(t, err, "driver status")
	_, err = sgResult(&sgIOHdr{info: sgInfoCheck}, buf, 32)
	require.Error(t, err, "info CHECK alone is not trusted")

	// Undecodable sense.
	bad := make([]byte, maxSenseLen)
	bad[0] = 0x10
	_, err = sgResult(&sgIOHdr{status: StatusCheckCondition, sbLenWr: 4, info: sgInfoCheck}, bad, 32)
	require.ErrorIs(t, err, ErrMalformed)
}

// TestSGDevice runs against a real SCSI device named by CBT_SCSI_DEVICE
// (for example /dev/sg1 of a scsi_debug LUN with lbpu=1); it needs root.
func TestSGDevice(t *testing.T) {
	path := os.Getenv("CBT_SCSI_DEVICE")
	if path == "" {
		t.Skip("set CBT_SCSI_DEVICE to a SCSI device to run against it")
	}
	dev, err := Open(path)
	require.NoError(t, err)
	defer dev.Close()
	c, err := ReadCapacity(context.Background(), dev)
	require.NoError(t, err)
	require.NotZero(t, c.Blocks)
	for _, err := range Scan(context.Background(), dev, nil) {
		require.NoError(t, err)
	}
}
