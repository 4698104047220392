package qemu_test

import (
	"errors"
	"github.com/changedblocks/sdk/cbt/cbttest"
	"testing"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/qemutools"
	"github.com/changedblocks/sdk/qemu"
	"github.com/stretchr/testify/require"
)

func TestSinceSnapshot(t *testing.T) {
	p := newQcow2(t, "a.qcow2", "cluster_size=64k", "4M")
	qemutools.QemuIO(t, p, "write -P 1 0 64k", "write -P 2 1M 4k")
	snapshot(t, p, "s1")
	qemutools.QemuIO(t, p, "write -P 3 2M 64k", "write -z 3M 64k")
	snapshot(t, p, "s2")
	qemutools.QemuIO(t, p, "write -P 4 0 512")
	s1, s2 := snapID(t, p, "s1"), snapID(t, p, "s2")

	at2 := openAt(t, p, qemu.SnapshotPoint("s2"), trusted)
	require.Equal(t, s2, cbttest.MustChangeID(t, at2))
	require.Equal(t, 4*miB, at2.Capacity())
	require.Equal(t, 64*kiB, at2.Granularity())
	require.Equal(t, []extent.Extent{ext(2*miB, 64*kiB), ext(3*miB, 64*kiB)}, mustList(t, at2, s1))
	require.Empty(t, mustList(t, at2, s2))
	require.Equal(t, []extent.Extent{ext(0, 64*kiB), ext(1*miB, 64*kiB), ext(2*miB, 64*kiB), ext(3*miB, 64*kiB)},
		mustList(t, at2, cbt.ChangeID{}))

	act := openAt(t, p, qemu.Active(), trusted)
	_, noID := act.ChangeID()
	require.ErrorIs(t, noID, cbt.ErrUnsupported, "the active state names no fixed point")
	require.Equal(t, []extent.Extent{ext(0, 64*kiB)}, mustList(t, act, s2))
	require.Equal(t, []extent.Extent{ext(0, 64*kiB), ext(2*miB, 64*kiB), ext(3*miB, 64*kiB)}, mustList(t, act, s1))
	// The plain name works as a base too.
	require.Equal(t, []extent.Extent{ext(0, 64*kiB)}, mustList(t, act, changeID(t, qemu.SnapshotPoint("s2"))))
	// And the id.
	require.Equal(t, []extent.Extent{ext(0, 64*kiB)}, mustList(t, act, changeID(t, qemu.SnapshotPoint("2"))))

	// A deleted base.
	qemutools.QemuImg(t, "snapshot", "-d", "s1", p)
	act2 := openAt(t, p, qemu.Active(), trusted)
	_, err := listChanges(t, act2, s1)
	require.ErrorIs(t, err, cbt.ErrChangeIDInvalid)
}

func TestSnapshotRecreatedGuard(t *testing.T) {
	p := newQcow2(t, "a.qcow2", "cluster_size=64k", "4M")
	qemutools.QemuIO(t, p, "write -P 1 0 64k")
	snapshot(t, p, "backup-latest")
	old := snapID(t, p, "backup-latest")
	qemutools.QemuIO(t, p, "write -P 2 1M 64k")
	qemutools.QemuImg(t, "snapshot", "-d", "backup-latest", p)
	snapshot(t, p, "backup-latest")
	cur := snapID(t, p, "backup-latest")
	require.NotEqual(t, old, cur)

	act := openAt(t, p, qemu.Active(), nil)
	_, err := listChanges(t, act, old)
	require.ErrorIs(t, err, cbt.ErrChangeIDInvalid)
	require.Contains(t, err.Error(), "re-created")
	require.Empty(t, mustList(t, act, cur))

	pt, err := qemu.PointOf(old)
	require.NoError(t, err)
	_, err = qemu.Open(p, pt, nil)
	require.ErrorIs(t, err, cbt.ErrNotFound)
	var ce *cbt.Error
	require.True(t, errors.As(err, &ce))
}
