//go:build linux

package scsi_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/changedblocks/sdk/internal/scsi"
)

// iscsiDevice is a minimal iSCSI initiator (RFC 7143) implementing
// scsi.Device over TCP, for tests against tgtd: login without
// authentication, one connection, READ-direction commands only, CDBs over
// 16 bytes in an extended-CDB AHS. No digests, no error recovery.
type iscsiDevice struct {
	mu        sync.Mutex
	conn      net.Conn
	lun       uint16
	cmdSN     uint32
	expStatSN uint32
	itt       uint32
	maxRecv   int
}

// iSCSI opcodes.
const (
	opSCSICmd   = 0x01
	opLoginReq  = 0x03
	opNopIn     = 0x20
	opSCSIResp  = 0x21
	opLoginResp = 0x23
	opDataIn    = 0x25
	opReject    = 0x3f
)

const maxRecvDataSegment = 1 << 18

// dialISCSI connects to target at addr and logs in to a normal session.
func dialISCSI(ctx context.Context, addr, target string, lun uint16) (*iscsiDevice, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	dev := &iscsiDevice{conn: conn, lun: lun, maxRecv: maxRecvDataSegment}
	if err := dev.login(target); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("iscsi login to %s at %s: %w", target, addr, err)
	}
	return dev, nil
}

// pdu is one iSCSI PDU: the 48-byte basic header segment, the AHS and the data.
type pdu struct {
	bhs  [48]byte
	ahs  []byte
	data []byte
}

func pad4(n int) int { return (n + 3) &^ 3 }

func (d *iscsiDevice) send(p *pdu) error {
	p.bhs[4] = byte(len(p.ahs) / 4)
	n := len(p.data)
	p.bhs[5], p.bhs[6], p.bhs[7] = byte(n>>16), byte(n>>8), byte(n)
	buf := make([]byte, 0, 48+len(p.ahs)+pad4(n))
	buf = append(buf, p.bhs[:]...)
	buf = append(buf, p.ahs...)
	buf = append(buf, p.data...)
	buf = append(buf, make([]byte, pad4(n)-n)...)
	_, err := d.conn.Write(buf)
	return err
}

func (d *iscsiDevice) recv() (*pdu, error) {
	p := &pdu{}
	if _, err := io.ReadFull(d.conn, p.bhs[:]); err != nil {
		return nil, err
	}
	ahsLen := int(p.bhs[4]) * 4
	dataLen := int(p.bhs[5])<<16 | int(p.bhs[6])<<8 | int(p.bhs[7])
	if dataLen > d.maxRecv {
		return nil, fmt.Errorf("data segment of %d bytes over the %d negotiated", dataLen, d.maxRecv)
	}
	rest := make([]byte, ahsLen+pad4(dataLen))
	if _, err := io.ReadFull(d.conn, rest); err != nil {
		return nil, err
	}
	p.ahs = rest[:ahsLen]
	p.data = rest[ahsLen : ahsLen+dataLen]
	return p, nil
}

func keys(kv ...string) []byte {
	var b []byte
	for _, s := range kv {
		b = append(b, s...)
		b = append(b, 0)
	}
	return b
}

func (d *iscsiDevice) login(target string) error {
	isid := []byte{0x80, 0x12, 0x34, 0x56, 0x78, 0x9a}
	stages := []struct {
		csg, nsg byte
		data     []byte
	}{
		{0, 1, keys("InitiatorName=iqn.2026-01.test:initiator", "SessionType=Normal", "TargetName="+target, "AuthMethod=None")},
		{1, 3, keys("HeaderDigest=None", "DataDigest=None", fmt.Sprintf("MaxRecvDataSegmentLength=%d", maxRecvDataSegment),
			"InitialR2T=Yes", "ImmediateData=No", "MaxBurstLength=16776192", "FirstBurstLength=262144",
			"DefaultTime2Wait=2", "DefaultTime2Retain=0", "MaxOutstandingR2T=1", "MaxConnections=1",
			"DataPDUInOrder=Yes", "DataSequenceInOrder=Yes", "ErrorRecoveryLevel=0")},
	}
	var tsih uint16
	for _, st := range stages {
		p := &pdu{data: st.data}
		p.bhs[0] = 0x40 | opLoginReq
		p.bhs[1] = 0x80 | st.csg<<2 | st.nsg // transit
		copy(p.bhs[8:14], isid)
		binary.BigEndian.PutUint16(p.bhs[14:16], tsih)
		binary.BigEndian.PutUint32(p.bhs[16:20], d.itt)
		binary.BigEndian.PutUint32(p.bhs[24:28], d.cmdSN)
		binary.BigEndian.PutUint32(p.bhs[28:32], d.expStatSN)
		if err := d.send(p); err != nil {
			return err
		}
		r, err := d.recv()
		if err != nil {
			return err
		}
		if r.bhs[0]&0x3f != opLoginResp {
			return fmt.Errorf("answer opcode 0x%02x, want a login response", r.bhs[0]&0x3f)
		}
		if r.bhs[36] != 0 {
			return fmt.Errorf("login status class %d detail %d", r.bhs[36], r.bhs[37])
		}
		if r.bhs[1]&0x80 == 0 || r.bhs[1]&0x03 != st.nsg {
			return fmt.Errorf("the target did not move to stage %d (flags 0x%02x, keys %q)", st.nsg, r.bhs[1], strings.ReplaceAll(string(r.data), "\x00", " "))
		}
		tsih = binary.BigEndian.Uint16(r.bhs[14:16])
		d.expStatSN = binary.BigEndian.Uint32(r.bhs[24:28]) + 1
		d.cmdSN = binary.BigEndian.Uint32(r.bhs[28:32])
		d.itt++
	}
	return nil
}

// Exec sends one READ-direction command and collects Data-In and the response.
func (d *iscsiDevice) Exec(ctx context.Context, cdb []byte, dataIn []byte) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn == nil {
		return 0, errors.New("iscsi: closed")
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = d.conn.SetDeadline(dl)
	} else {
		_ = d.conn.SetDeadline(time.Now().Add(30 * time.Second))
	}
	itt := d.itt
	d.itt++
	p := &pdu{}
	p.bhs[0] = opSCSICmd
	p.bhs[1] = 0x80 | 0x01 // final, simple task attribute
	if len(dataIn) > 0 {
		p.bhs[1] |= 0x40 // read
	}
	binary.BigEndian.PutUint16(p.bhs[8:10], d.lun)
	binary.BigEndian.PutUint32(p.bhs[16:20], itt)
	binary.BigEndian.PutUint32(p.bhs[20:24], uint32(len(dataIn)))
	binary.BigEndian.PutUint32(p.bhs[24:28], d.cmdSN)
	binary.BigEndian.PutUint32(p.bhs[28:32], d.expStatSN)
	copy(p.bhs[32:48], cdb)
	if len(cdb) > 16 {
		ext := cdb[16:]
		ahs := make([]byte, pad4(4+len(ext)))
		binary.BigEndian.PutUint16(ahs[0:2], uint16(len(ext)+1))
		ahs[2] = 1 // extended CDB
		copy(ahs[4:], ext)
		p.ahs = ahs
	}
	d.cmdSN++
	if err := d.send(p); err != nil {
		return 0, err
	}
	n := 0
	for {
		r, err := d.recv()
		if err != nil {
			return 0, err
		}
		switch r.bhs[0] & 0x3f {
		case opNopIn:
			continue
		case opReject:
			return 0, fmt.Errorf("iscsi: the target rejected the PDU (reason 0x%02x)", r.bhs[2])
		case opDataIn:
			off := int(binary.BigEndian.Uint32(r.bhs[40:44]))
			if off+len(r.data) > len(dataIn) {
				return 0, fmt.Errorf("iscsi: Data-In at %d+%d past the %d-byte buffer", off, len(r.data), len(dataIn))
			}
			copy(dataIn[off:], r.data)
			n = max(n, off+len(r.data))
			if r.bhs[1]&0x01 == 0 { // no status in this PDU
				continue
			}
			d.expStatSN = binary.BigEndian.Uint32(r.bhs[24:28]) + 1
			if st := r.bhs[3]; st != scsi.StatusGood {
				return 0, &scsi.StatusError{Status: st}
			}
			return n, nil
		case opSCSIResp:
			d.expStatSN = binary.BigEndian.Uint32(r.bhs[24:28]) + 1
			if r.bhs[2] != 0 {
				return 0, fmt.Errorf("iscsi: response 0x%02x (target failure)", r.bhs[2])
			}
			st := r.bhs[3]
			if st == scsi.StatusGood {
				return n, nil
			}
			if st == scsi.StatusCheckCondition && len(r.data) >= 2 {
				sl := min(int(binary.BigEndian.Uint16(r.data[0:2])), len(r.data)-2)
				s, err := scsi.DecodeSense(r.data[2 : 2+sl])
				if err != nil {
					return 0, err
				}
				return 0, &scsi.SenseError{Status: st, Sense: s}
			}
			return 0, &scsi.StatusError{Status: st}
		default:
			return 0, fmt.Errorf("iscsi: unexpected opcode 0x%02x", r.bhs[0]&0x3f)
		}
	}
}

func (d *iscsiDevice) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn == nil {
		return nil
	}
	err := d.conn.Close()
	d.conn = nil
	return err
}
