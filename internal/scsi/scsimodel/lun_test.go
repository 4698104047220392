package scsimodel

import (
	"bytes"
	"context"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/scsi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.NewReplacer(" ", "", "|", "", "\n", "", "\t", "").Replace(s))
	require.NoError(t, err)
	return b
}

// lun96 is 2048 blocks of 512 bytes with LBAs 96..103 changed.
func lun96(t *testing.T) *LUN {
	l, err := New(1<<20, 512, []extent.Extent{{Offset: 96 * 512, Length: 8 * 512}})
	require.NoError(t, err)
	return l
}

func exec(t *testing.T, l *LUN, cdb []byte, n int) ([]byte, error) {
	t.Helper()
	buf := make([]byte, n)
	got, err := l.Exec(context.Background(), cdb, buf)
	return buf[:got], err
}

func senseOf(t *testing.T, err error) scsi.Sense {
	t.Helper()
	var se *scsi.SenseError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, byte(scsi.StatusCheckCondition), se.Status)
	return se.Sense
}

func TestReadCapacityBytes(t *testing.T) {
	l := lun96(t)
	b, err := exec(t, l, scsi.ReadCapacity16CDB(32), 64)
	require.NoError(t, err)
	assert.Equal(t, unhex(t, "00000000000007ff 00000200 00 00 80 00"+strings.Repeat("00", 16)), b)
	b, err = exec(t, l, scsi.ReadCapacity16CDB(12), 64)
	require.NoError(t, err)
	assert.Len(t, b, 12, "allocation length")
}

func TestGetLBAStatusBytes(t *testing.T) {
	l := lun96(t)
	req := scsi.LBAStatusRequest{StartLBA: 96, AllocLen: 32768, ScanLen: 2097152}
	b, err := exec(t, l, scsi.GetLBAStatus32CDB(req), 32768)
	require.NoError(t, err)
	assert.Equal(t, unhex(t, `00000024 00000007
		0000000000000060 00000008 03 00 0000
		0000000000000068 00000798 01 00 0000`), b, "condition 3 (capacity), RTP 1")

	req = scsi.LBAStatusRequest{AllocLen: 32768, ScanLen: 100}
	b, err = exec(t, l, scsi.GetLBAStatus32CDB(req), 32768)
	require.NoError(t, err)
	assert.Equal(t, unhex(t, `00000024 00000005
		0000000000000000 00000060 01 00 0000
		0000000000000060 00000004 03 00 0000`), b, "condition 2 (scan length)")

	// The 16-byte form has no scan length.
	b, err = exec(t, l, scsi.GetLBAStatus16CDB(req), 32768)
	require.NoError(t, err)
	assert.Equal(t, byte(0x07), b[7])
	assert.Len(t, b, 8+3*16)

	// The allocation length holds two descriptors: condition 1.
	req = scsi.LBAStatusRequest{AllocLen: 8 + 2*16 + 15}
	b, err = exec(t, l, scsi.GetLBAStatus32CDB(req), 100)
	require.NoError(t, err)
	assert.Equal(t, unhex(t, `00000024 00000003
		0000000000000000 00000060 01 00 0000
		0000000000000060 00000008 03 00 0000`), b)

	// SPC truncation: the full length announced, the bytes cut.
	l.Truncate = true
	b, err = exec(t, l, scsi.GetLBAStatus32CDB(req), 100)
	require.NoError(t, err)
	assert.Equal(t, unhex(t, `00000034 00000007
		0000000000000000 00000060 01 00 0000
		0000000000000060 00000008 03 00 0000
		000000000000006800000798 01 00 00`), b)
	l.Truncate = false

	// A smaller buffer than the allocation length.
	b, err = exec(t, l, scsi.GetLBAStatus32CDB(scsi.LBAStatusRequest{AllocLen: 4096}), 20)
	require.NoError(t, err)
	assert.Len(t, b, 20)

	// MaxDescriptors with a chosen condition.
	l.MaxDescriptors, l.LimitCondition = 1, scsi.CondScanLen
	b, err = exec(t, l, scsi.GetLBAStatus32CDB(scsi.LBAStatusRequest{AllocLen: 4096}), 4096)
	require.NoError(t, err)
	assert.Equal(t, unhex(t, `00000014 00000005 0000000000000000 00000060 01 00 0000`), b)
	l.NoCompletionCondition = true
	b, err = exec(t, l, scsi.GetLBAStatus32CDB(scsi.LBAStatusRequest{AllocLen: 4096}), 4096)
	require.NoError(t, err)
	assert.Equal(t, byte(0x01), b[7], "condition 0, RTP 1")
}

func TestGetLBAStatusReportTypes(t *testing.T) {
	l := lun96(t)
	ask := func(rt byte, start uint64, scan uint32) scsi.LBAStatus {
		b, err := exec(t, l, scsi.GetLBAStatus32CDB(scsi.LBAStatusRequest{StartLBA: start, ReportType: rt, ScanLen: scan, AllocLen: 4096}), 4096)
		require.NoError(t, err)
		st, err := scsi.DecodeLBAStatus(b)
		require.NoError(t, err)
		return st
	}
	st := ask(scsi.ReportMapped, 0, 0)
	assert.True(t, st.RTP)
	assert.Equal(t, []scsi.LBADescriptor{{LBA: 96, Blocks: 8, Provisioning: scsi.ProvMapped}}, st.Descriptors)
	st = ask(scsi.ReportDeallocated, 0, 0)
	assert.Len(t, st.Descriptors, 2)
	assert.Empty(t, ask(scsi.ReportAnchored, 0, 0).Descriptors)

	l.IgnoreReportType = true
	st = ask(scsi.ReportMapped, 0, 0)
	assert.False(t, st.RTP)
	assert.Len(t, st.Descriptors, 3, "every LBA, RTP 0")

	l.IgnoreScanLength = true
	st = ask(scsi.ReportAll, 0, 10)
	assert.Len(t, st.Descriptors, 3, "past the scan length")
	assert.Equal(t, byte(scsi.CondCapacity), st.Condition)

	l.OvershootStart = true
	st = ask(scsi.ReportAll, 100, 0)
	assert.Equal(t, scsi.LBADescriptor{LBA: 96, Blocks: 8, Provisioning: scsi.ProvMapped}, st.Descriptors[0])
	st = ask(scsi.ReportAll, 200, 0)
	assert.Equal(t, scsi.LBADescriptor{LBA: 104, Blocks: 2048 - 104, Provisioning: scsi.ProvDeallocated}, st.Descriptors[0])
	st = ask(scsi.ReportAll, 50, 0)
	assert.Equal(t, scsi.LBADescriptor{LBA: 0, Blocks: 96, Provisioning: scsi.ProvDeallocated}, st.Descriptors[0])
}

func TestLongRunsSplit(t *testing.T) {
	l := &LUN{BlockSize: 512, Blocks: 1 << 34, Runs: []Run{{LBA: 1, Blocks: 1<<33 + 5, Status: scsi.ProvAnchored}}}
	b, err := exec(t, l, scsi.GetLBAStatus16CDB(scsi.LBAStatusRequest{AllocLen: 4096}), 4096)
	require.NoError(t, err)
	st, err := scsi.DecodeLBAStatus(b)
	require.NoError(t, err)
	var total uint64
	for _, d := range st.Descriptors[1:4] {
		assert.Equal(t, byte(scsi.ProvAnchored), d.Provisioning)
		total += uint64(d.Blocks)
	}
	assert.Equal(t, uint64(1<<33+5), total)
	assert.Equal(t, uint64(1<<33+6), st.Descriptors[4].LBA)
}

func TestErrorsAndSense(t *testing.T) {
	l := lun96(t)
	l.UnitAttentions = 2
	for range 2 {
		_, err := exec(t, l, scsi.ReadCapacity16CDB(32), 32)
		s := senseOf(t, err)
		assert.Equal(t, scsi.Sense{ResponseCode: 0x70, Key: scsi.KeyUnitAttention, ASC: 0x29}, s)
	}
	_, err := exec(t, l, scsi.ReadCapacity16CDB(32), 32)
	require.NoError(t, err, "only twice")

	l.DescriptorSense = true
	l.No32 = true
	_, err = exec(t, l, scsi.GetLBAStatus32CDB(scsi.LBAStatusRequest{AllocLen: 64}), 64)
	assert.Equal(t, scsi.Sense{ResponseCode: 0x72, Key: scsi.KeyIllegalRequest, ASC: 0x20}, senseOf(t, err))
	l.No16 = true
	_, err = exec(t, l, scsi.GetLBAStatus16CDB(scsi.LBAStatusRequest{AllocLen: 64}), 64)
	assert.Equal(t, byte(0x20), senseOf(t, err).ASC)
	l.No32, l.No16 = false, false

	bad := scsi.GetLBAStatus32CDB(scsi.LBAStatusRequest{AllocLen: 64, ElementID: 1})
	_, err = exec(t, l, bad, 64)
	assert.Equal(t, byte(0x24), senseOf(t, err).ASC, "element identifier")
	bad = scsi.GetLBAStatus32CDB(scsi.LBAStatusRequest{AllocLen: 64})
	bad[9] = 0x13
	_, err = exec(t, l, bad, 64)
	assert.Equal(t, byte(0x24), senseOf(t, err).ASC, "service action")
	_, err = exec(t, l, scsi.GetLBAStatus32CDB(scsi.LBAStatusRequest{AllocLen: 64, ReportType: 9}), 64)
	assert.Equal(t, byte(0x24), senseOf(t, err).ASC, "report type")
	_, err = exec(t, l, scsi.GetLBAStatus32CDB(scsi.LBAStatusRequest{AllocLen: 64, StartLBA: 2048}), 64)
	assert.Equal(t, byte(0x21), senseOf(t, err).ASC, "LBA out of range")
	_, err = exec(t, l, []byte{0x12, 0, 0, 0, 36, 0}, 36)
	assert.Equal(t, byte(0x20), senseOf(t, err).ASC, "INQUIRY is not modelled")
	_, err = exec(t, l, []byte{0, 0, 0, 0, 0, 0}, 0)
	require.NoError(t, err, "TEST UNIT READY")

	l.Runs = append(l.Runs, Run{LBA: 100, Blocks: 1, Status: 3})
	_, err = exec(t, l, scsi.GetLBAStatus16CDB(scsi.LBAStatusRequest{AllocLen: 64}), 64)
	require.ErrorIs(t, err, scsi.ErrInvalid, "overlapping Runs")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = l.Exec(ctx, scsi.ReadCapacity16CDB(32), make([]byte, 32))
	require.ErrorIs(t, err, context.Canceled)
	assert.Len(t, l.Commands(), 12, "a canceled command is not received")
	require.NoError(t, l.Close())
	_, err = exec(t, l, scsi.ReadCapacity16CDB(32), 32)
	require.ErrorIs(t, err, scsi.ErrClosed)
}

func TestRead16(t *testing.T) {
	l := lun96(t)
	_, err := exec(t, l, scsi.Read16CDB(0, 1), 512)
	assert.Equal(t, byte(0x20), senseOf(t, err).ASC, "no Data")
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	l.Data = bytes.NewReader(data)
	b, err := exec(t, l, scsi.Read16CDB(96, 2), 1024)
	require.NoError(t, err)
	assert.Equal(t, data[96*512:98*512], b)
	_, err = exec(t, l, scsi.Read16CDB(2047, 2), 1024)
	assert.Equal(t, byte(0x21), senseOf(t, err).ASC)
	l.Data = bytes.NewReader(data[:1000])
	_, err = exec(t, l, scsi.Read16CDB(1, 1), 512)
	assert.Equal(t, byte(scsi.KeyMediumError), senseOf(t, err).Key)
}

func TestNew(t *testing.T) {
	l, err := New(1<<20, 4096, []extent.Extent{{Offset: 5000, Length: 10}, {Offset: 0, Length: 1}, {Offset: 4096, Length: 4096}, {Offset: 100000, Length: 0}})
	require.NoError(t, err)
	assert.Equal(t, []Run{{LBA: 0, Blocks: 2, Status: scsi.ProvMapped}}, l.Runs)
	assert.Equal(t, []extent.Extent{{Offset: 0, Length: 8192}}, l.Truth())
	assert.Equal(t, uint64(256), l.Blocks)
	_, err = New(1<<20+1, 4096, nil)
	require.ErrorIs(t, err, scsi.ErrInvalid)
	_, err = New(1<<20, 0, nil)
	require.ErrorIs(t, err, scsi.ErrInvalid)
	_, err = New(1<<20, 4096, []extent.Extent{{Offset: 1<<20 - 1, Length: 2}})
	require.ErrorIs(t, err, scsi.ErrInvalid)

	l = &LUN{BlockSize: 512, Blocks: 100, Runs: []Run{{LBA: 0, Blocks: 2, Status: 1}, {LBA: 2, Blocks: 2, Status: 0}, {LBA: 4, Blocks: 2, Status: 2}, {LBA: 10, Blocks: 1, Status: 3}}}
	assert.Equal(t, []extent.Extent{{Offset: 1024, Length: 2048}, {Offset: 5120, Length: 512}}, l.Truth())
}

// FuzzExec sends arbitrary CDBs: the model must not panic, and what it
// answers to GET LBA STATUS must decode.
func FuzzExec(f *testing.F) {
	f.Add(scsi.GetLBAStatus32CDB(scsi.LBAStatusRequest{StartLBA: 5, AllocLen: 100, ScanLen: 7}), uint16(100), byte(0))
	f.Add(scsi.GetLBAStatus16CDB(scsi.LBAStatusRequest{StartLBA: 5, AllocLen: 100}), uint16(100), byte(0xff))
	f.Add(scsi.ReadCapacity16CDB(32), uint16(3), byte(0x0f))
	f.Fuzz(func(t *testing.T, cdb []byte, n uint16, flags byte) {
		l := &LUN{BlockSize: 512, Blocks: 5000, Runs: []Run{{LBA: 3, Blocks: 10, Status: 3}, {LBA: 100, Blocks: 1000, Status: 2}},
			MaxDescriptors: int(flags & 3), Truncate: flags&4 != 0, IgnoreReportType: flags&8 != 0, IgnoreScanLength: flags&16 != 0,
			OvershootStart: flags&32 != 0, NoCompletionCondition: flags&64 != 0, DescriptorSense: flags&128 != 0}
		buf := make([]byte, n)
		got, err := l.Exec(context.Background(), cdb, buf)
		if got < 0 || got > len(buf) {
			t.Fatalf("%d bytes into %d", got, len(buf))
		}
		if err == nil && len(cdb) > 0 && (cdb[0] == scsi.OpVariableLength || cdb[0] == scsi.OpServiceActionIn16 && cdb[1]&0x1f == scsi.SAGetLBAStatus) && got >= 8 {
			if _, err := scsi.DecodeLBAStatus(buf[:got]); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// sg_get_lba_status (sg3-utils 1.46) --inhex decodes these bytes as:
//
//	Command completed due to meeting scan length (--scan-len=SL)
//	RTP=1
//	[1] LBA: 0x0000000000000000  blocks:         96  deallocated
//	[2] LBA: 0x0000000000000060  blocks:          8  mapped
//	[3] LBA: 0x0000000000000068  blocks:         96  deallocated
//	[4] LBA: 0x00000000000000c8  blocks:          5  anchored
//	[5] LBA: 0x00000000000000cd  blocks:         95  deallocated
func TestAnswerAsSgDecodesIt(t *testing.T) {
	l := lun96(t)
	l.Runs = append(l.Runs, Run{LBA: 200, Blocks: 5, Status: scsi.ProvAnchored})
	b, err := exec(t, l, scsi.GetLBAStatus32CDB(scsi.LBAStatusRequest{AllocLen: 4096, ScanLen: 300}), 4096)
	require.NoError(t, err)
	assert.Equal(t, unhex(t, `00 00 00 54 00 00 00 05 00 00 00 00 00 00 00 00
		00 00 00 60 01 00 00 00 00 00 00 00 00 00 00 60
		00 00 00 08 03 00 00 00 00 00 00 00 00 00 00 68
		00 00 00 60 01 00 00 00 00 00 00 00 00 00 00 c8
		00 00 00 05 02 00 00 00 00 00 00 00 00 00 00 cd
		00 00 00 5f 01 00 00 00`), b)
}
