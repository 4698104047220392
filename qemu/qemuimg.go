package qemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/changedblocks/sdk/cbt"
)

// runQemuImg runs qemu-img with args and returns its error as a classified
// one: cbt.ErrBusy when another process holds the image, cbt.ErrUnsupported
// when qemu-img is missing, the context's error when it ended the run, else
// cbt.ErrInvalidArgument with what qemu-img said.
func runQemuImg(ctx context.Context, tool string, args ...string) error {
	if tool == "" {
		tool = "qemu-img"
	}
	cmd := exec.CommandContext(ctx, tool, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	said := strings.TrimSpace(out.String())
	if len(said) > 2048 {
		said = said[:2048] + "..."
	}
	line := tool + " " + strings.Join(args, " ")
	switch {
	case errors.Is(err, exec.ErrNotFound):
		return errf(cbt.ErrUnsupported, "making or removing a point needs qemu-img, which is not installed (Debian: apt-get install qemu-utils; or set NextOptions.QemuImg): %v", err)
	case strings.Contains(said, "lock"):
		return fmt.Errorf("%w: qemu: %s: %s (a running qemu, qemu-nbd or qemu-img holds the image: stop the VM, or use the libvirt checkpoint path for a running VM): %w", cbt.ErrBusy, line, said, err)
	}
	return fmt.Errorf("%w: qemu: %s: %s: %w", cbt.ErrInvalidArgument, line, said, err)
}

// qcow2Opts is the --image-opts form of a qcow2 file (qemu-img snapshot has
// no -f, and a probed format is what qemu warns against).
func qcow2Opts(path string) string {
	return "driver=qcow2,file.driver=file,file.filename=" + strings.ReplaceAll(path, ",", ",,")
}
