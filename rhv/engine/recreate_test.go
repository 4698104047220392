package engine

// Checkpoint change IDs that name another instance than the one a backup
// was taken at: a checkpoint deleted and made again under the same ID
// (a client may choose to_checkpoint_id), the same ID on another VM, the
// change ID of another disk, an unguarded change ID, and a base later than
// the backup's own checkpoint. The ground truth is the fake's record of the
// guest's writes: every range written between the base and the new backup
// must be listed, or the backup refused.

import (
	"net/http"
	"testing"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/cbttest"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/rhv/internal/ovirtfake"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// engOtherClientBackup runs a whole backup of vm's disk the way another
// client would, choosing the ID of the checkpoint it makes, and finalizes
// it.
func engOtherClientBackup(t *testing.T, c *Client, vm, disk, to string) {
	t.Helper()
	ctx := t.Context()
	in := map[string]any{"to_checkpoint_id": to, "disks": map[string]any{"disk": []map[string]string{{"id": disk}}}}
	var out Backup
	require.NoError(t, c.do(ctx, http.MethodPost, "/vms/"+vm+"/backups", in, &out, false))
	_, err := c.WaitBackup(ctx, vm, out.ID, BackupReady)
	require.NoError(t, err)
	require.NoError(t, c.FinalizeBackup(ctx, vm, out.ID))
	_, err = c.WaitBackup(ctx, vm, out.ID, BackupSucceeded)
	require.NoError(t, err)
}

// engRefusedNeverShort opens a backup since base and lists it: the open or
// the listing must be refused with class; were it not, every range of
// written must be listed.
func engRefusedNeverShort(t *testing.T, c *Client, vm, disk string, base cbt.ChangeID, written []extent.Extent, class error, want string) {
	t.Helper()
	d, err := OpenBackup(t.Context(), c, vm, disk, &BackupOptions{Since: base})
	if err == nil {
		defer d.Close()
		var got []cbt.Extent
		got, err = cbt.Collect(d.Changes(t.Context(), base, nil))
		if err == nil {
			for _, w := range extent.Normalize(written) {
				covered := false
				for _, g := range got {
					covered = covered || (g.Offset <= w.Offset && w.End() <= g.End())
				}
				if !covered {
					t.Fatalf("UNDER-REPORT: since %s, the write %v is not listed (listed %v)", base, w, got)
				}
			}
		}
	}
	require.ErrorIs(t, err, class, "since %s", base)
	assert.Contains(t, err.Error(), want)
}

func TestCheckpointRecreatedUnderSameID(t *testing.T) {
	f := ovirtfake.New(t, false)
	vm, disk := f.AddVM(4 << 20)
	c := engClient(t, f, nil)
	f.Write(vm, 0, 4096)
	p1 := engFullBackupPoint(t, c, vm, disk)
	cp, err := CheckpointOf(p1)
	require.NoError(t, err)
	f.Write(vm, 1<<20, 4096) // after the backup at p1
	// The checkpoint is removed, and another client's backup makes one
	// under the same ID.
	f.RemoveCheckpoint(vm, cp)
	engOtherClientBackup(t, c, vm, disk, cp)
	f.Write(vm, 2<<20, 4096)
	engRefusedNeverShort(t, c, vm, disk, p1, []extent.Extent{{Offset: 1 << 20, Length: 4096}, {Offset: 2 << 20, Length: 4096}},
		cbt.ErrChangeIDInvalid, "made again under the same ID")
	engNoLeak(t, f)

	// Removed and not made again: the engine no longer knows it.
	f.RemoveCheckpoint(vm, cp)
	engRefusedNeverShort(t, c, vm, disk, p1, nil, cbt.ErrChangeIDInvalid, "no longer knows checkpoint")
	engNoLeak(t, f)
}

func TestCheckpointOfAnotherVMOrDisk(t *testing.T) {
	f := ovirtfake.New(t, false)
	vmA, diskA := f.AddVM(4 << 20)
	vmB, diskB := f.AddVM(4 << 20)
	c := engClient(t, f, nil)
	f.Write(vmA, 0, 4096)
	pA := engFullBackupPoint(t, c, vmA, diskA)
	cp, err := CheckpointOf(pA)
	require.NoError(t, err)
	// VM B has a checkpoint under the same ID (another client chose it).
	f.Write(vmB, 0, 4096)
	engOtherClientBackup(t, c, vmB, diskB, cp)
	f.Write(vmB, 3<<20, 4096)
	engRefusedNeverShort(t, c, vmB, diskB, pA, []extent.Extent{{Offset: 0, Length: 4096}, {Offset: 3 << 20, Length: 4096}},
		cbt.ErrChangeIDInvalid, "another VM or disk")
	// The change ID of VM A's disk given for another disk of VM A.
	_, err = OpenBackup(t.Context(), c, vmA, diskB, &BackupOptions{Since: pA})
	require.ErrorIs(t, err, cbt.ErrChangeIDInvalid)
	assert.Contains(t, err.Error(), "another VM or disk")
	engNoLeak(t, f)
}

func TestCheckpointUnguardedRefused(t *testing.T) {
	f := ovirtfake.New(t, false)
	vm, disk := f.AddVM(1 << 20)
	c := engClient(t, f, nil)
	f.Write(vm, 0, 512)
	p := engFullBackupPoint(t, c, vm, disk)
	cp, err := CheckpointOf(p)
	require.NoError(t, err)
	b0, _ := engFinalizes(f)
	_, err = OpenBackup(t.Context(), c, vm, disk, &BackupOptions{Since: mustCheckpoint(t, cp)})
	require.ErrorIs(t, err, cbt.ErrChangeIDInvalid)
	assert.Contains(t, err.Error(), "carries no guard")
	b1, _ := engFinalizes(f)
	assert.Equal(t, b0, b1, "refused before a backup is started")
	// The guarded one works.
	d, err := OpenBackup(t.Context(), c, vm, disk, &BackupOptions{Since: p})
	require.NoError(t, err)
	assert.Empty(t, engList(t, d, p))
	require.NoError(t, d.Close())
	engNoLeak(t, f)
}

// A base later than the backup's own checkpoint is a caller's mistake
// (ErrInvalidArgument); an earlier one this backup cannot answer is
// ErrChangeIDInvalid, as before.
func TestCheckpointBackwards(t *testing.T) {
	f := ovirtfake.New(t, false)
	vm, disk := f.AddVM(1 << 20)
	c := engClient(t, f, nil)
	f.Write(vm, 0, 512)
	p0 := engFullBackupPoint(t, c, vm, disk)
	f.Write(vm, 4096, 512)
	p1 := engFullBackupPoint(t, c, vm, disk)
	f.Write(vm, 8192, 512)
	d, err := OpenBackup(t.Context(), c, vm, disk, &BackupOptions{Since: p1})
	require.NoError(t, err)
	defer d.Close()
	own := cbttest.MustChangeID(t, d)
	assert.Empty(t, engList(t, d, own))
	assert.Equal(t, []cbt.Extent{{Offset: 8192, Length: 512}}, engList(t, d, p1))

	// A checkpoint made after the backup's own one (the engine lists it
	// after it in the VM's checkpoint line).
	later := f.AddCheckpoint(vm)
	for _, since := range []cbt.ChangeID{mustCheckpoint(t, later), mustID(t, "rhv:checkpoint:"+later+"~c10123456789abcdef0123456789abcdef")} {
		_, err = cbt.Collect(d.Changes(t.Context(), since, nil))
		require.ErrorIs(t, err, cbt.ErrInvalidArgument, "since %s", since)
		assert.Contains(t, err.Error(), "made after this backup's own checkpoint")
	}
	// An earlier one: not answerable by this backup.
	_, err = cbt.Collect(d.Changes(t.Context(), p0, nil))
	require.ErrorIs(t, err, cbt.ErrChangeIDInvalid)
	assert.Contains(t, err.Error(), "open a backup with Since set to that checkpoint")
	// The backup's own from-checkpoint under another guard.
	cp1, err := CheckpointOf(p1)
	require.NoError(t, err)
	_, err = cbt.Collect(d.Changes(t.Context(), mustID(t, "rhv:checkpoint:"+cp1+"~c1ffffffffffffffffffffffffffffffff"), nil))
	require.ErrorIs(t, err, cbt.ErrChangeIDInvalid)
	require.NoError(t, d.Close())
	engNoLeak(t, f)
}
