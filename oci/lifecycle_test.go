package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"github.com/changedblocks/sdk/cbt/cbttest"
	"log/slog"
	"testing"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/oci/ocitest"
)

// scenario is a source volume with two backups and writes in between.
type scenario struct {
	f             *ocitest.Server
	c             *Clients
	conn          *fakeConnector
	volume        string
	first, second string
	written       []extent.Extent // between the backups
}

func newScenario(t *testing.T, boot bool) *scenario {
	f, c := newFakeOCI(t)
	s := &scenario{f: f, c: c, conn: &fakeConnector{}}
	s.volume = f.Source(1)
	f.Write(s.volume, extent.Extent{Offset: 0, Length: 8192}) // before the first backup
	s.first = f.Backup(s.volume, boot)
	s.written = []extent.Extent{
		{Offset: 4096, Length: 512},
		{Offset: 100 << 20, Length: 3 << 20},
		{Offset: 1<<30 - 4096, Length: 4096},
	}
	for _, e := range s.written {
		f.Write(s.volume, e)
	}
	s.second = f.Backup(s.volume, boot)
	return s
}

func (s *scenario) open(t *testing.T, mod func(*Options)) *cbt.Disk {
	t.Helper()
	o := fakeOptions(s.f, s.conn)
	if mod != nil {
		mod(o)
	}
	d, err := Open(t.Context(), s.c, s.second, o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func since(t *testing.T, id string) cbt.ChangeID {
	t.Helper()
	c, err := cbt.NewChangeID(Scheme, id)
	require.NoError(t, err)
	return c
}

// assertClean checks that no delta volume or attachment is left and that
// every login was logged out.
func (s *scenario) assertClean(t *testing.T) {
	t.Helper()
	vols, atts := s.f.Live()
	assert.Empty(t, vols, "delta volumes left behind")
	assert.Empty(t, atts, "attachments left behind")
	s.conn.mu.Lock()
	defer s.conn.mu.Unlock()
	assert.Equal(t, s.conn.connects, s.conn.disconnects, "logins and logouts")
}

// covers reports whether every byte of want is inside got.
func covers(got, want []extent.Extent) bool {
	return len(extent.SubtractSlices(extent.Normalize(append([]extent.Extent(nil), want...)), got)) == 0
}

func TestLifecycleBlockVolume(t *testing.T) {
	s := newScenario(t, false)
	var logs bytes.Buffer
	d := s.open(t, func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	assert.Equal(t, int64(1<<30), d.Capacity())
	assert.Equal(t, "oci:"+s.second, cbttest.MustChangeID(t, d).String())
	assert.Equal(t, int64(512), d.Granularity())

	got, err := cbt.Collect(d.Changes(t.Context(), since(t, s.first), nil))
	require.NoError(t, err)
	// The delta is reported at the change block size, 4096.
	assert.Equal(t, []extent.Extent{
		{Offset: 4096, Length: 4096},
		{Offset: 100 << 20, Length: 3 << 20},
		{Offset: 1<<30 - 4096, Length: 4096},
	}, got)
	assert.True(t, covers(got, s.written))
	s.assertClean(t)

	calls := s.f.Calls()
	assert.Equal(t, []string{
		"GET /volumeBackups", // Open: the disk's backup
		"GET /volumeBackups", // the listing: its base, checked before any volume is made
		"POST /volumes",
		"GET /volumes", "GET /volumes", "GET /volumes", "GET /volumes", // PROVISIONING x2, RESTORING, AVAILABLE
		"POST /volumeAttachments",
		"GET /volumeAttachments", "GET /volumeAttachments", // ATTACHING, ATTACHED
		"DELETE /volumeAttachments",
		"GET /volumeAttachments", "GET /volumeAttachments", // DETACHING, DETACHED
		"DELETE /volumes",
	}, calls)

	var create struct {
		DisplayName   string            `json:"displayName"`
		FreeformTags  map[string]string `json:"freeformTags"`
		SourceDetails map[string]any    `json:"sourceDetails"`
	}
	require.NoError(t, json.Unmarshal(s.f.Bodies("POST /volumes")[0], &create))
	assert.Equal(t, map[string]any{"type": "volumeBackupDelta", "firstBackupId": s.first, "secondBackupId": s.second,
		"changeBlockSizeInBytes": float64(4096)}, create.SourceDetails)
	assert.Equal(t, s.second, create.FreeformTags[deltaTag])
	var att map[string]any
	require.NoError(t, json.Unmarshal(s.f.Bodies("POST /volumeAttachments")[0], &att))
	assert.Equal(t, "iscsi", att["type"])
	assert.Equal(t, true, att["isReadOnly"])
	assert.Equal(t, true, att["useChap"])
	assert.Equal(t, ocitest.Instance, att["instanceId"])

	require.Len(t, s.conn.secrets, 1)
	assert.NotEmpty(t, s.conn.secrets[0], "the CHAP secret reaches the connector")
	assert.NotContains(t, logs.String(), s.conn.secrets[0], "the CHAP secret is never logged")
	assert.Contains(t, logs.String(), "the delta volume is torn down")
}

func TestLifecycleBootVolume(t *testing.T) {
	s := newScenario(t, true)
	d := s.open(t, nil)
	got, err := cbt.Collect(d.Changes(t.Context(), since(t, s.first), nil))
	require.NoError(t, err)
	assert.True(t, covers(got, s.written))
	s.assertClean(t)
	assert.Equal(t, 1, s.f.Count("POST /bootVolumes"))
	assert.Equal(t, 1, s.f.Count("DELETE /bootVolumes"))
	assert.Zero(t, s.f.Count("POST /volumes"))
	var create struct {
		SourceDetails map[string]any `json:"sourceDetails"`
	}
	require.NoError(t, json.Unmarshal(s.f.Bodies("POST /bootVolumes")[0], &create))
	assert.Equal(t, "bootVolumeBackupDelta", create.SourceDetails["type"])
}

func TestLifecycleChangeBlockSize(t *testing.T) {
	s := newScenario(t, false)
	d := s.open(t, func(o *Options) { o.ChangeBlockSize = 1 << 20 })
	got, err := cbt.Collect(d.Changes(t.Context(), since(t, s.first), nil))
	require.NoError(t, err)
	assert.Equal(t, []extent.Extent{{Offset: 0, Length: 1 << 20}, {Offset: 100 << 20, Length: 3 << 20}, {Offset: 1<<30 - 1<<20, Length: 1 << 20}}, got)
	var create struct {
		SourceDetails map[string]any `json:"sourceDetails"`
	}
	require.NoError(t, json.Unmarshal(s.f.Bodies("POST /volumes")[0], &create))
	assert.Equal(t, float64(1<<20), create.SourceDetails["changeBlockSizeInBytes"])
}

// One listing is one lifecycle, however many pages it takes.
func TestLifecycleOncePerListing(t *testing.T) {
	s := newScenario(t, false)
	d := s.open(t, func(o *Options) { o.MaxPageExtents = 1 })
	var pages int
	got, err := cbt.Collect(d.Changes(t.Context(), since(t, s.first), &cbt.ChangesOptions{Progress: func(cbt.Progress) { pages++ }}))
	require.NoError(t, err)
	assert.Len(t, got, 3)
	assert.GreaterOrEqual(t, pages, 3)
	assert.Equal(t, 1, s.f.Count("POST /volumes"))
	s.assertClean(t)

	// A second listing makes a second delta volume.
	_, err = cbt.Collect(d.Changes(t.Context(), since(t, s.first), nil))
	require.NoError(t, err)
	assert.Equal(t, 2, s.f.Count("POST /volumes"))
	s.assertClean(t)
}

func TestZeroSinceAndSelf(t *testing.T) {
	s := newScenario(t, false)
	d := s.open(t, nil)
	got, err := cbt.Collect(d.Changes(t.Context(), cbt.ChangeID{}, nil))
	require.NoError(t, err)
	assert.Equal(t, []extent.Extent{{Offset: 0, Length: 1 << 30}}, got, "no base: the whole disk")
	got, err = cbt.Collect(d.Changes(t.Context(), cbttest.MustChangeID(t, d), nil))
	require.NoError(t, err)
	assert.Empty(t, got, "since the disk's own point")
	assert.Equal(t, []string{"GET /volumeBackups"}, s.f.Calls(), "no volume is made for either")
}

func TestFaultyVolume(t *testing.T) {
	s := newScenario(t, false)
	s.f.SetFaulty(true)
	d := s.open(t, nil)
	_, err := cbt.Collect(d.Changes(t.Context(), since(t, s.first), nil))
	require.ErrorIs(t, err, cbt.ErrUnsupported)
	assert.ErrorContains(t, err, "FAULTY")
	s.assertClean(t)
	assert.Equal(t, 1, s.f.Count("DELETE /volumes"))
	assert.Zero(t, s.f.Count("POST /volumeAttachments"))
}

// The retry token makes a create whose answer was lost return the same
// volume when sent again.
func TestRetryTokenLostAnswer(t *testing.T) {
	s := newScenario(t, false)
	s.f.Fault("POST /volumes", ocitest.Fault{Status: 502, Code: "BadGateway", After: true})
	d := s.open(t, nil)
	_, err := cbt.Collect(d.Changes(t.Context(), since(t, s.first), nil))
	require.NoError(t, err)
	assert.Equal(t, 2, s.f.Count("POST /volumes"))
	assert.Equal(t, 1, s.f.Volumes(), "one volume for both sends")
	s.assertClean(t)
}

// The delta volume is scanned and deleted before the first extent is
// yielded: a caller that stops early, or takes its time over each extent,
// leaves nothing behind.
func TestEarlyStop(t *testing.T) {
	s := newScenario(t, false)
	d := s.open(t, func(o *Options) { o.MaxPageExtents = 1 })
	for range d.Changes(t.Context(), since(t, s.first), nil) {
		s.assertClean(t) // while the caller holds the first extent
		break
	}
	s.assertClean(t)
	// The next listing since the same base is served from the delta
	// scanned already.
	got, err := cbt.Collect(d.Changes(t.Context(), since(t, s.first), nil))
	require.NoError(t, err)
	assert.True(t, covers(got, s.written))
	assert.Equal(t, 1, s.f.Count("POST /volumes"))
	require.NoError(t, d.Close())
}

// A delta of more extents than MaxExtents is reported coarser, never
// leaving a changed byte out.
func TestMaxExtents(t *testing.T) {
	s := newScenario(t, false)
	d := s.open(t, func(o *Options) { o.MaxExtents = 2 })
	got, err := cbt.Collect(d.Changes(t.Context(), since(t, s.first), nil))
	require.NoError(t, err)
	assert.LessOrEqual(t, len(got), 2)
	assert.True(t, covers(got, s.written))
	s.assertClean(t)
}

func TestCancelDuringConnect(t *testing.T) {
	s := newScenario(t, false)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	s.conn.hook = cancel
	d := s.open(t, nil)
	_, err := cbt.Collect(d.Changes(ctx, since(t, s.first), nil))
	require.ErrorIs(t, err, context.Canceled)
	s.assertClean(t)
	assert.Equal(t, 1, s.f.Count("DELETE /volumes"), "cleanup runs with a fresh context")
}

func TestServiceErrorReachable(t *testing.T) {
	s := newScenario(t, false)
	s.f.Fault("POST /volumes", ocitest.Fault{Status: 400, Code: "InvalidParameter"})
	d := s.open(t, nil)
	_, err := cbt.Collect(d.Changes(t.Context(), since(t, s.first), nil))
	require.ErrorIs(t, err, cbt.ErrInvalidArgument)
	var se common.ServiceError
	require.True(t, errors.As(err, &se))
	assert.Equal(t, 400, se.GetHTTPStatusCode())
	assert.Equal(t, "InvalidParameter", se.GetCode())
	s.assertClean(t)
}
