//go:build cgo

package libvirt_test

import (
	"fmt"
	"github.com/changedblocks/sdk/cbt/cbttest"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	golibvirt "libvirt.org/go/libvirt"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/qemutools"
	"github.com/changedblocks/sdk/qemu/libvirt"
)

// TestSeveralDisks: a domain with two qcow2 disks and a raw one. A backup
// job exports only the disk listed (the others are named backup='no'); the
// checkpoint a listing of one disk makes covers every qcow2 disk, so the
// other disk's next incremental starts from it too; the raw disk cannot be
// tracked.
func TestSeveralDisks(t *testing.T) {
	c := connect(t)
	dir := t.TempDir()
	const size = 16 << 20
	vda, vdb, vdc := filepath.Join(dir, "vda.qcow2"), filepath.Join(dir, "vdb.raw"), filepath.Join(dir, "vdc.qcow2")
	qemutools.Create(t, vda, "cluster_size=65536", fmt.Sprint(size))
	qemutools.CreateAs(t, "raw", vdb, "", fmt.Sprint(size))
	qemutools.Create(t, vdc, "cluster_size=65536", fmt.Sprint(size))
	lc, err := golibvirt.NewConnect(testURI())
	require.NoError(t, err)
	defer lc.Close()
	name := "cbt-test-" + randHex(6)
	disk := func(file, format, target string, slot int) string {
		return fmt.Sprintf(`<disk type='file' device='disk'><driver name='qemu' type='%s'/><source file='%s'/><target dev='%s' bus='virtio'/><address type='pci' domain='0' bus='0' slot='%d' function='0'/></disk>`,
			format, file, target, slot)
	}
	dom, err := lc.DomainCreateXML(fmt.Sprintf(`<domain type='qemu'><name>%s</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>%s%s%s</devices></domain>`,
		name, disk(vda, "qcow2", "vda", 5), disk(vdb, "raw", "vdb", 6), disk(vdc, "qcow2", "vdc", 7)), golibvirt.DOMAIN_START_PAUSED)
	require.NoError(t, err)
	defer func() { _ = dom.Destroy(); _ = dom.Free() }()
	write := func(device string, off, length int64) {
		out, err := dom.QemuMonitorCommand(fmt.Sprintf(`qemu-io -d /machine/peripheral/%s/virtio-backend "write -P 0x44 %d %d"`, device, off, length), golibvirtHMP)
		require.NoError(t, err)
		require.Empty(t, out)
	}

	disks, err := c.Disks(name)
	require.NoError(t, err)
	require.Len(t, disks, 3)
	assert.Equal(t, []bool{true, false, true}, []bool{disks[0].Trackable(), disks[1].Trackable(), disks[2].Trackable()})
	_, err = c.OpenDisk(name, "vdb", nil)
	require.ErrorIs(t, err, cbt.ErrUnsupported, "raw disks hold no bitmaps")

	k1, err := c.CreateCheckpoint(name, "k1", nil)
	require.NoError(t, err)
	for _, d := range []string{"vda", "vdc"} {
		cd, ok := k1.Disk(d)
		require.True(t, ok)
		assert.Equal(t, "bitmap", cd.Checkpoint, d)
	}
	cdb, _ := k1.Disk("vdb")
	assert.Equal(t, "no", cdb.Checkpoint)

	write("virtio-disk0", 1<<20, 4096)
	write("virtio-disk2", 2<<20, 4096)
	write("virtio-disk2", 7<<20, 8192)

	sock := t.TempDir()
	a, err := c.OpenDisk(name, "vda", &libvirt.DiskOptions{NewCheckpoint: "k2", SocketDir: sock})
	require.NoError(t, err)
	defer a.Close()
	got, err := cbt.Collect(a.Changes(t.Context(), k1.ChangeID(), nil))
	require.NoError(t, err)
	assert.Equal(t, []extent.Extent{{Offset: 1 << 20, Length: 64 << 10}}, got, "vda alone")
	k2 := cbttest.MustChangeID(t, a)

	cdisk, err := c.OpenDisk(name, "vdc", &libvirt.DiskOptions{SocketDir: sock})
	require.NoError(t, err)
	defer cdisk.Close()
	got, err = cbt.Collect(cdisk.Changes(t.Context(), k1.ChangeID(), nil))
	require.NoError(t, err)
	assert.Equal(t, []extent.Extent{{Offset: 2 << 20, Length: 64 << 10}, {Offset: 7 << 20, Length: 64 << 10}}, got, "vdc since k1")
	write("virtio-disk2", 11<<20, 512)
	got, err = cbt.Collect(cdisk.Changes(t.Context(), k2, nil))
	require.NoError(t, err, "the checkpoint vda's listing made covers vdc")
	assert.Equal(t, []extent.Extent{{Offset: 11 << 20, Length: 64 << 10}}, got)
	assert.Empty(t, dirEntries(t, sock))
}
