package libvirt

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The XML libvirt 9.0 printed for the test domains (abridged to the parts read).
const domainXML = `<domain type='qemu' id='3'>
  <name>vm1</name>
  <uuid>6f1c9a4e-0d37-4c55-9a52-0c8b3c1f2a11</uuid>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/var/lib/libvirt/images/vm1.qcow2' index='1'/>
      <backingStore/>
      <target dev='vda' bus='virtio'/>
      <alias name='virtio-disk0'/>
    </disk>
    <disk type='block' device='disk'>
      <driver name='qemu' type='raw'/>
      <source dev='/dev/vg0/data'/>
      <target dev='vdb' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <target dev='sda' bus='sata'/>
    </disk>
  </devices>
</domain>`

func TestParseDomainDisks(t *testing.T) {
	disks, err := parseDomainDisks(domainXML)
	require.NoError(t, err)
	require.Len(t, disks, 3)
	assert.Equal(t, DiskInfo{Target: "vda", Bus: "virtio", Device: "disk", Type: "file", Format: "qcow2",
		Source: "/var/lib/libvirt/images/vm1.qcow2", Alias: "virtio-disk0"}, disks[0])
	assert.True(t, disks[0].Trackable())
	assert.Equal(t, "/dev/vg0/data", disks[1].Source)
	assert.False(t, disks[1].Trackable(), "raw disks hold no bitmaps")
	assert.False(t, disks[2].Trackable())

	// A running domain with an external snapshot: the overlay is the
	// source, the image below it the backing chain.
	chained, err := parseDomainDisks(`<domain><devices><disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/img/vm1.snap1' index='3'/>
      <backingStore type='file' index='2'><format type='qcow2'/><source file='/img/vm1.qcow2'/>
        <backingStore type='block' index='1'><format type='raw'/><source dev='/dev/vg0/base'/><backingStore/></backingStore>
      </backingStore>
      <target dev='vda' bus='virtio'/></disk></devices></domain>`)
	require.NoError(t, err)
	assert.Equal(t, []string{"/img/vm1.qcow2", "/dev/vg0/base"}, chained[0].Backing)

	bx := backupXML("c1", "/run/x/nbd.sock", "vda", "/run/x/scratch.qcow2", disks)
	assert.Equal(t, "<domainbackup mode='pull'><incremental>c1</incremental><server transport='unix' socket='/run/x/nbd.sock'/><disks>"+
		"<disk name='vda' backup='yes' type='file'><scratch file='/run/x/scratch.qcow2'/></disk><disk name='vdb' backup='no'/></disks></domainbackup>", bx)
	cx := checkpointXML("c2", "it's <mine>", disks)
	assert.Equal(t, "<domaincheckpoint><name>c2</name><description>it&#39;s &lt;mine&gt;</description><disks>"+
		"<disk name='vda' checkpoint='bitmap'/><disk name='vdb' checkpoint='no'/></disks></domaincheckpoint>", cx)
}

func TestParseCheckpointAndBackup(t *testing.T) {
	cp, err := parseCheckpoint(`<domaincheckpoint>
  <name>c2</name>
  <description>nightly; cbt-guard:0011</description>
  <parent><name>c1</name></parent>
  <creationTime>1764460800</creationTime>
  <disks>
    <disk name='vda' checkpoint='bitmap' bitmap='c2' size='196608'/>
    <disk name='vdb' checkpoint='no'/>
  </disks>
  <domain type='qemu'><name>vm1</name><devices>
    <disk type='file' device='disk'><source file='/img/vm1.qcow2'/><target dev='vda' bus='virtio'/></disk>
    <disk type='block' device='disk'><source dev='/dev/vg0/data'/><target dev='vdb' bus='virtio'/></disk>
  </devices></domain>
</domaincheckpoint>`)
	require.NoError(t, err)
	assert.Equal(t, "c1", cp.Parent)
	assert.EqualValues(t, 1764460800, cp.CreationTime)
	vda, ok := cp.Disk("vda")
	require.True(t, ok)
	assert.Equal(t, CheckpointDisk{Target: "vda", Checkpoint: "bitmap", Bitmap: "c2", Size: 196608, Source: "/img/vm1.qcow2"}, vda,
		"the disk's source comes from the domain definition saved with the checkpoint")
	_, ok = cp.Disk("vdc")
	assert.False(t, ok)

	// backup-dumpxml as libvirt 9.0 printed it during a job (notes §6.3).
	sock, d, err := parseBackup(`<domainbackup mode='pull'>
  <incremental>c1</incremental>
  <server transport='unix' socket='/tmp/lvt/b.sock'/>
  <disks>
    <disk name='vda' backup='yes' type='file' backupmode='incremental' incremental='c1' exportname='vda' exportbitmap='backup-vda' index='2'>
      <driver type='qcow2'/>
      <scratch file='/tmp/lvt/scratch.qcow2'/>
    </disk>
  </disks>
</domainbackup>`, "vda")
	require.NoError(t, err)
	assert.Equal(t, "/tmp/lvt/b.sock", sock)
	assert.Equal(t, backupDisk{Name: "vda", Backup: "yes", ExportName: "vda", ExportBitmap: "backup-vda",
		Incremental: "c1", BackupMode: "incremental", Scratch: "/tmp/lvt/scratch.qcow2"}, d)

	for _, bad := range []string{"", "<domaincheckpoint/>", "<domaincheckpoint><name>x</name><creationTime>soon</creationTime></domaincheckpoint>",
		"<domaincheckpoint><name>x</name><disks><disk name='vda' size='-1'/></disks></domaincheckpoint>"} {
		_, err := parseCheckpoint(bad)
		assert.Error(t, err, bad)
	}
	_, err = parseCheckpoint(strings.Repeat(" ", maxXML+1))
	assert.Error(t, err)
}

// FuzzXML feeds libvirt's XML decoders arbitrary documents: no panic, and
// what they accept is self-consistent.
func FuzzXML(f *testing.F) {
	f.Add(domainXML)
	f.Add(`<domaincheckpoint><name>c</name><parent><name>p</name></parent><disks><disk name='vda' checkpoint='bitmap'/></disks></domaincheckpoint>`)
	f.Add(`<domainbackup mode='pull'><server socket='/s'/><disks><disk name='vda'/></disks></domainbackup>`)
	f.Fuzz(func(t *testing.T, doc string) {
		if disks, err := parseDomainDisks(doc); err == nil {
			for _, d := range disks {
				if d.Trackable() && d.Format != "qcow2" {
					t.Fatalf("trackable non-qcow2 disk %+v", d)
				}
			}
		}
		if cp, err := parseCheckpoint(doc); err == nil {
			if cp.Name == "" {
				t.Fatal("a checkpoint without a name was accepted")
			}
			for _, d := range cp.Disks {
				if d.Checkpoint == "bitmap" && d.Bitmap == "" {
					t.Fatalf("bitmap disk without a bitmap name: %+v", d)
				}
			}
		}
		if sock, d, err := parseBackup(doc, "vda"); err == nil && (d.Name != "vda" || d.ExportName == "") {
			t.Fatalf("backup entry %+v (socket %q)", d, sock)
		}
		_, _ = ParseCheckpointRef(doc)
	})
}
