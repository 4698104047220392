package scsi_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/scsi"
	"github.com/changedblocks/sdk/internal/scsi/scsimodel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func collect(t testing.TB, dev scsi.Device, opts *scsi.ScanOptions) ([]extent.Extent, error) {
	t.Helper()
	var out []extent.Extent
	for e, err := range scsi.Scan(context.Background(), dev, opts) {
		if err != nil {
			return out, err
		}
		require.True(t, e.Valid(), "extent %v", e)
		if n := len(out); n > 0 {
			require.Greater(t, e.Offset, out[n-1].End(), "ascending and coalesced")
		}
		out = append(out, e)
	}
	return out, nil
}

// randomLUN returns a LUN of blocks blocks with random runs of every
// provisioning status, deallocated ones included.
func randomLUN(r *rand.Rand, blockSize uint32, blocks uint64) *scsimodel.LUN {
	l := &scsimodel.LUN{BlockSize: blockSize, Blocks: blocks}
	lba := uint64(0)
	for lba < blocks {
		lba += uint64(r.IntN(int(min(blocks/8+1, 1<<22)))) // gap
		if lba >= blocks {
			break
		}
		n := min(uint64(1+r.IntN(int(min(blocks/16+1, 1<<21)))), blocks-lba)
		st := []byte{scsi.ProvMapped, scsi.ProvMapped, scsi.ProvMapped, scsi.ProvMappedOrUnknown, scsi.ProvAnchored, scsi.ProvUnknown, scsi.ProvDeallocated, 9}[r.IntN(8)]
		l.Runs = append(l.Runs, scsimodel.Run{LBA: lba, Blocks: n, Status: st})
		lba += n
	}
	return l
}

// behaviours are the ways the model can answer; the scan must reach the
// truth through every one.
var behaviours = []struct {
	name string
	set  func(*scsimodel.LUN, *scsi.ScanOptions)
}{
	{"plain", func(*scsimodel.LUN, *scsi.ScanOptions) {}},
	{"few descriptors, condition 1", func(l *scsimodel.LUN, _ *scsi.ScanOptions) { l.MaxDescriptors = 3 }},
	{"small allocation", func(_ *scsimodel.LUN, o *scsi.ScanOptions) { o.MaxAllocation = 8 + 2*16 }},
	{"SPC truncation", func(l *scsimodel.LUN, o *scsi.ScanOptions) { l.Truncate = true; o.MaxAllocation = 8 + 2*16 + 7 }},
	{"no completion condition", func(l *scsimodel.LUN, _ *scsi.ScanOptions) { l.NoCompletionCondition = true; l.MaxDescriptors = 2 }},
	{"limit reports condition 2", func(l *scsimodel.LUN, _ *scsi.ScanOptions) { l.MaxDescriptors = 1; l.LimitCondition = scsi.CondNone }},
	{"RTP 0 with report type deallocated", func(l *scsimodel.LUN, o *scsi.ScanOptions) {
		l.IgnoreReportType = true
		o.ReportType = scsi.ReportDeallocated
		l.MaxDescriptors = 4
	}},
	{"report type deallocated honoured", func(l *scsimodel.LUN, o *scsi.ScanOptions) {
		o.ReportType = scsi.ReportDeallocated
		l.MaxDescriptors = 2
	}},
	{"scan length ignored", func(l *scsimodel.LUN, o *scsi.ScanOptions) { l.IgnoreScanLength = true; o.WindowBytes = 1 << 20 }},
	{"overshoot start", func(l *scsimodel.LUN, o *scsi.ScanOptions) {
		l.OvershootStart = true
		l.MaxDescriptors = 2
		o.WindowBytes = 3 << 20
	}},
	{"16-byte only", func(l *scsimodel.LUN, o *scsi.ScanOptions) { l.No32 = true; l.MaxDescriptors = 5 }},
	{"unit attention", func(l *scsimodel.LUN, _ *scsi.ScanOptions) { l.UnitAttentions = 3; l.DescriptorSense = true }},
	{"small windows", func(_ *scsimodel.LUN, o *scsi.ScanOptions) { o.WindowBytes = 64 << 10 }},
}

func TestScanReachesTheTruth(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, b := range behaviours {
		for i := range 12 {
			bs := []uint32{512, 4096}[i%2]
			blocks := uint64(1 + r.IntN(1<<22))
			if i%3 == 0 {
				blocks = uint64(1+r.IntN(200)) << 20 // up to 100 GiB of 512-byte blocks
			}
			l := randomLUN(r, bs, blocks)
			truth := l.Truth()
			t.Run(fmt.Sprintf("%s/%d", b.name, i), func(t *testing.T) {
				opts := &scsi.ScanOptions{}
				b.set(l, opts)
				if opts.WindowBytes != 0 { // keep the command count down on big LUNs
					opts.WindowBytes = min(max(opts.WindowBytes, int64(blocks)*int64(bs)/64), 1<<30)
				}
				got, err := collect(t, l, opts)
				require.NoError(t, err)
				assert.Equal(t, truth, got)
				checkWindows(t, l)
			})
		}
	}
}

// checkWindows checks every GET LBA STATUS(32) asked for at most 1 GiB.
func checkWindows(t *testing.T, l *scsimodel.LUN) {
	t.Helper()
	for _, c := range l.Commands() {
		if c[0] == scsi.OpVariableLength {
			sl := uint64(binary.BigEndian.Uint32(c[20:24]))
			require.NotZero(t, sl)
			require.LessOrEqual(t, sl*uint64(l.BlockSize), uint64(1<<30))
		}
	}
}

func TestScanWindowIs1GiBOfBlocks(t *testing.T) {
	for _, bs := range []uint32{512, 4096} {
		l, err := scsimodel.New(3<<30+5*int64(bs), bs, []extent.Extent{{Offset: 1 << 30, Length: 1 << 20}})
		require.NoError(t, err)
		got, err := collect(t, l, nil)
		require.NoError(t, err)
		assert.Equal(t, l.Truth(), got)
		cmds := l.Commands()
		require.Len(t, cmds, 5, "READ CAPACITY and four windows")
		assert.Equal(t, scsi.ReadCapacity16CDB(32), cmds[0])
		blocks := uint32((1 << 30) / bs)
		for i, c := range cmds[1:] {
			lba := uint64(i) * uint64(blocks)
			want := scsi.GetLBAStatus32CDB(scsi.LBAStatusRequest{StartLBA: lba, ScanLen: min(blocks, uint32(l.Blocks-lba)), AllocLen: scsi.DefaultMaxAllocation})
			assert.Equal(t, want, c, "window %d", i)
		}
	}
}

func TestScanStartLength(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 40 {
		l := randomLUN(r, 4096, 1<<18)
		capacity := int64(l.Blocks) * 4096
		start := r.Int64N(capacity + 1)
		length := r.Int64N(capacity-start+1) + int64(i%2)*capacity // sometimes past the end
		got, err := collect(t, l, &scsi.ScanOptions{Start: start, Length: length, WindowBytes: 1 << 28})
		require.NoError(t, err)
		end := capacity
		if length != 0 && length < capacity-start {
			end = start + length
		}
		var want []extent.Extent
		for _, e := range l.Truth() {
			if c, ok := extent.ClipTo(e, start, end); ok {
				want = append(want, c)
			}
		}
		assert.Equal(t, want, got, "start %d length %d", start, length)
	}
}

func TestScanFallsBackTo16(t *testing.T) {
	l, err := scsimodel.New(1<<30, 512, []extent.Extent{{Offset: 4096, Length: 8192}})
	require.NoError(t, err)
	l.No32 = true
	got, err := collect(t, l, nil)
	require.NoError(t, err)
	assert.Equal(t, []extent.Extent{{Offset: 4096, Length: 8192}}, got)
	cmds := l.Commands()
	require.Len(t, cmds, 3)
	assert.Equal(t, byte(scsi.OpVariableLength), cmds[1][0])
	assert.Equal(t, scsi.GetLBAStatus16CDB(scsi.LBAStatusRequest{AllocLen: scsi.DefaultMaxAllocation}), cmds[2])

	// Form32 does not fall back.
	l.UnitAttentions = 0
	_, err = collect(t, l, &scsi.ScanOptions{Form: scsi.Form32})
	require.ErrorIs(t, err, scsi.ErrUnsupported)
	var se *scsi.SenseError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, byte(scsi.ASCInvalidOpcode), se.Sense.ASC)

	// Neither form.
	l.No16 = true
	_, err = collect(t, l, nil)
	require.ErrorIs(t, err, scsi.ErrUnsupported)
	assert.Contains(t, err.Error(), "GET LBA STATUS(16)")
}

func TestScanSticksTo32AfterSuccess(t *testing.T) {
	l, err := scsimodel.New(4<<30, 4096, nil)
	require.NoError(t, err)
	l.MaxDescriptors = 1
	dev := &failAfter{Device: l, n: 2} // READ CAPACITY, one GET LBA STATUS(32), then 20h/00
	_, err = collect(t, dev, &scsi.ScanOptions{WindowBytes: 1 << 20})
	require.ErrorIs(t, err, scsi.ErrUnsupported, "a device that changed its mind is an error, not a fallback")
}

// failAfter answers INVALID OPCODE after n commands.
type failAfter struct {
	scsi.Device
	n int
}

func (f *failAfter) Exec(ctx context.Context, cdb, data []byte) (int, error) {
	if f.n == 0 {
		return 0, &scsi.SenseError{Status: scsi.StatusCheckCondition, Sense: scsi.Sense{ResponseCode: 0x70, Key: scsi.KeyIllegalRequest, ASC: scsi.ASCInvalidOpcode}}
	}
	f.n--
	return f.Device.Exec(ctx, cdb, data)
}

func TestScanUnitAttention(t *testing.T) {
	l, err := scsimodel.New(1<<20, 512, []extent.Extent{{Offset: 0, Length: 512}})
	require.NoError(t, err)
	l.UnitAttentions = 5
	got, err := collect(t, l, nil)
	require.NoError(t, err, "5 retries by default")
	assert.Equal(t, l.Truth(), got)

	assert.Len(t, l.Commands(), 5+2)

	l.UnitAttentions = 6
	_, err = collect(t, l, nil)
	require.ErrorIs(t, err, scsi.ErrBusy)
	var se *scsi.SenseError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, byte(scsi.KeyUnitAttention), se.Sense.Key)
	assert.Len(t, l.Commands(), 7+6, "bounded: 6 tries of READ CAPACITY")

	l.UnitAttentions = 1
	_, err = collect(t, l, &scsi.ScanOptions{Retries: -1})
	require.ErrorIs(t, err, scsi.ErrBusy)
	assert.Len(t, l.Commands(), 13+1, "no retry")
}

func TestScanInvalidField(t *testing.T) {
	l, err := scsimodel.New(1<<20, 512, nil)
	require.NoError(t, err)
	_, err = collect(t, l, &scsi.ScanOptions{ReportType: 7})
	require.ErrorIs(t, err, scsi.ErrInvalid)
	var se *scsi.SenseError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, byte(scsi.ASCInvalidFieldCDB), se.Sense.ASC)
}

func TestScanOptionErrors(t *testing.T) {
	l, err := scsimodel.New(1<<20, 512, nil)
	require.NoError(t, err)
	for _, o := range []scsi.ScanOptions{
		{Start: -1}, {Length: -1}, {Start: 1<<20 + 1}, {MaxAllocation: 23}, {MaxAllocation: 1 << 30},
		{WindowBytes: 512 << 32}, {WindowBytes: -5}, {Form: 9},
	} {
		_, err := collect(t, l, &o)
		require.ErrorIs(t, err, scsi.ErrInvalid, "%+v", o)
	}
	got, err := collect(t, l, &scsi.ScanOptions{Start: 1 << 20})
	require.NoError(t, err)
	assert.Empty(t, got, "a scan starting at the capacity is empty")
}

// answerDevice answers READ CAPACITY with 1 MiB of 512-byte blocks and every
// GET LBA STATUS with the fixed parameter data.
type answerDevice struct{ data []byte }

func (a answerDevice) Exec(_ context.Context, cdb, data []byte) (int, error) {
	if cdb[0] == scsi.OpServiceActionIn16 && cdb[1] == scsi.SAReadCapacity16 {
		return copy(data, scsi.AppendReadCapacity16(nil, scsi.Capacity{BlockSize: 512, Blocks: 2048})), nil
	}
	return copy(data, a.data), nil
}
func (answerDevice) Close() error { return nil }

func TestScanRejectsBadAnswers(t *testing.T) {
	desc := func(lba uint64, n uint32, p byte) scsi.LBADescriptor {
		return scsi.LBADescriptor{LBA: lba, Blocks: n, Provisioning: p}
	}
	cases := map[string][]byte{
		"overlap":     scsi.AppendLBAStatus(nil, scsi.LBAStatus{Condition: 3, Descriptors: []scsi.LBADescriptor{desc(0, 100, 3), desc(50, 100, 1)}}),
		"descending":  scsi.AppendLBAStatus(nil, scsi.LBAStatus{Condition: 3, Descriptors: []scsi.LBADescriptor{desc(100, 10, 1), desc(0, 10, 1)}}),
		"no progress": scsi.AppendLBAStatus(nil, scsi.LBAStatus{Condition: 1}),
		"behind":      scsi.AppendLBAStatus(nil, scsi.LBAStatus{Condition: 0, Descriptors: []scsi.LBADescriptor{desc(0, 0, 1)}}),
		"short":       {0, 0, 0},
	}
	for name, data := range cases {
		_, err := collect(t, answerDevice{data}, nil)
		require.ErrorIs(t, err, scsi.ErrMalformed, name)
	}
}

func TestScanGapsCountAsChanged(t *testing.T) {
	// Report type 0 answered with holes between descriptors and a condition 3
	// before the capacity: what no descriptor proves deallocated is changed.
	data := scsi.AppendLBAStatus(nil, scsi.LBAStatus{Condition: 3, RTP: true, Descriptors: []scsi.LBADescriptor{
		{LBA: 0, Blocks: 10, Provisioning: 1}, {LBA: 20, Blocks: 10, Provisioning: 1}, {LBA: 40, Blocks: 2000, Provisioning: 1},
	}})
	got, err := collect(t, answerDevice{data}, nil)
	require.NoError(t, err)
	assert.Equal(t, []extent.Extent{{Offset: 10 * 512, Length: 10 * 512}, {Offset: 30 * 512, Length: 10 * 512}, {Offset: 2040 * 512, Length: 8 * 512}}, got)
}

func TestScanStopsWhenTheConsumerStops(t *testing.T) {
	l, err := scsimodel.New(1<<30, 512, []extent.Extent{{Offset: 0, Length: 512}, {Offset: 4096, Length: 512}, {Offset: 1 << 29, Length: 512}})
	require.NoError(t, err)
	l.MaxDescriptors = 1
	var got []extent.Extent
	for e, err := range scsi.Scan(context.Background(), l, nil) {
		require.NoError(t, err)
		got = append(got, e)
		break
	}
	assert.Equal(t, []extent.Extent{{Offset: 0, Length: 512}}, got)
	assert.Less(t, len(l.Commands()), 6, "no scanning after the consumer stopped")
}

func TestScanContext(t *testing.T) {
	l, err := scsimodel.New(1<<30, 512, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n := 0
	for _, err := range scsi.Scan(ctx, l, nil) {
		n++
		require.ErrorIs(t, err, context.Canceled)
		require.False(t, errors.Is(err, scsi.ErrBusy))
	}
	require.Equal(t, 1, n)
	l.MaxDescriptors = 1
	l.Runs = []scsimodel.Run{{LBA: 1, Blocks: 1, Status: scsi.ProvMapped}, {LBA: 3, Blocks: 1, Status: scsi.ProvMapped}}
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	n = 0
	var last error
	for _, err := range scsi.Scan(ctx, l, nil) {
		n++
		cancel()
		last = err
	}
	require.ErrorIs(t, last, context.Canceled)
	assert.Equal(t, 2, n, "one extent, then the cancellation")
}

func TestReadCapacity(t *testing.T) {
	l, err := scsimodel.New(8<<30, 4096, nil)
	require.NoError(t, err)
	l.LBPRZ = true
	c, err := scsi.ReadCapacity(context.Background(), l)
	require.NoError(t, err)
	assert.Equal(t, scsi.Capacity{BlockSize: 4096, Blocks: 2 << 20, LBPME: true, LBPRZ: true}, c)
	require.NoError(t, l.Close())
	_, err = scsi.ReadCapacity(context.Background(), l)
	require.ErrorIs(t, err, scsi.ErrClosed)
}
