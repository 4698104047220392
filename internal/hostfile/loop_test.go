package hostfile_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// loopDevice attaches a new file of size bytes to a loop device and
// detaches it when the test ends. It needs root and losetup: without them
// the test is skipped, or fails under CI=true.
func loopDevice(t *testing.T, size int64) string {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "loop devices need root"
	} else if _, err := exec.LookPath("losetup"); err != nil {
		why = "losetup (util-linux) is not installed"
	}
	if why != "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(why)
		}
		t.Skip(why)
	}
	p := filepath.Join(t.TempDir(), "backing")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, size); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "--find", "--show", p).CombinedOutput()
	if err != nil {
		t.Fatalf("losetup --find --show: %v: %s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() {
		if out, err := exec.Command("losetup", "--detach", dev).CombinedOutput(); err != nil {
			t.Errorf("losetup --detach %s: %v: %s", dev, err, out)
		}
	})
	return dev
}
