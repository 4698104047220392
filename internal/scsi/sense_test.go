package scsi

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeSenseFixed(t *testing.T) {
	// tgtd's answer to GET LBA STATUS(32): ILLEGAL REQUEST, invalid opcode.
	s, err := DecodeSense(unhex(t, "70 00 05 00000000 0a 00000000 20 00 00 000000"))
	require.NoError(t, err)
	assert.Equal(t, Sense{ResponseCode: 0x70, Key: KeyIllegalRequest, ASC: 0x20}, s)
	assert.False(t, s.Descriptor())
	assert.Contains(t, s.String(), "ILLEGAL REQUEST")
	assert.Contains(t, s.String(), "invalid command operation code")

	// Valid bit and information, deferred.
	s, err = DecodeSense(unhex(t, "f1 00 03 12345678 0a 00000000 11 00 00 000000"))
	require.NoError(t, err)
	assert.Equal(t, Sense{ResponseCode: 0x71, Key: KeyMediumError, ASC: 0x11, Information: 0x12345678, InfoValid: true}, s)
	assert.True(t, s.Deferred())

	// The additional sense length hides ASC/ASCQ.
	s, err = DecodeSense(unhex(t, "70 00 06 00000000 04 00000000 29 00"))
	require.NoError(t, err)
	assert.Equal(t, byte(KeyUnitAttention), s.Key)
	assert.Zero(t, s.ASC)

	// Short data: the key only.
	s, err = DecodeSense(unhex(t, "70 00 06"))
	require.NoError(t, err)
	assert.Equal(t, Sense{ResponseCode: 0x70, Key: KeyUnitAttention}, s)
}

func TestDecodeSenseDescriptor(t *testing.T) {
	s, err := DecodeSense(unhex(t, "72 05 24 00 000000 0c | 00 0a 80 00 0000000000000060"))
	require.NoError(t, err)
	assert.Equal(t, Sense{ResponseCode: 0x72, Key: KeyIllegalRequest, ASC: 0x24, Information: 0x60, InfoValid: true}, s)
	assert.True(t, s.Descriptor())

	// A descriptor running past the data is ignored.
	s, err = DecodeSense(unhex(t, "73 06 29 00 000000 0c | 00 0a 80 00 00000000"))
	require.NoError(t, err)
	assert.Equal(t, Sense{ResponseCode: 0x73, Key: KeyUnitAttention, ASC: 0x29}, s)
}

func TestDecodeSenseErrors(t *testing.T) {
	_, err := DecodeSense(nil)
	require.ErrorIs(t, err, ErrMalformed)
	_, err = DecodeSense([]byte{0x7f, 0, 5})
	require.ErrorIs(t, err, ErrMalformed)
}

func TestSenseRoundTrip(t *testing.T) {
	for _, s := range []Sense{
		{ResponseCode: 0x70, Key: KeyIllegalRequest, ASC: 0x20},
		{ResponseCode: 0x71, Key: KeyMediumError, ASC: 0x11, ASCQ: 4, Information: 77, InfoValid: true},
	} {
		got, err := DecodeSense(s.AppendFixed(nil))
		require.NoError(t, err)
		assert.Equal(t, s, got)
		d := s
		d.ResponseCode += 2
		got, err = DecodeSense(s.AppendDescriptor(nil))
		require.NoError(t, err)
		assert.Equal(t, d, got)
	}
}

// The sense and status a device answers are told apart by the sentinel
// they mean; the device's error stays reachable.
func TestSenseKind(t *testing.T) {
	sense := func(k, asc, ascq byte) error {
		return &SenseError{Status: StatusCheckCondition, Sense: Sense{ResponseCode: 0x70, Key: k, ASC: asc, ASCQ: ascq}}
	}
	cases := []struct {
		err  error
		kind error
	}{
		{sense(KeyIllegalRequest, 0x20, 0), ErrUnsupported},
		{sense(KeyIllegalRequest, 0x24, 0), ErrInvalid},
		{sense(KeyIllegalRequest, 0x21, 0), ErrInvalid},
		{sense(KeyUnitAttention, 0x29, 0), ErrBusy},
		{sense(KeyNotReady, 0x04, 1), ErrBusy},
		{&StatusError{Status: StatusBusy}, ErrBusy},
		{&StatusError{Status: StatusReservationConflict}, ErrBusy},
	}
	for _, c := range cases {
		got := senseKind(c.err)
		require.ErrorIs(t, got, c.kind, "%v", c.err)
		var se *SenseError
		var st *StatusError
		assert.True(t, errorsAs(got, &se) || errorsAs(got, &st), "the device error stays reachable")
	}
	medium := sense(KeyMediumError, 0x11, 0)
	assert.Equal(t, medium, senseKind(medium), "no sentinel for a medium error")
	assert.Contains(t, (&StatusError{Status: StatusBusy}).Error(), "BUSY")
}
