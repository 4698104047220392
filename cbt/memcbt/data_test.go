package memcbt_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/memcbt"
)

func readAll(t *testing.T, d *cbt.Disk) []byte {
	t.Helper()
	b, err := io.ReadAll(io.NewSectionReader(d.ReaderAt(t.Context()), 0, d.Capacity()))
	require.NoError(t, err)
	return b
}

// TestDataAtPoints: each point reads what the volume held when it was
// taken, whatever was written later; writes differ from each other;
// discards and unwritten bytes read as zeros.
func TestDataAtPoints(t *testing.T) {
	v, err := memcbt.NewVolume(1<<20, &memcbt.Options{Granularity: 4096, MaxRead: 1000})
	require.NoError(t, err)
	require.NoError(t, v.Write(0, 8192))
	require.NoError(t, v.WriteData(100000, []byte("hello")))
	p1, err := v.ChangePoint()
	require.NoError(t, err)
	require.NoError(t, v.Write(4096, 8192))
	require.NoError(t, v.Discard(100002, 2))
	p2, err := v.ChangePoint()
	require.NoError(t, err)
	require.NoError(t, v.Write(0, 1<<20))

	d1, err := v.Open(p1)
	require.NoError(t, err)
	d2, err := v.Open(p2)
	require.NoError(t, err)
	live, err := v.Open(cbt.ChangeID{})
	require.NoError(t, err)
	a, b, c := readAll(t, d1), readAll(t, d2), readAll(t, live)

	assert.Equal(t, "hello", string(a[100000:100005]))
	assert.Equal(t, "he\x00\x00o", string(b[100000:100005]), "a discard reads as zeros")
	assert.Equal(t, a[:4096], b[:4096], "the part of the first write nothing overwrote by p2")
	assert.NotEqual(t, a[4096:8192], b[4096:8192], "the second write changed it")
	assert.True(t, bytes.Equal(a[8192:100000], make([]byte, 100000-8192)), "never written: zeros")
	assert.NotEqual(t, b[:8192], c[:8192], "the live volume reads the last write")

	// The data that differs between the points lies inside what the
	// listing since p1 at p2 reports.
	exts, err := cbt.Collect(d2.Changes(t.Context(), p1, nil))
	require.NoError(t, err)
	patched := append([]byte(nil), a...)
	for _, e := range exts {
		copy(patched[e.Offset:e.End()], b[e.Offset:e.End()])
	}
	assert.True(t, bytes.Equal(patched, b))

	require.NoError(t, v.DeletePoint(p1))
	_, err = d1.ReadAt(t.Context(), make([]byte, 10), 0)
	assert.ErrorIs(t, err, cbt.ErrNotFound, "a deleted point reads no more")
}
