//go:build linux

package scsi_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/scsi"
)

// tgtTarget is a LUN that a private tgtd (the Linux SCSI target framework)
// exports over iSCSI from a sparse file.
type tgtTarget struct {
	addr, iqn string
	file      string
}

const tgtIQN = "iqn.2026-01.test:cbt"

// needTgtd skips the test when tgtd cannot run here, and fails it under
// CI=true, where it must.
func needTgtd(t *testing.T) {
	t.Helper()
	var missing []string
	for _, tool := range []string{"tgtd", "tgtadm"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	reason := ""
	switch {
	case len(missing) > 0:
		reason = fmt.Sprintf("%v not found (Debian package tgt)", missing)
	case os.Geteuid() != 0:
		reason = "tgtd needs root for its control socket in /var/run/tgtd"
	}
	if reason == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true: %s", reason)
	}
	t.Skip(reason)
}

// startTgtd runs a tgtd of its own (its own control port and TCP port) that
// exports file as LUN 1, thin provisioned, and stops it at cleanup.
func startTgtd(t *testing.T, file string) *tgtTarget {
	t.Helper()
	needTgtd(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	ctl := strconv.Itoa(1000 + os.Getpid()%30000)
	cmd := exec.Command("tgtd", "-f", "-C", ctl, "--iscsi", "portal="+addr)
	log := filepath.Join(t.TempDir(), "tgtd.log")
	out, err := os.Create(log)
	require.NoError(t, err)
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	adm := func(args ...string) error {
		b, err := exec.Command("tgtadm", append([]string{"-C", ctl, "--lld", "iscsi"}, args...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("tgtadm %v: %w: %s", args, err, b)
		}
		return nil
	}
	t.Cleanup(func() {
		_ = adm("--op", "delete", "--mode", "target", "--tid", "1", "--force")
		_ = adm("--op", "delete", "--mode", "system")
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill() // the process this test started
			<-done
		}
		// tgtd leaves its control socket behind.
		_ = os.Remove("/var/run/tgtd/socket." + ctl)
		_ = os.Remove("/var/run/tgtd/socket." + ctl + ".lock")
	})
	// Wait for the control socket.
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := adm("--op", "new", "--mode", "target", "--tid", "1", "-T", tgtIQN)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(log)
			t.Fatalf("tgtd did not come up: %v\n%s", err, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.NoError(t, adm("--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "1", "-b", file))
	require.NoError(t, adm("--op", "update", "--mode", "logicalunit", "--tid", "1", "--lun", "1", "--params", "thin_provisioning=1"))
	require.NoError(t, adm("--op", "bind", "--mode", "target", "--tid", "1", "-I", "ALL"))
	return &tgtTarget{addr: addr, iqn: tgtIQN, file: file}
}

func (g *tgtTarget) dial(t *testing.T) *iscsiDevice {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dev, err := dialISCSI(ctx, g.addr, g.iqn, 1)
	require.NoError(t, err)
	t.Cleanup(func() { _ = dev.Close() })
	return dev
}

// dataMap returns the data extents of file as SEEK_DATA and SEEK_HOLE see
// them: what tgtd reports mapped.
func dataMap(t *testing.T, file string) []extent.Extent {
	t.Helper()
	f, err := os.Open(file)
	require.NoError(t, err)
	defer f.Close()
	fi, err := f.Stat()
	require.NoError(t, err)
	var out []extent.Extent
	for off := int64(0); off < fi.Size(); {
		data, err := unix.Seek(int(f.Fd()), off, unix.SEEK_DATA)
		if err == unix.ENXIO {
			break
		}
		require.NoError(t, err)
		hole, err := unix.Seek(int(f.Fd()), data, unix.SEEK_HOLE)
		require.NoError(t, err)
		out = append(out, extent.FromRange(data, hole))
		off = hole
	}
	return out
}

// sparseDisk writes random data at writes into a sparse file of size bytes.
func sparseDisk(t *testing.T, size int64, writes []extent.Extent) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "disk.img")
	f, err := os.Create(p)
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, f.Truncate(size))
	for _, w := range writes {
		b := make([]byte, w.Length)
		_, _ = rand.Read(b)
		_, err := f.WriteAt(b, w.Offset)
		require.NoError(t, err)
	}
	require.NoError(t, f.Sync())
	return p
}

func covers(outer, inner []extent.Extent) bool {
	for _, e := range inner {
		ok := false
		for _, o := range outer {
			if o.Offset <= e.Offset && e.End() <= o.End() {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// Against tgtd: UNIT ATTENTION on the first command, GET LBA STATUS(32)
// refused with ILLEGAL REQUEST 20h/00, GET LBA STATUS(16) answered with
// completion condition 0, RTP 0 and statuses 0 (data) and 1 (hole).
func TestScanTgtd(t *testing.T) {
	writes := []extent.Extent{{Offset: 1 << 20, Length: 64 << 10}, {Offset: 16 << 20, Length: 32 << 10}, {Offset: 64<<20 - 4096, Length: 4096}}
	file := sparseDisk(t, 64<<20, writes)
	want := dataMap(t, file)
	require.True(t, covers(want, writes), "the file system keeps the writes as data: %v", want)
	g := startTgtd(t, file)
	dev := g.dial(t)
	ctx := context.Background()

	// The first command after login meets UNIT ATTENTION; ReadCapacity retries.
	c, err := scsi.ReadCapacity(ctx, dev)
	require.NoError(t, err)
	assert.Equal(t, scsi.Capacity{BlockSize: 512, Blocks: 64 << 11, LBPME: true, LBPRZ: true}, c)

	var got []extent.Extent
	for e, err := range scsi.Scan(ctx, dev, nil) {
		require.NoError(t, err)
		got = append(got, e)
	}
	assert.Equal(t, want, got)

	// Only the 32-byte form: tgtd does not know it.
	for _, err := range scsi.Scan(ctx, dev, &scsi.ScanOptions{Form: scsi.Form32}) {
		require.ErrorIs(t, err, scsi.ErrUnsupported)
		var se *scsi.SenseError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, byte(scsi.ASCInvalidOpcode), se.Sense.ASC)
	}

	// A window, small answers: the same truth clipped.
	start, length := int64(1<<20+4096), int64(20<<20)
	got = got[:0]
	for e, err := range scsi.Scan(ctx, dev, &scsi.ScanOptions{Start: start, Length: length, MaxAllocation: 8 + 16, Form: scsi.Form16}) {
		require.NoError(t, err)
		got = append(got, e)
	}
	var clipped []extent.Extent
	for _, e := range want {
		if x, ok := extent.ClipTo(e, start, start+length); ok {
			clipped = append(clipped, x)
		}
	}
	assert.Equal(t, clipped, got)
}

// The raw answers of tgtd decode as the notes record them.
func TestTgtdRawAnswers(t *testing.T) {
	file := sparseDisk(t, 64<<20, []extent.Extent{{Offset: 2048 * 512, Length: 128 * 512}})
	g := startTgtd(t, file)
	dev := g.dial(t)
	ctx := context.Background()
	buf := make([]byte, 4096)
	_, err := dev.Exec(ctx, scsi.ReadCapacity16CDB(32), buf)
	var se *scsi.SenseError
	require.ErrorAs(t, err, &se, "UNIT ATTENTION after login")
	assert.Equal(t, byte(scsi.KeyUnitAttention), se.Sense.Key)
	assert.Equal(t, byte(scsi.ASCPowerOnReset), se.Sense.ASC)

	n, err := dev.Exec(ctx, scsi.GetLBAStatus16CDB(scsi.LBAStatusRequest{AllocLen: 4096}), buf)
	require.NoError(t, err)
	st, err := scsi.DecodeLBAStatus(buf[:n])
	require.NoError(t, err)
	assert.False(t, st.RTP)
	assert.Equal(t, byte(scsi.CondNone), st.Condition)
	require.GreaterOrEqual(t, len(st.Descriptors), 2)
	assert.Equal(t, scsi.LBADescriptor{LBA: 0, Blocks: 2048, Provisioning: scsi.ProvDeallocated}, st.Descriptors[0])
	assert.Equal(t, uint64(2048), st.Descriptors[1].LBA)
	assert.Equal(t, byte(scsi.ProvMappedOrUnknown), st.Descriptors[1].Provisioning)

	data := make([]byte, 1024)
	n, err = dev.Exec(ctx, scsi.Read16CDB(2048, 2), data)
	require.NoError(t, err)
	require.Equal(t, 1024, n)
	want := make([]byte, 1024)
	f, err := os.Open(file)
	require.NoError(t, err)
	defer f.Close()
	_, err = f.ReadAt(want, 2048*512)
	require.NoError(t, err)
	assert.Equal(t, want, data)

	_, err = dev.Exec(ctx, scsi.GetLBAStatus32CDB(scsi.LBAStatusRequest{AllocLen: 4096, ScanLen: 1 << 21}), buf)
	require.ErrorAs(t, err, &se)
	assert.Equal(t, scsi.Sense{ResponseCode: 0x70, Key: scsi.KeyIllegalRequest, ASC: scsi.ASCInvalidOpcode}, se.Sense)
}
