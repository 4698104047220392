package engine

import (
	"crypto/x509"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/rhv/internal/ovirtfake"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEngineBackupPhases(t *testing.T) {
	f := ovirtfake.New(t, false)
	vm, disk := f.AddVM(1 << 20)
	c := engClient(t, f, nil)
	ctx := t.Context()

	b, err := c.StartBackup(ctx, vm, BackupRequest{DiskIDs: []string{disk}})
	require.NoError(t, err)
	assert.Equal(t, BackupInitializing, b.Phase)
	assert.Empty(t, b.ToCheckpointID, "no checkpoint before ready")

	b, err = c.Backup(ctx, vm, b.ID)
	require.NoError(t, err)
	assert.Equal(t, BackupStarting, b.Phase)
	b, err = c.WaitBackup(ctx, vm, b.ID, BackupReady)
	require.NoError(t, err)
	assert.Equal(t, BackupReady, b.Phase)
	assert.NotEmpty(t, b.ToCheckpointID)

	disks, err := c.BackupDisks(ctx, vm, b.ID)
	require.NoError(t, err)
	require.Len(t, disks, 1)
	assert.Equal(t, disk, disks[0].ID)
	assert.Equal(t, BackupModeFull, disks[0].BackupMode)
	assert.Equal(t, Int(1<<20), disks[0].ProvisionedSize, "the engine's string number decodes")

	// A second backup while one runs: 409 with the engine's detail kept.
	_, err = c.StartBackup(ctx, vm, BackupRequest{DiskIDs: []string{disk}})
	require.ErrorIs(t, err, cbt.ErrBusy)
	var herr *HTTPError
	require.ErrorAs(t, err, &herr)
	assert.Equal(t, http.StatusConflict, herr.Status)
	assert.Equal(t, "Operation Failed", herr.Reason)
	assert.Contains(t, herr.Detail, "during a backup")
	assert.Contains(t, err.Error(), "backup in progress")

	require.NoError(t, c.FinalizeBackup(ctx, vm, b.ID))
	b, err = c.WaitBackup(ctx, vm, b.ID, BackupSucceeded)
	require.NoError(t, err)
	assert.Equal(t, BackupSucceeded, b.Phase)
	assert.Equal(t, []string{b.ID}, f.BackupFinalizes)
}

func TestEngineErrors(t *testing.T) {
	f := ovirtfake.New(t, false)
	vm, disk := f.AddVM(1 << 20)
	c := engClient(t, f, nil)
	ctx := t.Context()

	_, err := c.Backup(ctx, vm, "00000000-0000-0000-0000-000000000999")
	require.ErrorIs(t, err, cbt.ErrNotFound)
	var herr *HTTPError
	require.ErrorAs(t, err, &herr)
	assert.Contains(t, herr.Detail, "Entity not found")

	_, err = c.StartBackup(ctx, vm, BackupRequest{DiskIDs: []string{disk}, FromCheckpointID: "11111111-2222-3333-4444-555555555555"})
	require.ErrorIs(t, err, cbt.ErrBusy, "the engine refuses an unknown checkpoint with a 409 fault")
	assert.Contains(t, err.Error(), "Checkpoint 11111111-2222-3333-4444-555555555555 does not exist")

	_, err = c.Backup(ctx, "../etc", "x")
	require.ErrorIs(t, err, cbt.ErrInvalidArgument)
	_, err = c.StartBackup(ctx, vm, BackupRequest{})
	require.ErrorIs(t, err, cbt.ErrInvalidArgument)

	// A transient 503 on a read is retried.
	f.Lock()
	f.Engine5xx = 2
	f.Unlock()
	d, err := c.Disk(ctx, disk)
	require.NoError(t, err)
	assert.Equal(t, Int(1<<20), d.ProvisionedSize)

	f.Lock()
	f.Engine5xx = 100
	f.Unlock()
	_, err = c.Disk(ctx, disk)
	require.ErrorIs(t, err, cbt.ErrBusy)
	assert.Contains(t, err.Error(), "after 3 retries")
}

func TestEngineAuth(t *testing.T) {
	f := ovirtfake.New(t, false)
	f.User, f.Password = "admin@internal", "secret"
	_, disk := f.AddVM(1 << 20)
	ctx := t.Context()

	_, err := engClient(t, f, nil).Disk(ctx, disk)
	require.ErrorIs(t, err, cbt.ErrInvalidArgument)
	assert.Contains(t, err.Error(), "log in again")

	_, err = engClient(t, f, &Options{Username: "admin@internal", Password: "wrong"}).Disk(ctx, disk)
	require.ErrorIs(t, err, cbt.ErrInvalidArgument)
	assert.NotContains(t, err.Error(), "wrong", "no secret in errors")

	_, err = engClient(t, f, &Options{Username: "admin@internal", Password: "secret"}).Disk(ctx, disk)
	require.NoError(t, err)

	c := engClient(t, f, nil)
	err = c.LoginSSO(ctx, "admin@internal", "nope")
	require.ErrorIs(t, err, cbt.ErrInvalidArgument)
	assert.Contains(t, err.Error(), "The username or password is incorrect")
	assert.NotContains(t, err.Error(), "nope")
	require.NoError(t, c.LoginSSO(ctx, "admin@internal", "secret"))
	_, err = c.Disk(ctx, disk)
	require.NoError(t, err, "the bearer token is accepted")
}

func TestEngineTLS(t *testing.T) {
	f := ovirtfake.New(t, true)
	_, disk := f.AddVM(1 << 20)
	ctx := t.Context()

	c, err := NewClient(f.Server.URL, &Options{Retries: -1})
	require.NoError(t, err)
	_, err = c.Disk(ctx, disk)
	require.ErrorIs(t, err, cbt.ErrInvalidArgument)
	assert.Contains(t, err.Error(), "certificate is not trusted")

	pool := x509.NewCertPool()
	pool.AddCert(f.Server.Certificate())
	c, err = NewClient(f.Server.URL, &Options{RootCAs: pool})
	require.NoError(t, err)
	_, err = c.Disk(ctx, disk)
	require.NoError(t, err, "a URL without a path gets /ovirt-engine/api")
}

func TestNewClientRejects(t *testing.T) {
	for _, u := range []string{"", "ftp://engine/ovirt-engine/api", "https://", "https://user:pw@engine/ovirt-engine/api"} {
		_, err := NewClient(u, nil)
		assert.ErrorIs(t, err, cbt.ErrInvalidArgument, u)
	}
}

func TestEngineIntJSON(t *testing.T) {
	var d Disk
	require.NoError(t, json.Unmarshal([]byte(`{"id":"x","provisioned_size":"10737418240"}`), &d))
	assert.Equal(t, Int(10737418240), d.ProvisionedSize)
	require.NoError(t, json.Unmarshal([]byte(`{"id":"x","provisioned_size":42}`), &d))
	assert.Equal(t, Int(42), d.ProvisionedSize)
	require.Error(t, json.Unmarshal([]byte(`{"provisioned_size":"1e3"}`), &d))
	b, err := json.Marshal(Int(7))
	require.NoError(t, err)
	assert.Equal(t, `"7"`, string(b))
}

func TestHTTPErrorText(t *testing.T) {
	e := &HTTPError{Status: 409, Reason: "Operation Failed", Detail: "[Cannot backup VM.]"}
	assert.Equal(t, "HTTP Conflict (409): Operation Failed: [Cannot backup VM.]", e.Error())
	e = &HTTPError{Status: 404, Message: "Ticket does not support dirty extents"}
	assert.Equal(t, "HTTP Not Found (404): Ticket does not support dirty extents", e.Error())
	e = &HTTPError{Status: 599}
	assert.Equal(t, "HTTP status (599)", e.Error())
}

// The request bodies have the JSON forms the engine's REST API reads:
// references as {"id": ...}, lists wrapped as {"disk": [...]}, actions {}.
func TestEngineRequestJSON(t *testing.T) {
	f := ovirtfake.New(t, false)
	vm, disk := f.AddVM(1 << 20)
	c := engClient(t, f, nil)
	ctx := t.Context()
	p := engFullBackupPoint(t, c, vm, disk)
	cp, err := CheckpointOf(p)
	require.NoError(t, err)

	d, err := OpenBackup(ctx, c, vm, disk, &BackupOptions{Since: p, InactivityTimeout: 1500 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, d.Close())

	f.Lock()
	defer f.Unlock()
	var backup map[string]any
	require.NoError(t, json.Unmarshal([]byte(f.Bodies["POST /ovirt-engine/api/vms/"+vm+"/backups"]), &backup))
	assert.Equal(t, cp, backup["from_checkpoint_id"])
	assert.Equal(t, map[string]any{"disk": []any{map[string]any{"id": disk}}}, backup["disks"])
	assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, backup["id"], "a client-chosen UUID")

	var transfer map[string]any
	require.NoError(t, json.Unmarshal([]byte(f.Bodies["POST /ovirt-engine/api/imagetransfers"]), &transfer))
	assert.Equal(t, map[string]any{"disk": map[string]any{"id": disk}, "backup": map[string]any{"id": backup["id"]},
		"direction": "download", "format": "raw", "inactivity_timeout": "2"}, transfer)
	assert.Equal(t, "{}", f.Bodies["POST /ovirt-engine/api/vms/"+vm+"/backups/"+backup["id"].(string)+"/finalize"])
}
