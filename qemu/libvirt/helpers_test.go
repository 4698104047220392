//go:build cgo

package libvirt_test

import (
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	golibvirt "libvirt.org/go/libvirt"

	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/qemutools"
	"github.com/changedblocks/sdk/qemu/libvirt"
)

// The tests drive a real libvirtd with qemu-system-x86 under TCG (started on
// a fresh machine by .ci/libvirtd.sh). Guests have no operating system: their
// disk writes are injected through the monitor with qemu-io on the disk's
// device, as a guest's would arrive.

const granule = 64 << 10 // default bitmap granularity of a 64 KiB-cluster qcow2

// testURI is the libvirt URI of the tests (CBT_LIBVIRT_URI, default
// qemu:///system).
func testURI() string {
	if u := os.Getenv("CBT_LIBVIRT_URI"); u != "" {
		return u
	}
	return "qemu:///system"
}

// connect connects to the test libvirtd, skipping (failing under CI=true)
// when none runs.
func connect(t testing.TB) *libvirt.Conn {
	t.Helper()
	qemutools.Need(t, "qemu-img", "qemu-system-x86_64")
	c, err := libvirt.Connect(testURI(), nil)
	if err != nil {
		if qemutools.CI() {
			t.Fatalf("libvirtd is required under CI=true (start it with .ci/libvirtd.sh): %v", err)
		}
		t.Skipf("no libvirtd at %s (start one with .ci/libvirtd.sh): %v", testURI(), err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// vm is a test domain with one qcow2 disk vda.
type vm struct {
	// paused starts the domain with its vCPU stopped: its disk still takes
	// the monitor's writes and backup jobs, and the guest's BIOS loop burns
	// no CPU (the conformance suite starts hundreds of domains).
	paused bool
	t      testing.TB
	name   string
	image  string
	size   int64
	lc     *golibvirt.Connect
}

// newVM defines and starts a persistent domain with a size-byte qcow2 disk
// (64 KiB clusters) and no OS. Cleanup destroys and undefines it with its
// checkpoint metadata.
func newVM(t testing.TB, size int64) *vm { return newVMPaused(t, size, false) }

// newVMPaused is newVM, the domain started paused when paused is set.
func newVMPaused(t testing.TB, size int64, paused bool) *vm {
	t.Helper()
	dir := t.TempDir()
	v := &vm{t: t, name: "cbt-test-" + randHex(6), image: filepath.Join(dir, "vda.qcow2"), size: size, paused: paused}
	qemutools.Create(t, v.image, "cluster_size=65536", fmt.Sprint(size))
	lc, err := golibvirt.NewConnect(testURI())
	require.NoError(t, err)
	v.lc = lc
	dom, err := lc.DomainDefineXML(fmt.Sprintf(`<domain type='qemu'>
  <name>%s</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='%s'/>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>`, v.name, v.image))
	require.NoError(t, err)
	_ = dom.Free()
	t.Cleanup(func() {
		if d, err := lc.LookupDomainByName(v.name); err == nil {
			_ = d.Destroy()
			_ = d.UndefineFlags(golibvirt.DOMAIN_UNDEFINE_CHECKPOINTS_METADATA | golibvirt.DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)
			_ = d.Free()
		}
		_, _ = lc.Close()
	})
	v.start()
	return v
}

func (v *vm) dom() *golibvirt.Domain {
	v.t.Helper()
	d, err := v.lc.LookupDomainByName(v.name)
	require.NoError(v.t, err)
	v.t.Cleanup(func() { _ = d.Free() })
	return d
}

func (v *vm) start() {
	v.t.Helper()
	if v.paused {
		require.NoError(v.t, v.dom().CreateWithFlags(golibvirt.DOMAIN_START_PAUSED))
		return
	}
	require.NoError(v.t, v.dom().Create())
}

// stop powers the domain off (its bitmaps are saved as qemu closes the image).
func (v *vm) stop() {
	v.t.Helper()
	require.NoError(v.t, v.dom().Destroy())
}

// write injects a guest write of length bytes of pattern at off.
func (v *vm) write(pattern byte, off, length int64) {
	v.t.Helper()
	cmd := fmt.Sprintf(`qemu-io -d /machine/peripheral/virtio-disk0/virtio-backend "write -P 0x%02x %d %d"`, pattern, off, length)
	out, err := v.dom().QemuMonitorCommand(cmd, golibvirt.DOMAIN_QEMU_MONITOR_COMMAND_HMP)
	require.NoError(v.t, err)
	// qemu-io prints nothing through the monitor when the write succeeds.
	require.Empty(v.t, strings.TrimSpace(out), "monitor answered %q to %s", out, cmd)
}

// golibvirtHMP sends a monitor command in the human monitor's syntax.
const golibvirtHMP = golibvirt.DOMAIN_QEMU_MONITOR_COMMAND_HMP

// jobs reports whether the domain has a job running.
func (v *vm) jobRunning() bool {
	v.t.Helper()
	info, err := v.dom().GetJobInfo()
	require.NoError(v.t, err)
	return info.Type != golibvirt.DOMAIN_JOB_NONE
}

// writes is a seeded random workload: n writes of 512 B .. 256 KiB.
type write struct {
	pattern     byte
	off, length int64
}

func randomWrites(rng *rand.Rand, size int64, n int) []write {
	out := make([]write, n)
	for i := range out {
		length := (1 + rng.Int64N(512)) * 512
		off := rng.Int64N((size-length)/512+1) * 512
		out[i] = write{pattern: byte(1 + rng.IntN(250)), off: off, length: length}
	}
	return out
}

// granules returns the writes widened to whole bitmap granules, merged.
func granules(ws []write, size int64) []extent.Extent {
	es := make([]extent.Extent, 0, len(ws))
	for _, w := range ws {
		es = append(es, extent.Extent{Offset: w.off, Length: w.length})
	}
	sort.Slice(es, func(i, j int) bool { return es[i].Offset < es[j].Offset })
	return extent.CoalesceSlice(extent.AlignSlice(extent.Normalize(es), granule, size), 0)
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = crand.Read(b)
	return hex.EncodeToString(b)
}

// dirEntries lists what is left in dir.
func dirEntries(t testing.TB, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}
