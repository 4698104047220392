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
			t.Skipf("%s not installed: %v", n, err)
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
		t.Logf("%s not installed: comparison skipped", tool)
		return false
	}
	return true
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
