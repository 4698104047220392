package imageio_test

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/rhv/engine"
	"github.com/changedblocks/sdk/rhv/imageio"
	"github.com/changedblocks/sdk/rhv/internal/ovirtfake"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// engClient returns an engine client of the fake with fast polling.
func engClient(t testing.TB, f *ovirtfake.Fake) *engine.Client {
	t.Helper()
	c, err := engine.NewClient(f.Server.URL+"/ovirt-engine/api", &engine.Options{
		HTTPClient: f.Server.Client(), PollInterval: time.Millisecond, Backoff: time.Millisecond})
	require.NoError(t, err)
	return c
}

// ioPlainTransfer starts a transfer outside any backup and returns its URL.
func ioPlainTransfer(t testing.TB, c *engine.Client, disk string) *engine.ImageTransfer {
	t.Helper()
	ctx := t.Context()
	tr, err := c.StartTransfer(ctx, engine.TransferRequest{DiskID: disk})
	require.NoError(t, err)
	tr, err = c.WaitTransfer(ctx, tr.ID)
	require.NoError(t, err)
	require.Equal(t, engine.TransferTransferring, tr.Phase)
	return tr
}

func ioFastOptions(f *ovirtfake.Fake) *imageio.Options {
	return &imageio.Options{HTTPClient: f.Server.Client(), Backoff: time.Millisecond}
}

func TestImageioOptionsAndZeroExtents(t *testing.T) {
	f := ovirtfake.New(t, false)
	vm, disk := f.AddVM(1 << 20)
	f.Write(vm, 4096, 8192)
	f.Write(vm, 1<<19, 512)
	c := engClient(t, f)
	tr := ioPlainTransfer(t, c, disk)

	io, err := imageio.New(tr.TransferURL, ioFastOptions(f))
	require.NoError(t, err)
	o, err := io.Options(t.Context())
	require.NoError(t, err)
	assert.Equal(t, []string{"checksum", "extents"}, o.Features)
	assert.True(t, o.Has("extents"))
	assert.False(t, o.Has("zero"))
	assert.Equal(t, 8, o.MaxReaders)
	assert.Equal(t, []string{"OPTIONS", "GET"}, o.Allow)

	exts, err := io.Extents(t.Context(), imageio.ContextZero)
	require.NoError(t, err)
	want := []imageio.Extent{
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
	f := ovirtfake.New(t, false)
	vm, disk := f.AddVM(1 << 20)
	f.Write(vm, 0, 512)
	c := engClient(t, f)
	tr := ioPlainTransfer(t, c, disk)
	io, err := imageio.New(tr.TransferURL, ioFastOptions(f))
	require.NoError(t, err)

	_, err = io.Extents(t.Context(), imageio.ContextDirty)
	require.ErrorIs(t, err, cbt.ErrUnsupported)
	var herr *imageio.HTTPError
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
	f := ovirtfake.New(t, false)
	_, disk := f.AddVM(1 << 20)
	c := engClient(t, f)
	tr := ioPlainTransfer(t, c, disk)
	io, err := imageio.New(tr.TransferURL, ioFastOptions(f))
	require.NoError(t, err)
	require.NoError(t, c.FinalizeTransfer(t.Context(), tr.ID))

	_, err = io.Options(t.Context())
	require.ErrorIs(t, err, cbt.ErrInvalidArgument)
	assert.Contains(t, err.Error(), "ticket expired")
	_, err = io.Extents(t.Context(), imageio.ContextZero)
	require.ErrorIs(t, err, cbt.ErrInvalidArgument)
	var herr *imageio.HTTPError
	require.ErrorAs(t, err, &herr)
	assert.Equal(t, http.StatusForbidden, herr.Status)
}

func TestImageioRetries5xx(t *testing.T) {
	f := ovirtfake.New(t, false)
	vm, disk := f.AddVM(1 << 20)
	f.Write(vm, 0, 512)
	c := engClient(t, f)
	tr := ioPlainTransfer(t, c, disk)

	f.Lock()
	f.Imageio5xx = 2
	f.Unlock()
	io, err := imageio.New(tr.TransferURL, ioFastOptions(f))
	require.NoError(t, err)
	exts, err := io.Extents(t.Context(), imageio.ContextZero)
	require.NoError(t, err, "two 503s are within the retries")
	assert.Len(t, exts, 2)

	f.Lock()
	f.Imageio5xx = 10
	f.Unlock()
	o := ioFastOptions(f)
	o.Retries = 2
	io, err = imageio.New(tr.TransferURL, o)
	require.NoError(t, err)
	_, err = io.Extents(t.Context(), imageio.ContextZero)
	require.ErrorIs(t, err, cbt.ErrBusy)
	assert.Contains(t, err.Error(), "after 2 retries")
	f.Lock()
	assert.Equal(t, 7, f.Imageio5xx, "1 try + 2 retries")
	f.Unlock()
}

func TestImageioCancelledContext(t *testing.T) {
	f := ovirtfake.New(t, false)
	_, disk := f.AddVM(1 << 20)
	c := engClient(t, f)
	tr := ioPlainTransfer(t, c, disk)
	io, err := imageio.New(tr.TransferURL, ioFastOptions(f))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = io.Extents(ctx, imageio.ContextZero)
	assert.True(t, errors.Is(err, context.Canceled), "got %v", err)
}

// Certificates are checked by default: a self-signed server fails; with its
// CA in RootCAs it passes; InsecureSkipVerify only when asked.
func TestImageioTLS(t *testing.T) {
	f := ovirtfake.New(t, true)
	vm, disk := f.AddVM(1 << 20)
	f.Write(vm, 0, 512)
	c := engClient(t, f)
	tr := ioPlainTransfer(t, c, disk)
	require.True(t, strings.HasPrefix(tr.TransferURL, "https://"))

	io, err := imageio.New(tr.TransferURL, &imageio.Options{Retries: -1})
	require.NoError(t, err)
	_, err = io.Options(t.Context())
	require.ErrorIs(t, err, cbt.ErrInvalidArgument)
	assert.Contains(t, err.Error(), "certificate is not trusted")

	pool := x509.NewCertPool()
	pool.AddCert(f.Server.Certificate())
	io, err = imageio.New(tr.TransferURL, &imageio.Options{RootCAs: pool})
	require.NoError(t, err)
	_, err = io.Options(t.Context())
	require.NoError(t, err)

	io, err = imageio.New(tr.TransferURL, &imageio.Options{InsecureSkipVerify: true})
	require.NoError(t, err)
	exts, err := io.Extents(t.Context(), imageio.ContextZero)
	require.NoError(t, err)
	assert.Len(t, exts, 2)
}

func TestNewRejects(t *testing.T) {
	for _, u := range []string{"", "ftp://h/images/x", "https:///images/x", "https://h/images/", "https://h/other/x", "https://h/images/a/b", "://"} {
		_, err := imageio.New(u, nil)
		assert.ErrorIs(t, err, cbt.ErrInvalidArgument, u)
	}
	c, err := imageio.New("https://host:54322/images/abc?x=1", nil)
	require.NoError(t, err)
	assert.Equal(t, "https://host:54322/images/abc", c.URL())
}
