package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/scsi"
	"github.com/changedblocks/sdk/internal/scsi/scsimodel"
)

// useSCSIModel makes "cbtctl scsi lba-status" open lun whatever the path,
// and records the path asked for.
func useSCSIModel(t *testing.T, dev scsi.Device) *string {
	t.Helper()
	var path string
	old := openSCSIDevice
	openSCSIDevice = func(p string) (scsi.Device, error) { path = p; return dev, nil }
	t.Cleanup(func() { openSCSIDevice = old })
	return &path
}

func newLUN(t *testing.T, capacity int64, bs uint32, changed ...extent.Extent) *scsimodel.LUN {
	t.Helper()
	l, err := scsimodel.New(capacity, bs, changed)
	require.NoError(t, err)
	return l
}

func TestSCSILBAStatusJSON(t *testing.T) {
	l := newLUN(t, 4<<30, 4096, extent.Extent{Offset: 1 << 20, Length: 8192}, extent.Extent{Offset: 3 << 30, Length: 4096})
	path := useSCSIModel(t, l)
	r := cbtctl(t, "scsi", "lba-status", "--format", "json", "/dev/sdz")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "/dev/sdz", *path)
	c := decodeOne(t, r.stdout)
	assert.Equal(t, int64(4<<30), *c.Capacity)
	assert.Equal(t, int64(4096), *c.Granularity)
	assert.Nil(t, c.ChangeID, "a device scan hands out no change ID")
	require.NotNil(t, c.NoChangeID)
	assert.Equal(t, "a SCSI device's allocation status names no point in time", *c.NoChangeID)
	assert.Equal(t, l.Truth(), c.Extents)
	_, err := l.Exec(context.Background(), scsi.ReadCapacity16CDB(32), make([]byte, 32))
	require.Error(t, err, "the device is closed after the listing")
	for _, cdb := range l.Commands() {
		if cdb[0] == scsi.OpVariableLength {
			assert.Equal(t, []byte{0, 4, 0, 0}, cdb[20:24], "1 GiB of 4 KiB blocks")
		}
	}
}

func TestSCSILBAStatusText(t *testing.T) {
	l := newLUN(t, 1<<30, 512, extent.Extent{Offset: 512, Length: 1024})
	useSCSIModel(t, l)
	r := cbtctl(t, "scsi", "lba-status", "/dev/sdz")
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 3, r.stdout)
	assert.Contains(t, lines[0], "512")
	assert.Contains(t, lines[0], "1024")
	assert.True(t, strings.HasPrefix(lines[1], "#"), r.stdout)
	assert.Equal(t, "# no change ID to store: a SCSI device's allocation status names no point in time", lines[2])
}

// Random LUNs, flags and device behaviours: the listing equals the truth
// clipped to the window asked for, across pages of the driver.
func TestSCSILBAStatusMatchesTruth(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for i := range 12 {
		bs := []uint32{512, 4096}[i%2]
		blocks := uint64(1024 + r.IntN(1<<20))
		l := &scsimodel.LUN{BlockSize: bs, Blocks: blocks}
		for lba := uint64(r.IntN(50)); lba < blocks; lba += uint64(2 + r.IntN(int(blocks/200+2))) {
			n := min(uint64(1+r.IntN(20)), blocks-lba)
			l.Runs = append(l.Runs, scsimodel.Run{LBA: lba, Blocks: n, Status: byte([]int{0, 2, 3, 3, 4}[r.IntN(5)])})
			lba += n
		}
		l.MaxDescriptors = []int{0, 1, 7}[i%3]
		l.No32 = i%4 == 3
		l.UnitAttentions = i % 2
		capacity := int64(blocks) * int64(bs)
		start := r.Int64N(capacity)
		length := r.Int64N(capacity - start + 1)
		useSCSIModel(t, l)
		args := []string{"scsi", "lba-status", "--format", "json", "--start", fmt.Sprint(start), "--length", fmt.Sprint(length), "/dev/sdz"}
		if i%5 == 0 {
			args = append(args, "--window", "1M", "--max-allocation", "100")
		}
		res := cbtctl(t, args...)
		require.Equal(t, 0, res.code, res.stderr)
		end := capacity
		if length > 0 {
			end = start + length
		}
		var want []extent.Extent
		for _, e := range l.Truth() {
			if c, ok := extent.ClipTo(e, start, end); ok {
				want = append(want, c)
			}
		}
		got := decodeOne(t, res.stdout).Extents
		if want == nil {
			want = []extent.Extent{}
		}
		assert.Equal(t, want, got, "case %d", i)
	}
}

// More extents than one driver page holds.
func TestSCSILBAStatusPages(t *testing.T) {
	l := &scsimodel.LUN{BlockSize: 512, Blocks: 3 * scsiPageExtents}
	for i := range uint64(scsiPageExtents + 10) {
		l.Runs = append(l.Runs, scsimodel.Run{LBA: 2 * i, Blocks: 1, Status: scsi.ProvMapped})
	}
	useSCSIModel(t, l)
	r := cbtctl(t, "scsi", "lba-status", "--format", "json", "x")
	require.Equal(t, 0, r.code, r.stderr)
	got := decodeOne(t, r.stdout).Extents
	assert.Equal(t, l.Truth(), got)
	assert.Len(t, got, scsiPageExtents+10)
}

func TestSCSILBAStatusForm(t *testing.T) {
	l := newLUN(t, 1<<20, 512, extent.Extent{Offset: 0, Length: 512})
	l.No32 = true
	useSCSIModel(t, l)
	r := cbtctl(t, "scsi", "lba-status", "--form", "32", "/dev/sdz")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "not supported")
	assert.Contains(t, r.stderr, "supports neither GET LBA STATUS command")

	l = newLUN(t, 1<<20, 512, extent.Extent{Offset: 0, Length: 512})
	useSCSIModel(t, l)
	r = cbtctl(t, "scsi", "lba-status", "--form", "16", "--format", "json", "/dev/sdz")
	require.Equal(t, 0, r.code, r.stderr)
	for _, cdb := range l.Commands() {
		assert.Len(t, cdb, 16, "16-byte commands only")
	}
}

type failingDevice struct {
	err    error
	closes int
}

func (f *failingDevice) Exec(context.Context, []byte, []byte) (int, error) { return 0, f.err }
func (f *failingDevice) Close() error                                      { f.closes++; return nil }

// closeCounter counts the Close calls reaching a device.
type closeCounter struct {
	scsi.Device
	closes int
}

func (c *closeCounter) Close() error { c.closes++; return c.Device.Close() }

func TestSCSILBAStatusPermission(t *testing.T) {
	dev := &failingDevice{err: fmt.Errorf("scsi: /dev/sdz: SG_IO: %w", os.ErrPermission)}
	useSCSIModel(t, dev)
	r := cbtctl(t, "scsi", "lba-status", "/dev/sdz")
	assert.Equal(t, 1, r.code)
	assert.Equal(t, 1, dev.closes, "closed once")
	assert.Contains(t, r.stderr, "CAP_SYS_RAWIO")
	assert.Contains(t, r.stderr, "--form 16")
}

func TestSCSILBAStatusBusy(t *testing.T) {
	l := newLUN(t, 1<<20, 512)
	l.UnitAttentions = 100
	dev := &closeCounter{Device: l}
	useSCSIModel(t, dev)
	r := cbtctl(t, "scsi", "lba-status", "/dev/sdz")
	assert.Equal(t, 1, r.code)
	assert.Equal(t, 1, dev.closes, "closed once")
	assert.Contains(t, r.stderr, "UNIT ATTENTION")
	assert.Contains(t, r.stderr, "retry later")
}

func TestSCSILBAStatusUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"a", "b"},
		{"--form", "8", "a"},
		{"--report-type", "300", "a"},
		{""},
	} {
		r := cbtctl(t, append([]string{"scsi", "lba-status"}, args...)...)
		requireUsageError(t, r, "cbtctl scsi lba-status: ", "cbtctl help scsi lba-status")
	}
	r := cbtctl(t, "scsi", "lba-status", "--help")
	assert.Equal(t, 0, r.code)
	assert.Contains(t, r.stdout, "GET LBA STATUS")
	dev := &closeCounter{Device: newLUN(t, 1<<20, 512)}
	useSCSIModel(t, dev)
	r = cbtctl(t, "scsi", "lba-status", "--start", "2M", "x")
	assert.Equal(t, 1, dev.closes, "closed once")
	requireUsageError(t, r, "cbtctl scsi lba-status: --start 2M: beyond the end of the disk: want 0 to its capacity, 1048576 (1 MiB)", "cbtctl help scsi lba-status")
}
