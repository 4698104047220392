package scsi

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The hand-made answer that sg_get_lba_status --inhex decodes as
// "completion condition 2, RTP=0, [1] LBA 0x60 blocks 8 mapped,
// [2] LBA 0x68 blocks 512 deallocated".
func TestDecodeLBAStatusSgExample(t *testing.T) {
	b := unhex(t, `00000024 000000 04
		0000000000000060 00000008 03 00 0000
		0000000000000068 00000200 01 00 0000`)
	st, err := DecodeLBAStatus(b)
	require.NoError(t, err)
	assert.Equal(t, LBAStatus{
		Length:    0x24,
		Condition: CondScanLen,
		RTP:       false,
		Descriptors: []LBADescriptor{
			{LBA: 0x60, Blocks: 8, Provisioning: ProvMapped},
			{LBA: 0x68, Blocks: 512, Provisioning: ProvDeallocated},
		},
	}, st)
	assert.Equal(t, b, AppendLBAStatus(nil, st))
}

func TestDecodeLBAStatusFields(t *testing.T) {
	b := unhex(t, `00000014 000000 07
		ffffffffffffff00 ffffffff a2 01 0000`)
	st, err := DecodeLBAStatus(b)
	require.NoError(t, err)
	assert.Equal(t, byte(CondCapacity), st.Condition)
	assert.True(t, st.RTP)
	require.Len(t, st.Descriptors, 1)
	d := st.Descriptors[0]
	assert.Equal(t, LBADescriptor{LBA: 0xffffffffffffff00, Blocks: 0xffffffff, Provisioning: 2, Accessibility: 0xa, Additional: 1}, d)
	assert.Equal(t, ^uint64(0), d.End(), "End saturates")
}

func TestDecodeLBAStatusTruncated(t *testing.T) {
	full := unhex(t, `00000034 00000002
		0000000000000000 00000010 00 00 0000
		0000000000000010 00000010 01 00 0000
		0000000000000020 00000010 03 00 0000`)
	// Cut in the middle of the third descriptor, as an allocation length of 48 does.
	st, err := DecodeLBAStatus(full[:48])
	require.NoError(t, err)
	assert.True(t, st.Truncated)
	assert.Len(t, st.Descriptors, 2)
	// Bytes beyond the parameter data length are ignored.
	long := append(full[:24:24], make([]byte, 100)...)
	long[3] = 0x14
	st, err = DecodeLBAStatus(long)
	require.NoError(t, err)
	assert.False(t, st.Truncated)
	assert.Len(t, st.Descriptors, 1)
}

func TestDecodeLBAStatusErrors(t *testing.T) {
	_, err := DecodeLBAStatus(make([]byte, 7))
	require.ErrorIs(t, err, ErrMalformed)
	_, err = DecodeLBAStatus(unhex(t, "00000003 00000000"))
	require.ErrorIs(t, err, ErrMalformed)
	st, err := DecodeLBAStatus(unhex(t, "00000004 00000006"))
	require.NoError(t, err, "a header alone is a valid, empty answer")
	assert.Empty(t, st.Descriptors)
}

func TestDeallocated(t *testing.T) {
	for p := range 16 {
		assert.Equal(t, p == ProvDeallocated, Deallocated(byte(p)), "provisioning status %d", p)
	}
}

func TestReadCapacity16RoundTrip(t *testing.T) {
	c := Capacity{BlockSize: 4096, Blocks: 1 << 20, LBPME: true, LBPRZ: true}
	b := AppendReadCapacity16(nil, c)
	require.Len(t, b, ReadCapacityDataLen)
	assert.Equal(t, unhex(t, "00000000000fffff 00001000 00 00 c0"), b[:15])
	got, err := DecodeReadCapacity16(b)
	require.NoError(t, err)
	assert.Equal(t, c, got)
	n, err := got.Bytes()
	require.NoError(t, err)
	assert.Equal(t, int64(4<<30), n)

	_, err = DecodeReadCapacity16(b[:14])
	require.ErrorIs(t, err, ErrMalformed)
	_, err = DecodeReadCapacity16(unhex(t, "0000000000000001 00000000 000000"))
	require.ErrorIs(t, err, ErrMalformed)
	_, err = DecodeReadCapacity16(unhex(t, "ffffffffffffffff 00000200 000000"))
	require.ErrorIs(t, err, ErrMalformed)
	_, err = Capacity{BlockSize: 4096, Blocks: 1 << 60}.Bytes()
	require.ErrorIs(t, err, ErrMalformed)
}
