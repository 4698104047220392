package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCLIWords: the SDK's messages that reach the command line (its errors
// and the reasons a point names no change ID), as the platform packages word
// them, come out in the command line's words: its flags, not the API's
// option fields and functions.
func TestCLIWords(t *testing.T) {
	for _, tc := range []struct{ sdk, want string }{
		{"qemu: vm.qcow2 is in use: a running qemu (or qemu-nbd, qemu-img) holds it for writing; stop the VM, use the libvirt checkpoint path for a running VM, or set Options.ForceShare to read its snapshot tables",
			"or pass --force-share to read its snapshot tables"},
		{"a running domain's disk is no fixed point: open it with DiskOptions.NewCheckpoint (the backup job makes that checkpoint) or DiskOptions.At",
			"list it with --new-checkpoint NAME"},
		{"qemu could not create the NBD socket: give its user access to the socket directory (DiskOptions.SocketDir, DirOwner)",
			"(the system's temporary directory, $TMPDIR)"},
		{"the live volume is still written: take a change point (Volume.ChangePoint) and open the disk at it",
			`take a change point ("point NAME" in the script) and list --at it`},
		{"the leaf volume of the chain is still written: open the disk at a snapshot's volume, or use OpenBackup (oVirt 4.4+ checkpoints)",
			"list at a snapshot's volume (--volume UUID"},
		{"rhv: VolumeOptions.Path or Dir is required to find the volumes of image x", "--meta DIR or --lv-dir DIR is required"},
		{"rhv: volume x has no image UUID; set VolumeOptions.Path to find it", "give --meta DIR or --lv-dir DIR"},
		{"oci: Options.CompartmentID is required: the compartment to create the delta volume in", "--compartment is required"},
		{"oci: Options.AvailabilityDomain is required: the availability domain of the instance", "--availability-domain is required"},
		{"oci: Options.InstanceID is required: the instance to attach the delta volume to", "--instance is required"},
		{"oci: iscsiadm -m node: exit 1 (install open-iscsi, or give Options.Connector)", "(install open-iscsi)"},
		{" (the session is not authenticated: log in again, or set Options.Relogin so that listings log in and resume by themselves)", "log in again, and run the command again"},
	} {
		got := cliWords(tc.sdk)
		assert.Contains(t, got, tc.want, tc.sdk)
		assert.NotRegexp(t, sdkVocabulary, got, "SDK words left in %q", got)
		assert.Regexp(t, sdkVocabulary, tc.sdk, "the test's SDK message holds SDK words")
	}
}

// TestQemuMessagesSpeakCLI: what cbtctl qemu prints on its error paths
// names its flags and tools, never the SDK's options.
func TestQemuMessagesSpeakCLI(t *testing.T) {
	c := newQemuChain(t)

	// A corrupt image: qemu-img check, with the path.
	bad := filepath.Join(c.dir, "bad image.qcow2")
	data, err := os.ReadFile(c.top)
	require.NoError(t, err)
	copy(data[40:48], []byte{0, 0, 0, 0, 0, 1, 0x23, 0x45}) // an L1 table offset not cluster-aligned
	require.NoError(t, os.WriteFile(bad, data, 0o644))
	for _, args := range [][]string{{"info"}, {"snapshots"}, {"bitmaps"}, {"changes", "--full"}} {
		r := cbtctl(t, append([]string{"qemu", args[0], bad}, args[1:]...)...)
		assert.Equal(t, exitError, r.code, "%v: %s", args, r.stderr)
		assert.Contains(t, r.stderr, "check it with qemu-img check '"+bad+"'", args)
		assert.NotRegexp(t, sdkVocabulary, r.stderr)
	}

	// An image a running qemu holds: --force-share, not Options.ForceShare.
	holdImage(t, c.top)
	for _, args := range [][]string{{"info"}, {"changes", "--full"}, {"changes", "--trust-bare-name", "--since", "snapshot:s1"}} {
		r := cbtctl(t, append([]string{"qemu", args[0], c.top}, args[1:]...)...)
		assert.Equal(t, exitError, r.code, "%v: %s", args, r.stderr)
		assert.Contains(t, r.stderr, "--force-share")
		assert.NotRegexp(t, sdkVocabulary, r.stderr, "%v", args)
	}
}

// TestPathArgumentsOfTheWrongKind: a directory, a named pipe or a socket
// given where a file (or a directory) is wanted is a usage error saying what
// it is, at once: a FIFO never blocks the command.
func TestPathArgumentsOfTheWrongKind(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	sock := filepath.Join(dir, "sock")
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	defer ln.Close()
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o600))

	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"qemu", "info", fifo}, fifo + " is a named pipe (FIFO), not a regular file or block device"},
		{[]string{"qemu", "snapshots", sock}, sock + " is a socket, not a regular file or block device"},
		{[]string{"qemu", "bitmaps", dir}, dir + " is a directory, not a regular file or block device"},
		{[]string{"qemu", "changes", fifo, "--full"}, fifo + " is a named pipe (FIFO)"},
		{[]string{"qemu", "changes", dir, "--trust-bare-name", "--since", "snapshot:s1"}, dir + " is a directory"},
		{[]string{"mem", "changes", "--script", fifo, "--full"}, "--script: " + fifo + " is a named pipe (FIFO), not a regular file"},
		{[]string{"rhv", "changes", "--lvs", fifo, "--full"}, "--lvs " + fifo + ": " + fifo + " is a named pipe (FIFO), not a regular file"},
		{[]string{"rhv", "changes", "--meta", fifo, "--full"}, "--meta: " + fifo + " is a named pipe (FIFO), not a directory"},
		{[]string{"rhv", "changes", "--meta", dir, "--lv-dir", file, "--full"}, "--metadata, --domain-version and --lv-dir are for --lvs"},
		{[]string{"rhv", "changes", "--lvs", file, "--lv-dir", file, "--full"}, "--lv-dir: " + file + " is a regular file, not a directory"},
		{[]string{"rhv", "chain", "--dump", fifo}, fifo + " is a named pipe (FIFO), not a regular file or block device"},
		{[]string{"rhv", "chain", "--engine", dir}, dir + " is a directory"},
		{[]string{"rhv", "chain", "--lvs", chainData + "lvs_vdsm.out", "--metadata", fifo, "--domain-version", "5"}, fifo + " is a named pipe (FIFO)"},
	} {
		t.Run(strings.Join(tc.args[:2], " ")+" "+filepath.Base(tc.args[len(tc.args)-1]), func(t *testing.T) {
			done := make(chan result, 1)
			go func() { done <- cbtctl(t, tc.args...) }()
			select {
			case r := <-done:
				requireUsageError(t, r, tc.msg, "cbtctl help "+tc.args[0]+" "+tc.args[1])
			case <-time.After(hangGuard):
				t.Fatalf("cbtctl %v hangs on a path argument of the wrong kind", tc.args)
			}
		})
	}
}
