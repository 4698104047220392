//go:build linux

package scsi

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Linux SG_IO constants (<scsi/sg.h>).
const (
	ioctlSGIO          = 0x2285
	ioctlSGGetVersion  = 0x2282
	sgDxferNone        = -1
	sgDxferFromDev     = -3
	sgInfoOKMask       = 0x1
	sgInfoCheck        = 0x1
	driverSense        = 0x08
	maxSenseLen        = 252
	defaultTimeout     = 60 * time.Second
	maxCDBLen          = 252
	minCDBLen          = 6
	interfaceIDSCSIGen = 'S'
)

// sgIOHdr is struct sg_io_hdr of <scsi/sg.h>: 88 bytes on amd64 and arm64.
// The buffer pointers are Go pointers, so the garbage collector sees them.
type sgIOHdr struct {
	interfaceID    int32
	dxferDirection int32
	cmdLen         uint8
	mxSbLen        uint8
	iovecCount     uint16
	dxferLen       uint32
	dxferp         *byte
	cmdp           *byte
	sbp            *byte
	timeout        uint32
	flags          uint32
	packID         int32
	_              [4]byte
	usrPtr         *byte
	status         uint8
	maskedStatus   uint8
	msgStatus      uint8
	sbLenWr        uint8
	hostStatus     uint16
	driverStatus   uint16
	resid          int32
	duration       uint32
	info           uint32
	_              [4]byte
}

// sgDevice is a Device sending commands with the SG_IO ioctl.
type sgDevice struct {
	path string
	mu   sync.RWMutex // Close waits for commands in flight
	f    *os.File
}

// Open opens a SCSI device for SG_IO: a SCSI generic device (/dev/sgN) or a
// SCSI block device (/dev/sdX), read-only. Errors: ErrUnsupported (the file
// is not a device that accepts SG_IO), or the open error as *fs.PathError (a
// missing file is fs.ErrNotExist; a permission error says to run as root).
func Open(path string) (Device, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return nil, fmt.Errorf("scsi: %w (opening a SCSI device needs read access to it: run as root or add the user to its group)", err)
		}
		return nil, fmt.Errorf("scsi: %w", err)
	}
	if err := checkSG(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("%w: %s: %w", ErrUnsupported, path, err)
	}
	return &sgDevice{path: path, f: f}, nil
}

// errNotSG says a file is not a SCSI device.
var errNotSG = errors.New("not a SCSI generic or SCSI block device (SG_IO needs /dev/sgN or /dev/sdX of a SCSI, iSCSI or SAS disk)")

// checkSG checks f is a character or block device that answers SG_GET_VERSION_NUM.
func checkSG(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeDevice == 0 {
		return fmt.Errorf("%w: it is a %s", errNotSG, kindOf(fi.Mode()))
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var version int32
	var errno unix.Errno
	if err := rc.Control(func(fd uintptr) {
		_, _, errno = unix.Syscall(unix.SYS_IOCTL, fd, ioctlSGGetVersion, uintptr(unsafe.Pointer(&version)))
	}); err != nil {
		return err
	}
	if errno != 0 {
		return fmt.Errorf("%w: SG_GET_VERSION_NUM: %w", errNotSG, errno)
	}
	if version < 30000 {
		return fmt.Errorf("%w: sg driver version %d, want 3.0 or later", errNotSG, version)
	}
	return nil
}

func kindOf(m os.FileMode) string {
	switch {
	case m.IsRegular():
		return "regular file"
	case m.IsDir():
		return "directory"
	case m&os.ModeNamedPipe != 0:
		return "named pipe"
	case m&os.ModeSocket != 0:
		return "socket"
	}
	return "file of mode " + m.String()
}

// Exec sends cdb with the SG_IO ioctl. The ioctl cannot be interrupted; ctx
// is checked before it and its deadline (at least 1 s) becomes the command
// timeout. See Device for the errors; EPERM says to run as root or with
// CAP_SYS_RAWIO.
func (d *sgDevice) Exec(ctx context.Context, cdb []byte, dataIn []byte) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if len(cdb) < minCDBLen || len(cdb) > maxCDBLen {
		return 0, fmt.Errorf("%w: CDB of %d bytes, want %d..%d", ErrInvalid, len(cdb), minCDBLen, maxCDBLen)
	}
	if uint64(len(dataIn)) > uint64(^uint32(0)) {
		return 0, fmt.Errorf("%w: data buffer of %d bytes is too large", ErrInvalid, len(dataIn))
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.f == nil {
		return 0, fmt.Errorf("%w: %s", ErrClosed, d.path)
	}
	timeout := defaultTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = max(min(time.Until(dl), timeout), time.Second)
	}
	cmd := append([]byte(nil), cdb...) // heap copy the kernel reads
	sense := make([]byte, maxSenseLen)
	h := &sgIOHdr{
		interfaceID:    interfaceIDSCSIGen,
		dxferDirection: sgDxferNone,
		cmdLen:         uint8(len(cmd)),
		mxSbLen:        uint8(len(sense)),
		cmdp:           &cmd[0],
		sbp:            &sense[0],
		timeout:        uint32(timeout / time.Millisecond),
	}
	if len(dataIn) > 0 {
		h.dxferDirection = sgDxferFromDev
		h.dxferLen = uint32(len(dataIn))
		h.dxferp = &dataIn[0]
	}
	var pin runtime.Pinner
	pin.Pin(h)
	pin.Pin(&cmd[0])
	pin.Pin(&sense[0])
	if len(dataIn) > 0 {
		pin.Pin(&dataIn[0])
	}
	defer pin.Unpin()
	rc, err := d.f.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("scsi: %s: %w", d.path, err)
	}
	var errno unix.Errno
	if err := rc.Control(func(fd uintptr) {
		_, _, errno = unix.Syscall(unix.SYS_IOCTL, fd, ioctlSGIO, uintptr(unsafe.Pointer(h)))
	}); err != nil {
		return 0, fmt.Errorf("scsi: %s: %w", d.path, err)
	}
	runtime.KeepAlive(cmd)
	runtime.KeepAlive(sense)
	runtime.KeepAlive(dataIn)
	if errno != 0 {
		return 0, sgioErrno(d.path, cdb[0], errno)
	}
	return sgResult(h, sense, len(dataIn))
}

// sgioErrno explains an errno of the SG_IO ioctl.
func sgioErrno(path string, opcode byte, errno unix.Errno) error {
	switch errno {
	case unix.EPERM:
		return fmt.Errorf("scsi: %s: SG_IO of opcode 0x%02x: %w (this command needs root or the CAP_SYS_RAWIO capability: run as root, or grant it with setcap cap_sys_rawio+ep)", path, opcode, errno)
	case unix.EACCES:
		return fmt.Errorf("scsi: %s: SG_IO of opcode 0x%02x: %w (open the device with write access or run as root)", path, opcode, errno)
	case unix.ENOTTY, unix.EINVAL:
		return fmt.Errorf("%w: %s: SG_IO of opcode 0x%02x: %w (the device does not accept this SCSI command through SG_IO)", ErrUnsupported, path, opcode, errno)
	case unix.EMSGSIZE:
		return fmt.Errorf("%w: %s: SG_IO: %w (CDB length rejected)", ErrUnsupported, path, errno)
	case unix.EIO, unix.ENOMEM:
		return fmt.Errorf("scsi: %s: SG_IO of opcode 0x%02x: %w (the transfer may exceed the device's maximum; try a smaller allocation length)", path, opcode, errno)
	}
	return fmt.Errorf("scsi: %s: SG_IO of opcode 0x%02x: %w", path, opcode, errno)
}

// sgResult turns the fields SG_IO filled in into the bytes transferred and
// an error. The ioctl succeeds even when the command failed, so status,
// host_status, driver_status and info are all checked.
func sgResult(h *sgIOHdr, sense []byte, dataLen int) (int, error) {
	n := dataLen - int(h.resid)
	if h.resid < 0 || n < 0 {
		n = 0
	}
	if h.info&sgInfoOKMask != sgInfoCheck && h.status == StatusGood && h.hostStatus == 0 && h.driverStatus&0xf == 0 {
		return n, nil
	}
	sbLen := min(int(h.sbLenWr), len(sense))
	if h.status == StatusCheckCondition || h.driverStatus&0xf == driverSense || (h.status == 0x22 && sbLen > 0) {
		if sbLen > 0 {
			s, err := DecodeSense(sense[:sbLen])
			if err != nil {
				return 0, fmt.Errorf("scsi: status 0x%02x with undecodable sense: %w", h.status, err)
			}
			return 0, &SenseError{Status: h.status, Sense: s}
		}
	}
	if h.hostStatus != 0 {
		err := &HostError{HostStatus: h.hostStatus}
		switch h.hostStatus {
		case 1, 2, 3, 12, 13, 14: // NO_CONNECT, BUS_BUSY, TIME_OUT, IMM_RETRY, REQUEUE, TRANSPORT_DISRUPTED
			return 0, fmt.Errorf("%w: %w", ErrBusy, err)
		}
		return 0, err
	}
	if h.status&0x7e != 0 {
		return 0, &StatusError{Status: h.status}
	}
	if h.status == StatusCheckCondition {
		return 0, fmt.Errorf("scsi: CHECK CONDITION without sense data")
	}
	if h.driverStatus&0xf != 0 {
		return 0, fmt.Errorf("scsi: driver status 0x%02x", h.driverStatus)
	}
	// info says the command failed though no field says how: do not trust
	// the data.
	return 0, fmt.Errorf("scsi: SG_IO reports a failed command (info 0x%x, status 0x%02x, driver status 0x%02x)", h.info, h.status, h.driverStatus)
}

// Close closes the device, waiting for commands in flight.
func (d *sgDevice) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		return nil
	}
	err := d.f.Close()
	d.f = nil
	return err
}
