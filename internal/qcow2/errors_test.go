package qcow2

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFormatError checks that errors about an image's bytes are a
// *FormatError that gives the field or structure, its file offset and the
// value found, and that they still match their class with errors.Is.
func TestFormatError(t *testing.T) {
	be := binary.BigEndian
	good := func() []byte {
		s := newSynth(9, false, 64<<10)
		l1 := s.table([]uint64{0, 0})
		return s.bytes(l1, 2)
	}
	_, err := openBytes(good())
	require.NoError(t, err)

	cases := []struct {
		name  string
		patch func(b []byte)
		class error
		off   int64
		what  string
		val   any
	}{
		{"cluster-bits", func(b []byte) { be.PutUint32(b[20:], 8) }, ErrCorrupt, 20, "cluster_bits", uint32(8)},
		{"version", func(b []byte) { be.PutUint32(b[4:], 9) }, ErrUnsupported, 4, "version", uint32(9)},
		{"refcount-misaligned", func(b []byte) { be.PutUint64(b[48:], 0x208) }, ErrCorrupt, 48, "refcount_table_offset", uint64(0x208)},
		{"l1-beyond-eof", func(b []byte) { be.PutUint64(b[40:], 1<<40) }, ErrCorrupt, 1 << 40, "L1 table of the active view", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := good()
			c.patch(b)
			_, err := openBytes(b)
			require.ErrorIs(t, err, c.class)
			var fe *FormatError
			require.True(t, errors.As(err, &fe), "%v", err)
			assert.Equal(t, c.off, fe.Off)
			assert.Equal(t, c.what, fe.What)
			assert.Equal(t, c.val, fe.Val)
			assert.Equal(t, c.class, fe.Err)
			assert.Equal(t, err.Error(), fe.Error())
		})
	}

	// A snapshot entry deep in the file: the offset is the entry's.
	s := newSynth(9, false, 64<<10)
	l1 := s.table([]uint64{0, 0})
	s.addSnapshot("a", l1, 2, 64<<10)
	s.addSnapshot("b", l1, 2, 64<<10)
	b := s.bytes(l1, 2)
	snapOff := be.Uint64(b[64:])
	second := snapOff + 64 + 8         // entry 0: 40 + 24 bytes, id "1", name "a", padded to 72
	be.PutUint32(b[second+36:], 1<<20) // extra_data_size of entry 1
	img, err := openBytes(b)
	require.NoError(t, err)
	_, err = img.Snapshots()
	require.ErrorIs(t, err, ErrCorrupt)
	var fe *FormatError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, int64(second), fe.Off)
	assert.Equal(t, "snapshot entry 1", fe.What)
	assert.Contains(t, err.Error(), "extra_data_size (entry byte 36) = 1048576")
}
