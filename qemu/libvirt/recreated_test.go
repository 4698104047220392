//go:build cgo

package libvirt_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	golibvirt "libvirt.org/go/libvirt"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/qemutools"
	"github.com/changedblocks/sdk/qemu/libvirt"
)

// The class "a change ID must never name a different instance of what it
// named", made with the real tools: a checkpoint deleted and made again under
// its name, a domain undefined and defined again with the same UUID, a disk
// replaced under its target. Each listing since the old change ID is refused,
// live (a backup job) and offline (the qcow2 bitmaps); none comes out short.

// listBoth lists since base live, then with the domain shut off, and
// returns both errors.
func listBoth(t *testing.T, c *libvirt.Conn, v *vm, base cbt.ChangeID) (live, offline error) {
	t.Helper()
	d, err := c.OpenDisk(v.name, "vda", &libvirt.DiskOptions{SocketDir: t.TempDir()})
	require.NoError(t, err)
	defer d.Close()
	_, live = cbt.Collect(d.Changes(t.Context(), base, nil))
	v.stop()
	_, offline = cbt.Collect(d.Changes(t.Context(), base, nil))
	v.start()
	return live, offline
}

// TestCheckpointRecreatedSameSecond: checkpoint r, a write, r deleted and
// made again at once (libvirt's creationTime counts whole seconds, so the
// two usually share it), another write: the old change ID is refused (the
// nonce CreateCheckpoint writes tells them apart), the new one lists the
// second write only. Without the nonce, the old ID listed the second write
// only: the first was missed.
func TestCheckpointRecreatedSameSecond(t *testing.T) {
	c := connect(t)
	const size = 16 << 20
	v := newVM(t, size)
	var old, again libvirt.Checkpoint
	var err error
	for try := range 10 {
		old, err = c.CreateCheckpoint(v.name, "r", nil)
		require.NoError(t, err)
		if try == 0 {
			v.write(0x21, 1<<20, 64<<10) // W2: after the old point
		}
		require.NoError(t, c.DeleteCheckpoint(v.name, "r", nil))
		again, err = c.CreateCheckpoint(v.name, "r", nil)
		require.NoError(t, err)
		if again.CreationTime == old.CreationTime {
			break
		}
		require.NoError(t, c.DeleteCheckpoint(v.name, "r", nil))
	}
	t.Logf("old %s, again %s (same second: %v)", old.ChangeID(), again.ChangeID(), old.CreationTime == again.CreationTime)
	v.write(0x22, 8<<20, 64<<10) // W3: after the new point

	live, offline := listBoth(t, c, v, old.ChangeID())
	assert.ErrorIs(t, live, cbt.ErrChangeIDInvalid, "live")
	assert.ErrorIs(t, offline, cbt.ErrChangeIDInvalid, "offline")
	t.Logf("live: %v", live)

	d, err := c.OpenDisk(v.name, "vda", &libvirt.DiskOptions{SocketDir: t.TempDir()})
	require.NoError(t, err)
	defer d.Close()
	got, err := cbt.Collect(d.Changes(t.Context(), again.ChangeID(), nil))
	require.NoError(t, err)
	assert.Equal(t, []extent.Extent{{Offset: 8 << 20, Length: 64 << 10}}, got, "since the new checkpoint: the write after it")
}

// TestDomainRedefinedSameUUID: a domain undefined (with its checkpoint
// metadata) and defined again from its XML, same name and UUID, gets a
// checkpoint of the old name: the old change ID is refused.
func TestDomainRedefinedSameUUID(t *testing.T) {
	c := connect(t)
	const size = 16 << 20
	v := newVM(t, size)
	old, err := c.CreateCheckpoint(v.name, "n1", nil)
	require.NoError(t, err)
	v.write(0x31, 2<<20, 64<<10)
	dom := v.dom()
	doc, err := dom.GetXMLDesc(golibvirt.DOMAIN_XML_INACTIVE)
	require.NoError(t, err)
	require.NoError(t, dom.Destroy())
	require.NoError(t, dom.UndefineFlags(golibvirt.DOMAIN_UNDEFINE_CHECKPOINTS_METADATA))
	again, err := v.lc.DomainDefineXML(doc)
	require.NoError(t, err)
	_ = again.Free()
	v.start()
	uuid, err := v.dom().GetUUIDString()
	require.NoError(t, err)
	require.Equal(t, old.Domain, uuid, "the same domain UUID")

	live, offline := listBoth(t, c, v, old.ChangeID())
	assert.ErrorIs(t, live, cbt.ErrChangeIDInvalid, "checkpoint gone, live")
	assert.ErrorIs(t, offline, cbt.ErrChangeIDInvalid, "checkpoint gone, offline")

	// The image still holds the bitmap n1 (qemu refuses a second one of the
	// name): removed with qemu-img, then the checkpoint made again.
	v.stop()
	qemutools.QemuImg(t, "bitmap", "--remove", v.image, "n1")
	v.start()
	_, err = c.CreateCheckpoint(v.name, "n1", nil)
	require.NoError(t, err)
	v.write(0x32, 4<<20, 64<<10)
	live, offline = listBoth(t, c, v, old.ChangeID())
	assert.ErrorIs(t, live, cbt.ErrChangeIDInvalid, "checkpoint made again, live")
	assert.ErrorIs(t, offline, cbt.ErrChangeIDInvalid, "checkpoint made again, offline")
}

// TestDiskReplaced: checkpoint p of vda, writes, then vda replaced by another
// image under the same target, one without bitmaps and one given a bitmap of
// the checkpoint's name with qemu-img: both are refused, live and offline.
// Before the guard, the second listed only what its empty bitmap held:
// nothing, though the two images differ.
func TestDiskReplaced(t *testing.T) {
	c := connect(t)
	const size = 16 << 20
	v := newVM(t, size)
	cp, err := c.CreateCheckpoint(v.name, "p", nil)
	require.NoError(t, err)
	v.write(0x41, 3<<20, 64<<10)

	for _, withBitmap := range []bool{false, true} {
		v.stop()
		other := v.image + ".other"
		qemutools.Create(t, other, "cluster_size=65536", "16777216")
		if withBitmap {
			qemutools.QemuImg(t, "bitmap", "--add", other, "p")
		}
		dom := v.dom()
		doc, err := dom.GetXMLDesc(golibvirt.DOMAIN_XML_INACTIVE)
		require.NoError(t, err)
		require.Contains(t, doc, "'"+v.image+"'")
		redef, err := v.lc.DomainDefineXML(strings.Replace(doc, "'"+v.image+"'", "'"+other+"'", 1))
		require.NoError(t, err)
		_ = redef.Free()
		v.start()

		live, offline := listBoth(t, c, v, cp.ChangeID())
		assert.ErrorIs(t, live, cbt.ErrChangeIDInvalid, "bitmap %v, live", withBitmap)
		assert.ErrorIs(t, offline, cbt.ErrChangeIDInvalid, "bitmap %v, offline", withBitmap)
		t.Logf("bitmap %v: live: %v; offline: %v", withBitmap, live, offline)

		// Back to the first image for the next round.
		v.stop()
		back, err := v.lc.DomainDefineXML(doc)
		require.NoError(t, err)
		_ = back.Free()
		v.start()
	}
}

// TestSinceLaterCheckpoint: the disk opened at checkpoint p1 (At), p2 made
// after it in the same second: a listing since p2 is backwards,
// ErrInvalidArgument (the chain tells the order where creation times tie).
func TestSinceLaterCheckpoint(t *testing.T) {
	c := connect(t)
	v := newVM(t, 16<<20)
	v.write(0x51, 0, 64<<10)
	var p1, p2 libvirt.Checkpoint
	var err error
	for range 10 { // until both share a second, so that the chain decides
		p1, err = c.CreateCheckpoint(v.name, "p1", nil)
		require.NoError(t, err)
		p2, err = c.CreateCheckpoint(v.name, "p2", nil)
		require.NoError(t, err)
		if p1.CreationTime == p2.CreationTime {
			break
		}
		require.NoError(t, c.DeleteCheckpoint(v.name, "p1", &libvirt.DeleteOptions{Children: true}))
	}
	t.Logf("p1 at %d, p2 at %d", p1.CreationTime, p2.CreationTime)
	d, err := c.OpenDisk(v.name, "vda", &libvirt.DiskOptions{At: p1.ChangeID(), SocketDir: t.TempDir()})
	require.NoError(t, err)
	defer d.Close()
	_, err = cbt.Collect(d.Changes(t.Context(), p2.ChangeID(), nil))
	assert.ErrorIs(t, err, cbt.ErrInvalidArgument, "live")
	got, err := cbt.Collect(d.Changes(t.Context(), p1.ChangeID(), nil))
	require.NoError(t, err)
	assert.Empty(t, got)
	v.stop()
	_, err = cbt.Collect(d.Changes(t.Context(), p2.ChangeID(), nil))
	assert.ErrorIs(t, err, cbt.ErrInvalidArgument, "offline")
}
