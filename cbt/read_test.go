package cbt

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt/driver"
)

// byteReader is a pager that also reads: byte i of the disk is byte(i*7),
// and it records each call's length so that the cuts can be checked.
type byteReader struct {
	*pager
	mu    sync.Mutex
	calls []int
	err   error
}

func (r *byteReader) ReadAt(ctx context.Context, p []byte, off int64) error {
	r.mu.Lock()
	r.calls = append(r.calls, len(p))
	err := r.err
	r.mu.Unlock()
	if err != nil {
		return err
	}
	if off < 0 || off+int64(len(p)) > r.info.Capacity || (r.info.MaxRead > 0 && int64(len(p)) > r.info.MaxRead) {
		panic("cbt broke the Reader contract")
	}
	for i := range p {
		p[i] = byte((off + int64(i)) * 7)
	}
	return ctx.Err()
}

func newByteReader(capacity, maxRead int64) *byteReader {
	p := newPager(1, capacity, nil)
	p.info.MaxRead = maxRead
	return &byteReader{pager: p}
}

func TestReadAtCutsAndEOF(t *testing.T) {
	r := newByteReader(10000, 3000)
	d, err := NewDisk(r)
	require.NoError(t, err)
	require.NoError(t, d.Readable())
	ctx := t.Context()

	p := make([]byte, 7000)
	n, err := d.ReadAt(ctx, p, 1000)
	require.NoError(t, err)
	assert.Equal(t, 7000, n)
	for i := range p {
		if p[i] != byte((1000+int64(i))*7) {
			t.Fatalf("byte %d: got %d", i, p[i])
		}
	}
	assert.Equal(t, []int{3000, 3000, 1000}, r.calls, "reads are cut at MaxRead")

	n, err = d.ReadAt(ctx, p, 9000)
	assert.Equal(t, 1000, n)
	assert.ErrorIs(t, err, io.EOF, "a read past the end returns what there is and io.EOF")
	n, err = d.ReadAt(ctx, p, 10000)
	assert.Equal(t, 0, n)
	assert.ErrorIs(t, err, io.EOF)
	n, err = d.ReadAt(ctx, nil, 5)
	assert.Equal(t, 0, n)
	assert.NoError(t, err)

	_, err = d.ReadAt(ctx, p, -1)
	assert.ErrorIs(t, err, ErrInvalidArgument)

	sr := io.NewSectionReader(d.ReaderAt(ctx), 0, d.Capacity())
	all, err := io.ReadAll(sr)
	require.NoError(t, err)
	assert.Len(t, all, 10000)
	last := int64(9999)
	assert.Equal(t, byte(last*7), all[9999])
}

func TestReadAtErrors(t *testing.T) {
	r := newByteReader(1<<20, 0)
	d, err := NewDisk(r)
	require.NoError(t, err)
	p := make([]byte, 4096)

	r.err = errors.New("disk on fire")
	_, err = d.ReadAt(t.Context(), p, 0)
	assert.ErrorIs(t, err, ErrCorrupt, "an unclassed driver error is ErrCorrupt")
	assert.ErrorContains(t, err, "disk on fire")
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "read", e.Op)

	r.err = driver.WithClass(ErrBusy, errors.New("server restarting"))
	_, err = d.ReadAt(t.Context(), p, 0)
	assert.ErrorIs(t, err, ErrBusy, "a classed driver error keeps its class")
	assert.NotErrorIs(t, err, ErrCorrupt)

	r.err = nil
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = d.ReadAt(ctx, p, 0)
	assert.Equal(t, context.Canceled, err, "context errors pass as they are")

	require.NoError(t, d.Close())
	_, err = d.ReadAt(t.Context(), p, 0)
	assert.ErrorIs(t, err, ErrClosed)
}

func TestReadUnsupported(t *testing.T) {
	pg := newPager(1, 1<<20, nil)
	pg.info.NoRead = "read the volume attached to the instance"
	d, err := NewDisk(pg)
	require.NoError(t, err)
	err = d.Readable()
	assert.ErrorIs(t, err, ErrUnsupported)
	assert.ErrorContains(t, err, "read the volume attached to the instance")
	_, err = d.ReadAt(t.Context(), make([]byte, 1), 0)
	assert.ErrorIs(t, err, ErrUnsupported)

	r := newByteReader(1<<20, 0)
	r.info.NoRead = "the image is encrypted"
	d3, err := NewDisk(r)
	require.NoError(t, err)
	assert.ErrorContains(t, d3.Readable(), "the image is encrypted", "a Reader that says it cannot read this disk")
	_, err = d3.ReadAt(t.Context(), make([]byte, 1), 0)
	assert.ErrorIs(t, err, ErrUnsupported)
	assert.Empty(t, r.calls, "the driver's Reader is never called")

	d2, err := NewDisk(newPager(1, 1<<20, nil))
	require.NoError(t, err)
	assert.ErrorContains(t, d2.Readable(), "does not read data", "without a reason, the error names the driver")
}
