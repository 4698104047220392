package engine

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/cbttest"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/rhv"
	"github.com/changedblocks/sdk/rhv/imageio"
	"github.com/changedblocks/sdk/rhv/internal/ovirtfake"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// engNoLeak asserts that the fake has no backup or transfer left running.
func engNoLeak(t testing.TB, f *ovirtfake.Fake) {
	t.Helper()
	backups, transfers := f.Active()
	assert.Empty(t, backups, "backups left running")
	assert.Empty(t, transfers, "transfers left running")
}

// engFinalizes returns the finalize calls the fake saw.
func engFinalizes(f *ovirtfake.Fake) (backups, transfers int) {
	f.Lock()
	defer f.Unlock()
	return len(f.BackupFinalizes), len(f.TransferFinalizes)
}

func engList(t testing.TB, d *cbt.Disk, since cbt.ChangeID) []cbt.Extent {
	t.Helper()
	exts, err := cbt.Collect(d.Changes(t.Context(), since, nil))
	require.NoError(t, err)
	return exts
}

func TestOpenBackupFullThenIncremental(t *testing.T) {
	f := ovirtfake.New(t, false)
	vm, disk := f.AddVM(4 << 20)
	c := engClient(t, f, nil)
	ctx := t.Context()
	f.Write(vm, 0, 4096)
	f.Write(vm, 1<<20, 65536)

	var info BackupInfo
	d1, err := OpenBackup(ctx, c, vm, disk, &BackupOptions{OnReady: func(i BackupInfo) { info = i }})
	require.NoError(t, err)
	assert.Equal(t, rhv.Scheme, d1.Scheme())
	assert.Equal(t, int64(4<<20), d1.Capacity())
	assert.True(t, strings.HasPrefix(cbttest.MustChangeID(t, d1).String(), "rhv:checkpoint:"+info.ToCheckpointID+"~c1"), "%s", cbttest.MustChangeID(t, d1))
	assert.Equal(t, BackupModeFull, info.Mode)
	assert.Empty(t, info.FromCheckpointID)
	assert.Contains(t, info.TransferURL, "/images/")
	assert.Equal(t, []string{"checksum", "extents"}, info.ImageioFeatures)
	cp, err := CheckpointOf(cbttest.MustChangeID(t, d1))
	require.NoError(t, err)
	assert.Equal(t, info.ToCheckpointID, cp)

	// Writes after the backup started are not in its export.
	f.Write(vm, 2<<20, 512)
	assert.Equal(t, []cbt.Extent{{Offset: 0, Length: 4096}, {Offset: 1 << 20, Length: 65536}}, engList(t, d1, cbt.ChangeID{}))
	assert.Empty(t, engList(t, d1, cbttest.MustChangeID(t, d1)), "nothing changed since the disk's own checkpoint")
	_, err = cbt.Collect(d1.Changes(ctx, mustCheckpoint(t, "aaaaaaaa-0000-0000-0000-000000000000"), nil))
	require.ErrorIs(t, err, cbt.ErrChangeIDInvalid, "a full backup answers no other base")
	_, err = cbt.Collect(d1.Changes(ctx, mustID(t, "rhv:volume:abc"), nil))
	require.ErrorIs(t, err, cbt.ErrChangeIDInvalid, "a volume point is no base for a backup")

	nb, nt := engFinalizes(f)
	assert.Equal(t, 0, nb+nt, "listing does not finalize")
	require.NoError(t, d1.Close())
	nb, nt = engFinalizes(f)
	assert.Equal(t, 1, nb)
	assert.Equal(t, 1, nt)
	f.Lock()
	assert.False(t, f.FinalizeOrderBad, "the transfer is finalized before the backup")
	f.Unlock()
	engNoLeak(t, f)

	// Incremental from the first backup's checkpoint.
	f.Write(vm, 3<<20, 1000)
	var info2 BackupInfo
	d2, err := OpenBackup(ctx, c, vm, disk, &BackupOptions{Since: cbttest.MustChangeID(t, d1), OnReady: func(i BackupInfo) { info2 = i }})
	require.NoError(t, err)
	defer d2.Close()
	assert.Equal(t, BackupModeIncremental, info2.Mode)
	assert.Equal(t, info.ToCheckpointID, info2.FromCheckpointID)
	assert.NotEqual(t, cbttest.MustChangeID(t, d1), cbttest.MustChangeID(t, d2))
	assert.Equal(t, []cbt.Extent{{Offset: 2 << 20, Length: 512}, {Offset: 3 << 20, Length: 1000}}, engList(t, d2, cbttest.MustChangeID(t, d1)))
	assert.Equal(t, []cbt.Extent{{Offset: 0, Length: 4096}, {Offset: 1 << 20, Length: 65536}, {Offset: 2 << 20, Length: 512}, {Offset: 3 << 20, Length: 1000}},
		engList(t, d2, cbt.ChangeID{}))
	assert.Empty(t, engList(t, d2, cbttest.MustChangeID(t, d2)))
	other := mustCheckpoint(t, "bbbbbbbb-0000-0000-0000-000000000000")
	_, err = cbt.Collect(d2.Changes(ctx, other, nil))
	require.ErrorIs(t, err, cbt.ErrChangeIDInvalid)
	assert.Contains(t, err.Error(), "open a backup with Since set to that checkpoint")
	require.NoError(t, d2.Close())
	engNoLeak(t, f)
}

func mustCheckpoint(t testing.TB, id string) cbt.ChangeID {
	t.Helper()
	c, err := CheckpointChangeID(id)
	require.NoError(t, err)
	return c
}

func mustID(t testing.TB, s string) cbt.ChangeID {
	t.Helper()
	c, err := cbt.ParseChangeID(s)
	require.NoError(t, err)
	return c
}

// engFullBackupPoint takes a full backup and closes it, returning its
// change ID.
func engFullBackupPoint(t testing.TB, c *Client, vm, disk string) cbt.ChangeID {
	t.Helper()
	d, err := OpenBackup(t.Context(), c, vm, disk, nil)
	require.NoError(t, err)
	require.NoError(t, d.Close())
	return cbttest.MustChangeID(t, d)
}

// The bitmap of the base checkpoint is gone (unclean shutdown): the engine
// makes the disk's backup full.
func TestOpenBackupModeFull(t *testing.T) {
	f := ovirtfake.New(t, false)
	vm, disk := f.AddVM(1 << 20)
	c := engClient(t, f, nil)
	ctx := t.Context()
	f.Write(vm, 0, 512)
	p1 := engFullBackupPoint(t, c, vm, disk)
	f.Write(vm, 8192, 512)
	f.LostBitmaps(vm)

	// By default the disk opens; the incremental listing says why it cannot
	// be, and the full one comes from the same backup.
	var info BackupInfo
	d, err := OpenBackup(ctx, c, vm, disk, &BackupOptions{Since: p1, OnReady: func(i BackupInfo) { info = i }})
	require.NoError(t, err)
	assert.Equal(t, BackupModeFull, info.Mode)
	assert.Contains(t, info.FullReason, "bitmap is missing")
	n := 0
	var lerr error
	for _, err := range d.Changes(ctx, p1, nil) {
		if err != nil {
			lerr = err
			break
		}
		n++
	}
	require.ErrorIs(t, lerr, cbt.ErrChangeIDInvalid)
	assert.Zero(t, n, "no extent before the error")
	assert.Contains(t, lerr.Error(), "bitmap is missing")
	assert.Equal(t, []cbt.Extent{{Offset: 0, Length: 512}, {Offset: 8192, Length: 512}}, engList(t, d, cbt.ChangeID{}))
	require.NoError(t, d.Close())
	engNoLeak(t, f)

	// RequireIncremental: OpenBackup fails and the backup is finalized.
	p2 := cbttest.MustChangeID(t, d)
	f.LostBitmaps(vm)
	b0, _ := engFinalizes(f)
	_, err = OpenBackup(ctx, c, vm, disk, &BackupOptions{Since: p2, RequireIncremental: true})
	require.ErrorIs(t, err, cbt.ErrChangeIDInvalid)
	assert.Contains(t, err.Error(), "bitmap is missing")
	b1, _ := engFinalizes(f)
	assert.Equal(t, b0+1, b1, "the backup was finalized")
	engNoLeak(t, f)
}

func TestOpenBackupErrorsReleaseEverything(t *testing.T) {
	type setup func(f *ovirtfake.Fake, c *Client, vm, disk string) *BackupOptions
	for name, tc := range map[string]struct {
		setup           setup
		class           error
		msg             string
		backupFinalized bool // a finalize call is expected
	}{
		"backup fails": {
			setup: func(f *ovirtfake.Fake, _ *Client, _, _ string) *BackupOptions { f.FailNextBackup = true; return nil },
			class: cbt.ErrUnsupported, msg: `phase "failed"`,
		},
		"incremental backup fails": {
			setup: func(f *ovirtfake.Fake, c *Client, vm, disk string) *BackupOptions {
				f.Unlock()
				p := engFullBackupPoint(f.T, c, vm, disk)
				f.Lock()
				f.FailNextBackup = true
				return &BackupOptions{Since: p}
			},
			class: cbt.ErrChangeIDInvalid, msg: "full VM backup needed",
		},
		"transfer fails": {
			setup: func(f *ovirtfake.Fake, _ *Client, _, _ string) *BackupOptions { f.FailTransfer = true; return nil },
			class: cbt.ErrUnsupported, msg: `phase "paused_system"`,
			backupFinalized: true,
		},
		"no to_checkpoint_id": {
			setup: func(f *ovirtfake.Fake, _ *Client, _, _ string) *BackupOptions { f.NoToCheckpoint = true; return nil },
			class: cbt.ErrUnsupported, msg: "not enabled for incremental backup",
			backupFinalized: true,
		},
		"unknown checkpoint": {
			setup: func(*ovirtfake.Fake, *Client, string, string) *BackupOptions {
				return &BackupOptions{Since: mustID(t, "rhv:checkpoint:99999999-0000-0000-0000-000000000000~c10123456789abcdef0123456789abcdef")}
			},
			class: cbt.ErrChangeIDInvalid, msg: "no longer knows checkpoint",
		},
		"imageio down": {
			setup: func(f *ovirtfake.Fake, _ *Client, _, _ string) *BackupOptions { f.Imageio5xx = 100; return nil },
			class: cbt.ErrBusy, msg: "imageio",
			backupFinalized: true,
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := ovirtfake.New(t, false)
			vm, disk := f.AddVM(1 << 20)
			c := engClient(t, f, nil)
			f.Lock()
			o := tc.setup(f, c, vm, disk)
			f.Unlock()
			if o == nil {
				o = &BackupOptions{}
			}
			o.Imageio = &imageio.Options{HTTPClient: f.Server.Client(), Backoff: time.Millisecond}
			b0, _ := engFinalizes(f)
			d, err := OpenBackup(t.Context(), c, vm, disk, o)
			require.Nil(t, d)
			require.ErrorIs(t, err, tc.class)
			assert.Contains(t, err.Error(), tc.msg)
			b1, _ := engFinalizes(f)
			if tc.backupFinalized {
				assert.Equal(t, b0+1, b1, "the backup is finalized")
			}
			engNoLeak(t, f)
		})
	}
}

// A second backup while one is open: 409, ErrBusy; the first is untouched.
func TestOpenBackupConflict(t *testing.T) {
	f := ovirtfake.New(t, false)
	vm, disk := f.AddVM(1 << 20)
	c := engClient(t, f, nil)
	f.Write(vm, 0, 512)
	d1, err := OpenBackup(t.Context(), c, vm, disk, nil)
	require.NoError(t, err)
	_, err = OpenBackup(t.Context(), c, vm, disk, nil)
	require.ErrorIs(t, err, cbt.ErrBusy)
	var herr *HTTPError
	require.ErrorAs(t, err, &herr)
	assert.Equal(t, http.StatusConflict, herr.Status)
	assert.Equal(t, []cbt.Extent{{Offset: 0, Length: 512}}, engList(t, d1, cbt.ChangeID{}))
	nb, _ := engFinalizes(f)
	assert.Equal(t, 0, nb, "the refused backup needs no finalize")
	require.NoError(t, d1.Close())
	engNoLeak(t, f)
}

// An engine that starts the backup under an ID of its own: the open fails,
// and the backup that runs is the one finalized.
func TestOpenBackupOtherID(t *testing.T) {
	f := ovirtfake.New(t, false)
	f.IgnoreBackupID = true
	vm, disk := f.AddVM(1 << 20)
	c := engClient(t, f, nil)
	_, err := OpenBackup(t.Context(), c, vm, disk, nil)
	require.ErrorIs(t, err, cbt.ErrCorrupt)
	nb, _ := engFinalizes(f)
	assert.Equal(t, 1, nb, "the backup the engine started is finalized")
	engNoLeak(t, f)
}

// engCancelTransport cancels a context once a request matching match got its
// answer, and returns context.Canceled instead of the answer when lose is
// set (the answer is lost).
type engCancelTransport struct {
	base   http.RoundTripper
	match  string
	lose   bool
	cancel context.CancelFunc
	hit    atomic.Bool
}

func (e *engCancelTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := e.base.RoundTrip(r)
	if err == nil && r.Method+" "+r.URL.Path == e.match && !e.hit.Swap(true) {
		e.cancel()
		if e.lose {
			resp.Body.Close()
			return nil, context.Canceled
		}
	}
	return resp, err
}

// A cancelled ctx at any step still releases the backup and the transfer,
// even when the answer that carried the backup's ID was lost.
func TestOpenBackupCancelledReleases(t *testing.T) {
	for _, step := range []struct {
		match string
		lose  bool
	}{
		{"POST /ovirt-engine/api/vms/%VM%/backups", true},
		{"POST /ovirt-engine/api/vms/%VM%/backups", false},
		{"GET /ovirt-engine/api/vms/%VM%/backups/%B%/disks", false},
		{"POST /ovirt-engine/api/imagetransfers", false},
		{"POST /ovirt-engine/api/imagetransfers", true},
	} {
		t.Run(step.match+map[bool]string{true: " lost", false: ""}[step.lose], func(t *testing.T) {
			f := ovirtfake.New(t, false)
			vm, disk := f.AddVM(1 << 20)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			tr := &engCancelTransport{base: f.Server.Client().Transport, lose: step.lose, cancel: cancel,
				match: strings.ReplaceAll(step.match, "%VM%", vm)}
			if strings.Contains(tr.match, "%B%") {
				tr.match = "" // filled below, once the backup ID is known
			}
			c := engClient(t, f, &Options{HTTPClient: &http.Client{Transport: tr}})
			if tr.match == "" {
				// Cancel on the disks list of whatever backup is started.
				tr.match = "GET /ovirt-engine/api/vms/" + vm + "/backups/"
				tr.base = engPrefixTransport{base: f.Server.Client().Transport, prefix: tr.match, suffix: "/disks", cancel: cancel}
			}
			d, err := OpenBackup(ctx, c, vm, disk, nil)
			require.Nil(t, d)
			require.ErrorIs(t, err, context.Canceled)
			engNoLeak(t, f)
			if strings.Contains(step.match, "imagetransfers") {
				_, nt := engFinalizes(f)
				assert.Equal(t, 1, nt, "the transfer is finalized")
			}
		})
	}
}

// engPrefixTransport cancels once a request whose path has prefix and
// suffix got its answer.
type engPrefixTransport struct {
	base           http.RoundTripper
	prefix, suffix string
	cancel         context.CancelFunc
}

func (e engPrefixTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := e.base.RoundTrip(r)
	if err == nil && strings.HasPrefix(r.Method+" "+r.URL.Path, e.prefix) && strings.HasSuffix(r.URL.Path, e.suffix) {
		e.cancel()
	}
	return resp, err
}

// A caller that stops iterating early, or whose ctx is cancelled while
// listing, leaves the backup open until Close, which releases it even then.
func TestBackupStopEarlyAndClose(t *testing.T) {
	f := ovirtfake.New(t, false)
	vm, disk := f.AddVM(1 << 20)
	c := engClient(t, f, nil)
	for i := int64(0); i < 8; i++ {
		f.Write(vm, i*65536, 512)
	}
	d, err := OpenBackup(t.Context(), c, vm, disk, nil)
	require.NoError(t, err)
	for range d.Changes(t.Context(), cbt.ChangeID{}, nil) {
		break
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	n := 0
	var lerr error
	for _, err := range d.Changes(ctx, cbt.ChangeID{}, nil) {
		if err != nil {
			lerr = err
			break
		}
		n++
		cancel()
	}
	assert.Equal(t, 1, n)
	require.ErrorIs(t, lerr, context.Canceled)
	nb, nt := engFinalizes(f)
	assert.Equal(t, 0, nb+nt)
	assert.Len(t, engList(t, d, cbt.ChangeID{}), 8, "the disk lists again after an early stop")

	require.NoError(t, d.Close())
	require.NoError(t, d.Close())
	nb, nt = engFinalizes(f)
	assert.Equal(t, 1, nb)
	assert.Equal(t, 1, nt)
	engNoLeak(t, f)
	_, err = cbt.Collect(d.Changes(t.Context(), cbt.ChangeID{}, nil))
	require.ErrorIs(t, err, cbt.ErrClosed)
}

func TestBackupImageioFailures(t *testing.T) {
	t.Run("no dirty on an incremental ticket", func(t *testing.T) {
		f := ovirtfake.New(t, false)
		vm, disk := f.AddVM(1 << 20)
		c := engClient(t, f, nil)
		p := engFullBackupPoint(t, c, vm, disk)
		f.Write(vm, 0, 512)
		f.NoDirtyTickets = true
		d, err := OpenBackup(t.Context(), c, vm, disk, &BackupOptions{Since: p})
		require.NoError(t, err)
		defer d.Close()
		_, err = cbt.Collect(d.Changes(t.Context(), p, nil))
		require.ErrorIs(t, err, cbt.ErrChangeIDInvalid)
		assert.NotErrorIs(t, err, cbt.ErrUnsupported, "one class")
		assert.Contains(t, err.Error(), "Ticket does not support dirty extents")
		assert.Len(t, engList(t, d, cbt.ChangeID{}), 1)
	})
	t.Run("short extents", func(t *testing.T) {
		f := ovirtfake.New(t, false)
		vm, disk := f.AddVM(1 << 20)
		c := engClient(t, f, nil)
		f.Write(vm, 0, 512)
		f.ShortExtents = true
		d, err := OpenBackup(t.Context(), c, vm, disk, nil)
		require.NoError(t, err)
		defer d.Close()
		_, err = cbt.Collect(d.Changes(t.Context(), cbt.ChangeID{}, nil))
		require.ErrorIs(t, err, cbt.ErrCorrupt)
		assert.Contains(t, err.Error(), "would go unreported")
	})
	t.Run("old imageio and proxy", func(t *testing.T) {
		f := ovirtfake.New(t, false)
		vm, disk := f.AddVM(1 << 20)
		c := engClient(t, f, nil)
		f.Write(vm, 0, 512)
		p := engFullBackupPoint(t, c, vm, disk)
		f.Write(vm, 4096, 512)
		f.OldImageio = true
		var info BackupInfo
		d, err := OpenBackup(t.Context(), c, vm, disk, &BackupOptions{Since: p, UseProxy: true, OnReady: func(i BackupInfo) { info = i }})
		require.NoError(t, err)
		defer d.Close()
		assert.True(t, info.TransferUsingProxy)
		assert.Contains(t, info.TransferURL, "/proxy/images/")
		assert.Equal(t, []cbt.Extent{{Offset: 4096, Length: 512}}, engList(t, d, p))
		assert.Equal(t, []cbt.Extent{{Offset: 0, Length: 512}, {Offset: 4096, Length: 512}}, engList(t, d, cbt.ChangeID{}))
	})
	t.Run("finalize retried", func(t *testing.T) {
		f := ovirtfake.New(t, false)
		vm, disk := f.AddVM(1 << 20)
		c := engClient(t, f, nil)
		d, err := OpenBackup(t.Context(), c, vm, disk, nil)
		require.NoError(t, err)
		f.Lock()
		f.FinalizeBackup5xx = 1
		f.Unlock()
		require.NoError(t, d.Close())
		engNoLeak(t, f)
	})
	t.Run("finalize ends failed", func(t *testing.T) {
		f := ovirtfake.New(t, false)
		vm, disk := f.AddVM(1 << 20)
		c := engClient(t, f, nil)
		d, err := OpenBackup(t.Context(), c, vm, disk, nil)
		require.NoError(t, err)
		f.Lock()
		f.FailFinalize = true
		f.Unlock()
		err = d.Close()
		require.ErrorIs(t, err, cbt.ErrUnsupported)
		assert.Contains(t, err.Error(), "take a full backup next time")
		engNoLeak(t, f)
	})
	t.Run("backup stuck", func(t *testing.T) {
		f := ovirtfake.New(t, false)
		vm, disk := f.AddVM(1 << 20)
		c := engClient(t, f, &Options{PhaseTimeout: 30 * time.Millisecond})
		f.StuckBackups = true
		_, err := OpenBackup(t.Context(), c, vm, disk, nil)
		require.ErrorIs(t, err, cbt.ErrBusy)
		assert.Contains(t, err.Error(), `still in phase "starting"`)
		nb, _ := engFinalizes(f)
		assert.Equal(t, 1, nb, "the stuck backup is finalized")
		engNoLeak(t, f)
	})
	t.Run("finalize keeps failing", func(t *testing.T) {
		f := ovirtfake.New(t, false)
		vm, disk := f.AddVM(1 << 20)
		c := engClient(t, f, nil)
		d, err := OpenBackup(t.Context(), c, vm, disk, nil)
		require.NoError(t, err)
		f.Lock()
		f.FinalizeBackup5xx = 100
		f.Unlock()
		err = d.Close()
		require.ErrorIs(t, err, cbt.ErrBusy)
		assert.Contains(t, err.Error(), "finalize it in the engine")
	})
}

func TestOpenBackupArguments(t *testing.T) {
	f := ovirtfake.New(t, false)
	vm, disk := f.AddVM(1 << 20)
	c := engClient(t, f, nil)
	ctx := t.Context()
	for name, call := range map[string]func() error{
		"nil engine": func() error { _, err := OpenBackup(ctx, nil, vm, disk, nil); return err },
		"bad vm":     func() error { _, err := OpenBackup(ctx, c, "a/b", disk, nil); return err },
		"other scheme": func() error {
			_, err := OpenBackup(ctx, c, vm, disk, &BackupOptions{Since: mustID(t, "qcow2:s1")})
			return err
		},
		"volume since": func() error {
			_, err := OpenBackup(ctx, c, vm, disk, &BackupOptions{Since: mustID(t, "rhv:volume:abc")})
			return err
		},
	} {
		assert.ErrorIs(t, call(), cbt.ErrInvalidArgument, name)
	}
	f.Lock()
	assert.Empty(t, f.Requests, "nothing was sent")
	f.Unlock()
}

func TestCheckpointChangeID(t *testing.T) {
	id, err := CheckpointChangeID("1b2c3d4e-0000-4000-8000-000000000001")
	require.NoError(t, err)
	assert.Equal(t, "rhv:checkpoint:1b2c3d4e-0000-4000-8000-000000000001", id.String())
	back, err := cbt.ParseChangeID(id.String())
	require.NoError(t, err)
	cp, err := CheckpointOf(back)
	require.NoError(t, err)
	assert.Equal(t, "1b2c3d4e-0000-4000-8000-000000000001", cp)
	for _, bad := range []string{"", "a b", strings.Repeat("x", 200)} {
		_, err := CheckpointChangeID(bad)
		assert.ErrorIs(t, err, cbt.ErrInvalidArgument, bad)
	}
	_, err = CheckpointOf(mustID(t, "mem:checkpoint:x"))
	assert.ErrorIs(t, err, cbt.ErrInvalidArgument)
	_, err = CheckpointOf(mustID(t, "rhv:volume:x"))
	assert.ErrorIs(t, err, cbt.ErrInvalidArgument)
}

// reportedExtents keeps every byte the flags mark: data (zero=false, holes
// too) for a zero listing, dirty areas (zeroed ones too) for a dirty one.
func TestReportedExtents(t *testing.T) {
	raw := []imageio.Extent{{Start: 0, Length: 10, Zero: false, Hole: true}, {Start: 10, Length: 10, Zero: false},
		{Start: 20, Length: 10, Zero: true}, {Start: 30, Length: 10, Dirty: true, Zero: true}, {Start: 40, Length: 20}}
	got, err := reportedExtents(raw, imageio.ContextZero, 50)
	require.NoError(t, err)
	assert.Equal(t, []cbt.Extent{{Offset: 0, Length: 20}, {Offset: 40, Length: 10}}, got)
	got, err = reportedExtents(raw, imageio.ContextDirty, 60)
	require.NoError(t, err)
	assert.Equal(t, []cbt.Extent{{Offset: 30, Length: 10}}, got)
	_, err = reportedExtents(raw, imageio.ContextZero, 61)
	require.ErrorIs(t, err, cbt.ErrCorrupt)
	_, err = reportedExtents(nil, imageio.ContextZero, 1)
	require.ErrorIs(t, err, cbt.ErrCorrupt)
	assert.True(t, extent.IsNormalized(got))
	assert.False(t, errors.Is(err, cbt.ErrChangeIDInvalid))
}

// More extents than one driver page holds: the listing pages through them.
func TestBackupManyExtents(t *testing.T) {
	f := ovirtfake.New(t, false)
	const n = backupPageExtents + 17
	vm, disk := f.AddVM(2 * n * 512)
	c := engClient(t, f, nil)
	var want []cbt.Extent
	for i := int64(0); i < n; i++ {
		f.Write(vm, 2*i*512, 512)
		want = append(want, cbt.Extent{Offset: 2 * i * 512, Length: 512})
	}
	d, err := OpenBackup(t.Context(), c, vm, disk, nil)
	require.NoError(t, err)
	defer d.Close()
	pages := 0
	got, err := cbt.Collect(d.Changes(t.Context(), cbt.ChangeID{}, &cbt.ChangesOptions{Progress: func(cbt.Progress) { pages++ }}))
	require.NoError(t, err)
	assert.Equal(t, want, got)
	assert.GreaterOrEqual(t, pages, 2)
	got, err = cbt.Collect(d.Changes(t.Context(), cbt.ChangeID{}, &cbt.ChangesOptions{StartOffset: 1000 * 1024, Length: 4096}))
	require.NoError(t, err)
	assert.Equal(t, []cbt.Extent{{Offset: 1000 * 1024, Length: 512}, {Offset: 1000*1024 + 1024, Length: 512},
		{Offset: 1000*1024 + 2048, Length: 512}, {Offset: 1000*1024 + 3072, Length: 512}}, got)
}
