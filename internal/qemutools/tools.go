package qemutools

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// CI reports whether the tests run under CI=true, where a missing tool is a
// failure rather than a skip.
func CI() bool { return os.Getenv("CI") == "true" }

// Need skips the test when one of the tools is not installed, or fails it
// under CI=true.
func Need(t testing.TB, tools ...string) {
	t.Helper()
	for _, n := range tools {
		if _, err := exec.LookPath(n); err != nil {
			if CI() {
				t.Fatalf("%s is required under CI=true: %v", n, err)
			}
			t.Skipf("%s not installed (%s): %v", n, InstallHint(n), err)
		}
	}
}

// Have reports whether a tool is installed, for optional comparisons; under
// CI=true a missing tool fails the test.
func Have(t testing.TB, tool string) bool {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		if CI() {
			t.Fatalf("%s is required under CI=true: %v", tool, err)
		}
		t.Logf("%s not installed (%s): comparison skipped", tool, InstallHint(tool))
		return false
	}
	return true
}

// InstallHint says what installs a tool the tests use, on Debian.
func InstallHint(tool string) string {
	pkg := map[string]string{
		"qemu-img": "qemu-utils", "qemu-io": "qemu-utils", "qemu-nbd": "qemu-utils",
		"nbdinfo": "libnbd-bin", "nbdkit": "nbdkit", "tgtd": "tgt", "tgtadm": "tgt",
		"virsh": "libvirt-clients", "libvirtd": "libvirt-daemon", "qemu-system-x86_64": "qemu-system-x86",
		"losetup": "mount", "mkfs.ext4": "e2fsprogs",
	}[tool]
	if pkg == "" {
		return "see .ci/install.sh"
	}
	return "Debian: apt-get install " + pkg + ", or bash .ci/install.sh as root"
}

// Run runs a command and returns its stdout; it fails the test when the
// command fails, showing both outputs.
func Run(t testing.TB, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout: %s\nstderr: %s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.Bytes()
}

// RunFail runs a command that is expected to fail and returns its combined
// output; it fails the test when the command succeeds.
func RunFail(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err == nil {
		t.Fatalf("%s %s succeeded, expected a failure: %s", name, strings.Join(args, " "), out)
	}
	return string(out)
}
