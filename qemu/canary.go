package qemu

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/internal/qcow2"
)

// A qemu dirty bitmap follows a resize of its image without recording it: a
// shrink drops the bits beyond the new size, a grow adds clear ones. After a
// shrink and a grow back to the same size, what the shrink dropped reads as
// zeros and no bit says so, and nothing else in the image tells. So a bitmap
// OpenNext makes starts with one bit set: the granule of the disk's last
// byte, its tail canary. A shrink clears it for good; a listing since the
// bitmap finds it clear and refuses (cbt.ErrChangeIDInvalid). Its cost is
// one granule listed with every incremental. The bit is set with qemu's own
// tools: a scratch image of the same size gets a bitmap and one write to its
// last sector (qemu-io), and that bitmap is merged into the new one
// (qemu-img bitmap --merge).

// defaultBitmapGranularity is qemu's default for a new bitmap of an image of
// that cluster size (bdrv_get_default_bitmap_granularity): the cluster size,
// within 4 KiB to 64 KiB.
func defaultBitmapGranularity(cluster int64) int64 {
	return min(max(cluster, 4096), 65536)
}

// makeBitmap adds the bitmap m names, of granularity gran, with its tail
// canary set, to a disk of size bytes. On an error it removes what it added.
func (m *madePoint) makeBitmap(ctx context.Context, size, gran int64) (err error) {
	dir, err := os.MkdirTemp("", "cbt-canary-")
	if err != nil {
		return errf(cbt.ErrUnsupported, "a scratch directory for the bitmap's canary: %v", err)
	}
	defer os.RemoveAll(dir)
	scratch := filepath.Join(dir, "canary.qcow2")
	g := strconv.FormatInt(gran, 10)
	last := (size - 1) &^ 511
	steps := [][]string{
		{"create", "-q", "-f", "qcow2", scratch, strconv.FormatInt(size, 10)},
		{"bitmap", "-f", "qcow2", "--add", "-g", g, scratch, "canary"},
	}
	for _, a := range steps {
		if err := runQemuImg(ctx, m.tool, a...); err != nil {
			return err
		}
	}
	if err := runQemuIO(ctx, m.tool, scratch, fmt.Sprintf("write %d %d", last, size-last)); err != nil {
		return err
	}
	if err := runQemuImg(ctx, m.tool, "bitmap", "-f", "qcow2", "--add", "-g", g, m.path, m.name); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			if derr := m.drop(); derr != nil {
				err = fmt.Errorf("%w; and removing the bitmap again failed: %w", err, derr)
			}
		}
	}()
	return runQemuImg(ctx, m.tool, "bitmap", "-f", "qcow2", "--merge", "canary", "-b", scratch, "-F", "qcow2", m.path, m.name)
}

// runQemuIO runs qemu-io (beside the qemu-img program tool, or from PATH)
// with one command on a qcow2 image.
func runQemuIO(ctx context.Context, tool, image, cmd string) error {
	io := "qemu-io"
	if tool != "" {
		io = filepath.Join(filepath.Dir(tool), "qemu-io")
	}
	if _, err := exec.LookPath(io); err != nil && tool != "" {
		io = "qemu-io"
	}
	return runQemuImg(ctx, io, "-f", "qcow2", "-c", cmd, image)
}

// canaryIntact reports whether the tail canary of a bitmap OpenNext made is
// still set: the granule of the last byte of a disk of size bytes is dirty.
func canaryIntact(r *qcow2.BitmapReader, size int64) (bool, error) {
	for _, err := range r.DirtyExtentsRange(size-1, size) {
		if err != nil {
			return false, err
		}
		return true, nil
	}
	return false, nil
}
