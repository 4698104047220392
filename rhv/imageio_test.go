package rhv

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/changedblocks/sdk/cbt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// engClient returns an engine client of the fake with fast polling.
func engClient(t testing.TB, f *engFake, o *EngineOptions) *EngineClient {
	t.Helper()
	var opts EngineOptions
	if o != nil {
		opts = *o
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = time.Millisecond
	}
	if opts.Backoff == 0 {
		opts.Backoff = time.Millisecond
	}
	if opts.HTTPClient == nil && f.srv.TLS != nil && opts.RootCAs == nil {
		opts.HTTPClient = f.srv.Client()
	}
	c, err := NewEngineClient(f.srv.URL+"/ovirt-engine/api", &opts)
	require.NoError(t, err)
	return c
}

// ioPlainTransfer starts a transfer outside any backup and returns its URL.
func ioPlainTransfer(t testing.TB, f *engFake, c *EngineClient, disk string) *ImageTransfer {
	t.Helper()
	ctx := t.Context()
	tr, err := c.StartTransfer(ctx, TransferRequest{DiskID: disk})
	require.NoError(t, err)
	tr, err = c.WaitTransfer(ctx, tr.ID)
	require.NoError(t, err)
	require.Equal(t, TransferTransferring, tr.Phase)
	return tr
}

func ioFastOptions(f *engFake) *ImageioOptions {
	return &ImageioOptions{HTTPClient: f.srv.Client(), Backoff: time.Millisecond}
}

func TestImageioOptionsAndZeroExtents(t *testing.T) {
	f := newEngFake(t, false)
	vm, disk := f.addVM(1 << 20)
	f.write(vm, 4096, 8192)
	f.write(vm, 1<<19, 512)
	c := engClient(t, f, nil)
	tr := ioPlainTransfer(t, f, c, disk)

	io, err := NewImageioClient(tr.TransferURL, ioFastOptions(f))
	require.NoError(t, err)
	o, err := io.Options(t.Context())
	require.NoError(t, err)
	assert.Equal(t, []string{"checksum", "extents"}, o.Features)
	assert.True(t, o.Has("extents"))
	assert.False(t, o.Has("zero"))
	assert.Equal(t, 8, o.MaxReaders)
	assert.Equal(t, []string{"OPTIONS", "GET"}, o.Allow)

	exts, err := io.Extents(t.Context(), ContextZero)
	require.NoError(t, err)
	want := []ImageioExtent{
		{Start: 0, Length: 4096, Zero: true},
		{Start: 4096, Length: 8192},
		{Start: 12288, Length: 1<<19 - 12288, Zero: true},
		{Start: 1 << 19, Length: 512},
		{Start: 1<<19 + 512, Length: 1<<19 - 512, Zero: true},
	}
	assert.Equal(t, want, exts)
}

// A dirty query on a ticket outside a backup is imageio's 404 "Ticket does
// not support dirty extents": ErrUnsupported, saying why.
func TestImageioDirtyOutsideBackup(t *testing.T) {
	f := newEngFake(t, false)
	vm, disk := f.addVM(1 << 20)
	f.write(vm, 0, 512)
	c := engClient(t, f, nil)
	tr := ioPlainTransfer(t, f, c, disk)
	io, err := NewImageioClient(tr.TransferURL, ioFastOptions(f))
	require.NoError(t, err)

	_, err = io.Extents(t.Context(), ContextDirty)
	require.ErrorIs(t, err, cbt.ErrUnsupported)
	var herr *HTTPError
	require.ErrorAs(t, err, &herr)
	assert.Equal(t, http.StatusNotFound, herr.Status)
	assert.Equal(t, "Ticket does not support dirty extents", herr.Message)
	assert.Contains(t, err.Error(), "not part of an incremental backup")
	assert.NotContains(t, err.Error(), tr.TransferURL[len(tr.TransferURL)-20:], "the ticket is never printed whole")

	_, err = io.Extents(t.Context(), "data")
	require.ErrorIs(t, err, cbt.ErrInvalidArgument)
}

// After finalize the ticket is gone: imageio answers 403, which says the
// ticket expired or is wrong.
func TestImageioExpiredTicket(t *testing.T) {
	f := newEngFake(t, false)
	_, disk := f.addVM(1 << 20)
	c := engClient(t, f, nil)
	tr := ioPlainTransfer(t, f, c, disk)
	io, err := NewImageioClient(tr.TransferURL, ioFastOptions(f))
	require.NoError(t, err)
	require.NoError(t, c.FinalizeTransfer(t.Context(), tr.ID))

	_, err = io.Options(t.Context())
	require.ErrorIs(t, err, cbt.ErrInvalidArgument)
	assert.Contains(t, err.Error(), "ticket expired")
	_, err = io.Extents(t.Context(), ContextZero)
	require.ErrorIs(t, err, cbt.ErrInvalidArgument)
	var herr *HTTPError
	require.ErrorAs(t, err, &herr)
	assert.Equal(t, http.StatusForbidden, herr.Status)
}

func TestImageioRetries5xx(t *testing.T) {
	f := newEngFake(t, false)
	vm, disk := f.addVM(1 << 20)
	f.write(vm, 0, 512)
	c := engClient(t, f, nil)
	tr := ioPlainTransfer(t, f, c, disk)

	f.mu.Lock()
	f.imageio5xx = 2
	f.mu.Unlock()
	io, err := NewImageioClient(tr.TransferURL, ioFastOptions(f))
	require.NoError(t, err)
	exts, err := io.Extents(t.Context(), ContextZero)
	require.NoError(t, err, "two 503s are within the retries")
	assert.Len(t, exts, 2)

	f.mu.Lock()
	f.imageio5xx = 10
	f.mu.Unlock()
	o := ioFastOptions(f)
	o.Retries = 2
	io, err = NewImageioClient(tr.TransferURL, o)
	require.NoError(t, err)
	_, err = io.Extents(t.Context(), ContextZero)
	require.ErrorIs(t, err, cbt.ErrBusy)
	assert.Contains(t, err.Error(), "after 2 retries")
	f.mu.Lock()
	assert.Equal(t, 7, f.imageio5xx, "1 try + 2 retries")
	f.mu.Unlock()
}

func TestImageioCancelledContext(t *testing.T) {
	f := newEngFake(t, false)
	_, disk := f.addVM(1 << 20)
	c := engClient(t, f, nil)
	tr := ioPlainTransfer(t, f, c, disk)
	io, err := NewImageioClient(tr.TransferURL, ioFastOptions(f))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = io.Extents(ctx, ContextZero)
	assert.True(t, errors.Is(err, context.Canceled), "got %v", err)
}

// Certificates are checked by default: a self-signed server fails; with its
// CA in RootCAs it passes; InsecureSkipVerify only when asked.
func TestImageioTLS(t *testing.T) {
	f := newEngFake(t, true)
	vm, disk := f.addVM(1 << 20)
	f.write(vm, 0, 512)
	c := engClient(t, f, nil)
	tr := ioPlainTransfer(t, f, c, disk)
	require.True(t, strings.HasPrefix(tr.TransferURL, "https://"))

	io, err := NewImageioClient(tr.TransferURL, &ImageioOptions{Retries: -1})
	require.NoError(t, err)
	_, err = io.Options(t.Context())
	require.ErrorIs(t, err, cbt.ErrInvalidArgument)
	assert.Contains(t, err.Error(), "certificate is not trusted")

	pool := x509.NewCertPool()
	pool.AddCert(f.srv.Certificate())
	io, err = NewImageioClient(tr.TransferURL, &ImageioOptions{RootCAs: pool})
	require.NoError(t, err)
	_, err = io.Options(t.Context())
	require.NoError(t, err)

	io, err = NewImageioClient(tr.TransferURL, &ImageioOptions{InsecureSkipVerify: true})
	require.NoError(t, err)
	exts, err := io.Extents(t.Context(), ContextZero)
	require.NoError(t, err)
	assert.Len(t, exts, 2)
}

func TestNewImageioClientRejects(t *testing.T) {
	for _, u := range []string{"", "ftp://h/images/x", "https:///images/x", "https://h/images/", "https://h/other/x", "https://h/images/a/b", "://"} {
		_, err := NewImageioClient(u, nil)
		assert.ErrorIs(t, err, cbt.ErrInvalidArgument, u)
	}
	c, err := NewImageioClient("https://host:54322/images/abc?x=1", nil)
	require.NoError(t, err)
	assert.Equal(t, "https://host:54322/images/abc", c.URL())
}

// Old servers omit zero and hole (zero context) or zero (dirty context):
// missing flags are false.
func TestImageioOldServerFlags(t *testing.T) {
	exts, err := ioParseExtents([]byte(`[{"start":0,"length":65536,"zero":false},{"start":65536,"length":65536,"zero":true}]`))
	require.NoError(t, err)
	assert.Equal(t, []ImageioExtent{{Start: 0, Length: 65536}, {Start: 65536, Length: 65536, Zero: true}}, exts)

	// The documented dirty example (docs/images.md).
	exts, err = ioParseExtents([]byte(`[{"start": 0, "length": 65536, "dirty": true, "zero": false},
 {"start": 65536, "length": 1073676288, "dirty": false, "zero": false},
 {"start": 1073741824, "length": 1073741824, "dirty": true, "zero": true}]`))
	require.NoError(t, err)
	assert.Equal(t, []ImageioExtent{{Start: 0, Length: 65536, Dirty: true}, {Start: 65536, Length: 1073676288},
		{Start: 1073741824, Length: 1073741824, Dirty: true, Zero: true}}, exts)

	exts, err = ioParseExtents([]byte(`[{"start":0,"length":512,"dirty":true}]`))
	require.NoError(t, err)
	assert.Equal(t, []ImageioExtent{{Start: 0, Length: 512, Dirty: true}}, exts)
}

func TestImageioExtentsCorrupt(t *testing.T) {
	for name, body := range map[string]string{
		"not json":        `hello`,
		"object":          `{"start":0}`,
		"gap":             `[{"start":0,"length":1},{"start":2,"length":1}]`,
		"overlap":         `[{"start":0,"length":2},{"start":1,"length":1}]`,
		"not from 0":      `[{"start":5,"length":1}]`,
		"descending":      `[{"start":0,"length":4},{"start":0,"length":4}]`,
		"zero length":     `[{"start":0,"length":0}]`,
		"negative":        `[{"start":0,"length":-1}]`,
		"negative start":  `[{"start":-1,"length":2}]`,
		"float":           `[{"start":0,"length":1.5}]`,
		"string number":   `[{"start":"0","length":1}]`,
		"missing length":  `[{"start":0}]`,
		"overflow":        `[{"start":0,"length":9223372036854775807},{"start":9223372036854775807,"length":1}]`,
		"huge":            `[{"start":0,"length":99999999999999999999}]`,
		"trailing":        `[{"start":0,"length":1}] []`,
		"unterminated":    `[{"start":0,"length":1}`,
		"bool not flag":   `[{"start":0,"length":1,"zero":"yes"}]`,
		"nested garbage":  `[[1]]`,
		"null item":       `[null]`,
		"array of number": `[1]`,
	} {
		_, err := ioParseExtents([]byte(body))
		assert.ErrorIs(t, err, cbt.ErrCorrupt, name)
	}
	exts, err := ioParseExtents([]byte(`[]`))
	require.NoError(t, err)
	assert.Empty(t, exts)

	_, err = ioDecodeExtents(strings.NewReader(`[{"start":0,"length":1},{"start":1,"length":1}]`), 30)
	require.ErrorIs(t, err, cbt.ErrCorrupt)
	assert.Contains(t, err.Error(), "larger than 30 bytes")
}
