package oci

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/oci/ocitest"
)

// newFakeOCI starts the fake OCI service and makes real SDK clients for it.
func newFakeOCI(t testing.TB) (*ocitest.Server, *Clients) {
	t.Helper()
	f := ocitest.New(t)
	c, err := NewClients(f.ConfigurationProvider())
	require.NoError(t, err)
	f.Point(&c.Blockstorage.BaseClient, &c.Compute.BaseClient)
	return f, c
}

// fakeConnector records logins and maps the attachment to a device path.
type fakeConnector struct {
	mu          sync.Mutex
	connects    int
	disconnects int
	fail        error
	hook        func() // called in Connect, before it answers
	secrets     []string
}

func (c *fakeConnector) Connect(ctx context.Context, a Attachment) (string, error) {
	c.mu.Lock()
	c.connects++
	c.secrets = append(c.secrets, a.ChapSecret)
	hook, fail := c.hook, c.fail
	c.mu.Unlock()
	if hook != nil {
		hook()
	}
	if fail != nil {
		return "", fail
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	return ocitest.DevicePath(a.VolumeID), nil
}

func (c *fakeConnector) Disconnect(ctx context.Context, a Attachment) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.disconnects++
	return nil
}

// fakeOptions returns lifecycle options over f with fast timings.
func fakeOptions(f *ocitest.Server, conn *fakeConnector) *Options {
	return &Options{
		CompartmentID: ocitest.Compartment, AvailabilityDomain: ocitest.AvailabilityDomain, InstanceID: ocitest.Instance,
		Connector: conn,
		OpenDevice: func(path string) (Device, error) {
			return f.Device(path)
		},
		PollInterval: time.Millisecond, RetryBackoff: time.Millisecond, BusyTimeout: time.Second,
		WaitTimeout: 5 * time.Second, CleanupTimeout: 5 * time.Second,
	}
}
