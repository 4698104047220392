package engine

import (
	"testing"
	"time"

	"github.com/changedblocks/sdk/rhv/internal/ovirtfake"
	"github.com/stretchr/testify/require"
)

// engClient returns an engine client of the fake with fast polling.
func engClient(t testing.TB, f *ovirtfake.Fake, o *Options) *Client {
	t.Helper()
	var opts Options
	if o != nil {
		opts = *o
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = time.Millisecond
	}
	if opts.Backoff == 0 {
		opts.Backoff = time.Millisecond
	}
	if opts.HTTPClient == nil && f.Server.TLS != nil && opts.RootCAs == nil {
		opts.HTTPClient = f.Server.Client()
	}
	c, err := NewClient(f.Server.URL+"/ovirt-engine/api", &opts)
	require.NoError(t, err)
	return c
}
