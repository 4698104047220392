package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/oci"
	"github.com/changedblocks/sdk/oci/ocitest"
)

// ociConnector logs in to nothing: it names the fake's device of the
// attached volume, and counts logins and logouts.
type ociConnector struct {
	mu            sync.Mutex
	in, out       int
	duringConnect func()
}

func (c *ociConnector) Connect(ctx context.Context, a oci.Attachment) (string, error) {
	c.mu.Lock()
	c.in++
	hook := c.duringConnect
	c.mu.Unlock()
	if hook != nil {
		hook()
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	return ocitest.DevicePath(a.VolumeID), nil
}

func (c *ociConnector) Disconnect(context.Context, oci.Attachment) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.out++
	return nil
}

// ociWorld is a fake OCI with a volume, two backups and writes between
// them, wired into the command through its hooks.
type ociWorld struct {
	srv           *ocitest.Server
	conn          *ociConnector
	volume        string
	first, second string
}

func newOCIWorld(t *testing.T) *ociWorld {
	t.Helper()
	w := &ociWorld{srv: ocitest.New(t), conn: &ociConnector{}}
	w.volume = w.srv.Source(1)
	w.srv.Write(w.volume, extent.Extent{Offset: 0, Length: 4096})
	w.first = w.srv.Backup(w.volume, false)
	w.srv.Write(w.volume, extent.Extent{Offset: 1 << 20, Length: 10000})
	w.srv.Write(w.volume, extent.Extent{Offset: 512 << 20, Length: 1 << 20})
	w.second = w.srv.Backup(w.volume, false)

	ociConfigProvider = func() common.ConfigurationProvider { return w.srv.ConfigurationProvider() }
	ociClientsHook = func(c *oci.Clients) { w.srv.Point(&c.Blockstorage.BaseClient, &c.Compute.BaseClient) }
	ociOptionsHook = func(o *oci.Options) {
		o.Connector = w.conn
		o.OpenDevice = func(path string) (oci.Device, error) { return w.srv.Device(path) }
		o.PollInterval, o.RetryBackoff = time.Millisecond, time.Millisecond
		o.Retries = 2
	}
	t.Cleanup(func() {
		ociConfigProvider = common.DefaultConfigProvider
		ociClientsHook, ociOptionsHook = nil, nil
	})
	return w
}

func (w *ociWorld) args(extra ...string) []string {
	return append([]string{"oci", "changes", "--second", w.second, "--compartment", ocitest.Compartment,
		"--availability-domain", ocitest.AvailabilityDomain, "--instance", ocitest.Instance}, extra...)
}

// assertClean checks that nothing is left in the cloud or logged in.
func (w *ociWorld) assertClean(t *testing.T) {
	t.Helper()
	vols, atts := w.srv.Live()
	assert.Empty(t, vols, "delta volumes left")
	assert.Empty(t, atts, "attachments left")
	w.conn.mu.Lock()
	defer w.conn.mu.Unlock()
	assert.Equal(t, w.conn.in, w.conn.out, "logins and logouts")
}

type ociListing struct {
	Capacity    int64           `json:"capacity"`
	Granularity int64           `json:"granularity"`
	ChangeID    string          `json:"changeId"`
	Extents     []extent.Extent `json:"extents"`
	Error       string          `json:"error"`
}

func TestOCIChangesJSON(t *testing.T) {
	w := newOCIWorld(t)
	for _, first := range [][]string{{"--first", w.first}, {"--first", "oci:" + w.first}, {"--since", "oci:" + w.first}} {
		r := cbtctl(t, w.args(append(first, "--format", "json")...)...)
		require.Equal(t, exitOK, r.code, r.stderr)
		var l ociListing
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &l), r.stdout)
		assert.Equal(t, int64(1<<30), l.Capacity)
		assert.Equal(t, "oci:"+w.second, l.ChangeID)
		assert.Equal(t, []extent.Extent{{Offset: 1 << 20, Length: 12288}, {Offset: 512 << 20, Length: 1 << 20}}, l.Extents)
		assert.Empty(t, l.Error)
		w.assertClean(t)
	}
	assert.Equal(t, 3, w.srv.Count("POST /volumes"))
}

func TestOCIChangesBlockSizeAndText(t *testing.T) {
	w := newOCIWorld(t)
	r := cbtctl(t, w.args("--first", w.first, "--block-size", "1M")...)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "oci:"+w.second)
	var body struct {
		SourceDetails struct {
			ChangeBlockSizeInBytes int64 `json:"changeBlockSizeInBytes"`
		} `json:"sourceDetails"`
	}
	require.NoError(t, json.Unmarshal(w.srv.Bodies("POST /volumes")[0], &body))
	assert.Equal(t, int64(1<<20), body.SourceDetails.ChangeBlockSizeInBytes)
	w.assertClean(t)
}

func TestOCIChangesFullBackupRequired(t *testing.T) {
	w := newOCIWorld(t)
	other := w.srv.Backup(w.srv.Source(1), false)
	r := cbtctl(t, w.args("--first", other)...)
	assert.Equal(t, exitFullBackup, r.code, r.stderr)
	assert.Contains(t, r.stderr, "full backup required")
	// The SDK reads the base first and refuses a backup of another volume
	// before the service is asked for a delta (it answered 403).
	assert.Contains(t, r.stderr, "a delta needs two backups of the same volume")
	w.assertClean(t)

	w.srv.DeleteBackup(w.first)
	r = cbtctl(t, w.args("--first", w.first)...)
	assert.Equal(t, exitFullBackup, r.code, r.stderr)
	w.assertClean(t)
}

func TestOCIChangesUsage(t *testing.T) {
	w := newOCIWorld(t)
	for name, tc := range map[string]struct {
		args []string
		msg  string
	}{
		"no second":       {[]string{"oci", "changes", "--compartment", "c", "--availability-domain", "a", "--instance", "i", "--full"}, "--second is required"},
		"same":            {w.args("--first", w.second), "--first and --second are the same backup"},
		"bad first":       {w.args("--first", "ocid1.volume.oc1.phx.x"), `--first "ocid1.volume.oc1.phx.x": `},
		"other scheme":    {w.args("--first", "qcow2:s1"), `--first "qcow2:s1": "qcow2:s1" is a change ID of scheme "qcow2", not "oci"`},
		"kinds differ":    {w.args("--first", "ocid1.bootvolumebackup.oc1.phx.x"), "--first is a boot volume backup and --second a block volume backup"},
		"block size":      {w.args("--first", w.first, "--block-size", "3000"), "--block-size: "},
		"big block":       {w.args("--first", w.first, "--block-size", "2M"), "--block-size: "},
		"bad block size":  {w.args("--first", w.first, "--block-size", "4X"), `--block-size "4X": want a byte count`},
		"no instance":     {[]string{"oci", "changes", "--second", w.second, "--compartment", "c", "--availability-domain", "a", "--full"}, "--instance is required"},
		"extra operand":   {w.args("x", "--full"), `unexpected argument "x"`},
		"since differs":   {w.args("--first", w.first, "--since", "oci:ocid1.volumebackup.oc1.phx.x"), "--since and --first name different backups"},
		"neither":         {w.args(), "give --first OCID (the earlier backup, or a change ID oci:OCID a listing printed) for an incremental, or --full"},
		"empty first":     {w.args("--first", ""), "--first is empty: give OCID"},
		"empty since":     {w.args("--since="), "--since is empty: give OCID"},
		"first and full":  {w.args("--first", w.first, "--full"), "--first and --full exclude each other"},
		"bad start":       {w.args("--full", "--start", "2Q"), `--start "2Q": want a byte count`},
		"start too large": {w.args("--full", "--length", "99999999999999999999"), `--length "99999999999999999999": too large`},
	} {
		t.Run(name, func(t *testing.T) {
			requireUsageError(t, cbtctl(t, tc.args...), tc.msg, "cbtctl help oci changes")
		})
	}
	assert.Empty(t, w.srv.Calls(), "nothing is sent for a usage error")
	w.assertClean(t)
}

func TestOCIChangesWholeVolumeWithoutFirst(t *testing.T) {
	w := newOCIWorld(t)
	r := cbtctl(t, w.args("--full", "--format", "json")...)
	require.Equal(t, exitOK, r.code, r.stderr)
	var l ociListing
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &l))
	assert.Equal(t, []extent.Extent{{Offset: 0, Length: 1 << 30}}, l.Extents)
	assert.Zero(t, w.srv.Count("POST /volumes"))
}

func TestOCIChangesTeardownFailure(t *testing.T) {
	w := newOCIWorld(t)
	w.srv.Fault("DELETE /volumes", ocitest.Fault{Status: 403, Code: "NotAuthorized"})
	r := cbtctl(t, w.args("--first", w.first, "--format", "json")...)
	assert.Equal(t, exitError, r.code)
	vols, _ := w.srv.Live()
	require.Len(t, vols, 1)
	assert.Contains(t, r.stderr, vols[0])
	assert.Contains(t, r.stderr, "delete it by hand")
	var l ociListing
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &l), "the listing itself is complete")
	assert.Len(t, l.Extents, 2)
}

func TestOCIChangesInterrupted(t *testing.T) {
	w := newOCIWorld(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	w.conn.duringConnect = cancel
	var out bytes.Buffer
	r := cbtctlContext(t, ctx, &out, w.args("--first", w.first)...)
	assert.Equal(t, exitError, r.code, r.stderr)
	assert.True(t, strings.Contains(r.stderr, "interrupted") || strings.Contains(r.stderr, "canceled"), r.stderr)
	w.assertClean(t)
}

func TestOCIChangesBadConfig(t *testing.T) {
	w := newOCIWorld(t)
	ociConfigProvider = func() common.ConfigurationProvider {
		return common.NewRawConfigurationProvider("", "", "", "", "", nil)
	}
	r := cbtctl(t, w.args("--first", w.first)...)
	assert.Equal(t, exitError, r.code)
	assert.Contains(t, r.stderr, "OCI configuration")
	assert.Empty(t, w.srv.Calls())
}
