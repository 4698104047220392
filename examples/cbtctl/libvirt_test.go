//go:build cgo

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	golibvirt "libvirt.org/go/libvirt"

	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/qemutools"
)

// libvirtTestURI is the libvirtd the tests use (.ci/libvirtd.sh starts one).
func libvirtTestURI() string {
	if u := os.Getenv("CBT_LIBVIRT_URI"); u != "" {
		return u
	}
	return "qemu:///system"
}

// libvirtVM starts a transient domain with a 16 MiB qcow2 disk vda and no
// OS, and returns its name and a function that injects a guest write.
func libvirtVM(t *testing.T) (string, func(off, length int64)) {
	t.Helper()
	qemutools.Need(t, "qemu-img", "qemu-system-x86_64")
	lc, err := golibvirt.NewConnect(libvirtTestURI())
	if err != nil {
		if qemutools.CI() {
			t.Fatalf("libvirtd is required under CI=true (.ci/libvirtd.sh starts one): %v", err)
		}
		t.Skipf("no libvirtd: %v", err)
	}
	t.Cleanup(func() { _, _ = lc.Close() })
	image := filepath.Join(t.TempDir(), "vda.qcow2")
	qemutools.Create(t, image, "cluster_size=65536", "16M")
	name := fmt.Sprintf("cbtctl-test-%d", os.Getpid())
	dom, err := lc.DomainCreateXML(fmt.Sprintf(`<domain type='qemu'><name>%s</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
<source file='%s'/><target dev='vda' bus='virtio'/></disk></devices></domain>`, name, image), 0)
	require.NoError(t, err)
	t.Cleanup(func() { _ = dom.Destroy(); _ = dom.Free() })
	return name, func(off, length int64) {
		out, err := dom.QemuMonitorCommand(fmt.Sprintf(`qemu-io -d /machine/peripheral/virtio-disk0/virtio-backend "write -P 0x33 %d %d"`, off, length),
			golibvirt.DOMAIN_QEMU_MONITOR_COMMAND_HMP)
		require.NoError(t, err)
		require.Empty(t, strings.TrimSpace(out))
	}
}

func TestLibvirtCommands(t *testing.T) {
	dom, write := libvirtVM(t)
	uri := "--connect=" + libvirtTestURI()

	r := cbtctl(t, "libvirt", "checkpoint", uri, dom, "k1")
	require.Equal(t, exitOK, r.code, r.stderr)
	k1 := strings.TrimSpace(r.stdout)
	require.True(t, strings.HasPrefix(k1, "libvirt:checkpoint:k1#t"), k1)
	write(1<<20, 64<<10)
	write(5<<20, 4096)

	r = cbtctl(t, "libvirt", "changes", dom, uri, "--disk", "vda", "--since", k1, "--new-checkpoint", "k2", "--format", "json")
	require.Equal(t, exitOK, r.code, r.stderr)
	c := decodeOne(t, r.stdout)
	assert.Equal(t, []extent.Extent{{Offset: 1 << 20, Length: 64 << 10}, {Offset: 5 << 20, Length: 64 << 10}}, c.Extents)
	k2 := c.changeID(t)
	require.True(t, strings.HasPrefix(k2, "libvirt:checkpoint:k2#g"), k2)

	write(9<<20, 512)
	r = cbtctl(t, "libvirt", "changes", dom, uri, "--disk", "vda", "--since", k2, "--format", "json")
	require.Equal(t, exitOK, r.code, r.stderr)
	c = decodeOne(t, r.stdout)
	assert.Equal(t, []extent.Extent{{Offset: 9 << 20, Length: 64 << 10}}, c.Extents)
	// Without --new-checkpoint the running disk names no point: the CLI
	// says so in its own words.
	assert.Nil(t, c.ChangeID)
	require.NotNil(t, c.NoChangeID)
	assert.Contains(t, *c.NoChangeID, "list with --new-checkpoint NAME")
	assert.NotRegexp(t, sdkVocabulary, *c.NoChangeID)

	r = cbtctl(t, "libvirt", "checkpoints", dom, uri, "--format", "json")
	require.Equal(t, exitOK, r.code, r.stderr)
	var cps []struct {
		Name, Parent, ChangeID string
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &cps))
	require.Len(t, cps, 2)
	assert.Equal(t, "k1", cps[1].Parent)
	assert.Equal(t, k1, cps[0].ChangeID)

	// A checkpoint made again under the same name: exit 3, full backup.
	r = cbtctl(t, "libvirt", "changes", dom, uri, "--disk", "vda", "--since", strings.Replace(k1, "#t", "#t1", 1))
	assert.Equal(t, exitFullBackup, r.code, r.stderr)
	r = cbtctl(t, "libvirt", "changes", dom, uri, "--disk", "vdz", "--full")
	assert.Equal(t, exitError, r.code)
	assert.Contains(t, r.stderr, "has no disk \"vdz\"")
	r = cbtctl(t, "libvirt", "changes", dom, uri)
	assert.Equal(t, exitUsage, r.code)
	requireUsageError(t, cbtctl(t, "libvirt", "changes", dom, uri, "--disk", "vda"), "give --since CHANGEID", "cbtctl help libvirt changes")
}
