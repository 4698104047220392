package backup_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/backup"
	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/internal/qemutools"
	"github.com/changedblocks/sdk/qemu"
)

// TestQemuBackupGroundTruth takes, for each family of images the listing's
// ground truth covers, a full backup and three incrementals at successive
// points (internal snapshots; OpenNext bitmaps where the image cannot have
// snapshots), from qemu images through package qemu: every backup file
// passes qemu-img check, and the newest file of the chain, converted by
// qemu-img, equals qemu-img's export of the point it was taken at.
func TestQemuBackupGroundTruth(t *testing.T) {
	qemutools.Need(t, "qemu-img", "qemu-io")
	families := []struct {
		name, opts string
		chain      string // "", "raw" or "qcow2": a backing file below
		compress   bool
		grow       bool
		bitmaps    bool // points are OpenNext bitmaps (external data files have no snapshots)
		backup     backup.Options
	}{
		{name: "64k"},
		{name: "512", opts: "cluster_size=512", backup: backup.Options{ClusterSize: 4096}},
		{name: "2M", opts: "cluster_size=2M", backup: backup.Options{Compression: backup.Zstd}},
		{name: "v2", opts: "compat=0.10"},
		{name: "extl2", opts: "extended_l2=on,cluster_size=128k", backup: backup.Options{ClusterSize: 512}},
		{name: "zstd-compressed", opts: "compression_type=zstd", compress: true, backup: backup.Options{Compression: backup.Zlib}},
		{name: "raw-base", chain: "raw", grow: true},
		{name: "qcow2-base", chain: "qcow2", opts: "cluster_size=4096"},
		{name: "data-file", opts: "data_file=DATA", bitmaps: true},
	}
	for i, f := range families {
		t.Run(f.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 21))
			dir := t.TempDir()
			bdir := filepath.Join(dir, "backups")
			require.NoError(t, os.Mkdir(bdir, 0o755))
			size := int64(8 << 20)
			img := filepath.Join(dir, "vm.qcow2")
			opts := f.opts
			if f.bitmaps {
				opts = "data_file=" + filepath.Join(dir, "vm.data")
			}
			var extra []string
			if f.chain != "" {
				base := filepath.Join(dir, "base."+f.chain)
				qemutools.CreateAs(t, f.chain, base, "", "6M")
				qemutools.QemuIOAs(t, f.chain, base, "write -P 5 0 3M")
				extra = []string{"-b", base, "-F", f.chain}
			}
			qemutools.Create(t, img, opts, strconv.FormatInt(size, 10), extra...)
			qemutools.RandomIO(t, rng, img, size, 30, 400)
			if f.compress {
				c := filepath.Join(dir, "c.qcow2")
				qemutools.QemuImg(t, "convert", "-c", "-O", "qcow2", "-o", opts, img, c)
				require.NoError(t, os.Rename(c, img))
			}
			var since cbt.ChangeID
			var prev string
			for round := range 4 {
				if round > 0 {
					if f.grow && round == 2 {
						size += 1 << 20
						qemutools.QemuImg(t, "resize", "-q", img, strconv.FormatInt(size, 10))
					}
					qemutools.RandomIO(t, rng, img, size, 20, 400)
				}
				var d *cbt.Disk
				var err error
				var want []byte
				if f.bitmaps {
					want = qemutools.ExportRaw(t, img, "")
					d, err = qemu.OpenNext(t.Context(), img, nil, nil)
				} else {
					name := fmt.Sprintf("s%d", round)
					qemutools.QemuImg(t, "snapshot", "-c", name, img)
					d, err = qemu.OpenSnapshot(img, name, nil)
					if err == nil {
						want = qemutools.ExportRaw(t, img, name)[:d.Capacity()]
					}
				}
				require.NoError(t, err)
				file := filepath.Join(bdir, fmt.Sprintf("%d.qcow2", round))
				o := f.backup
				var m *backup.Manifest
				if round == 0 {
					m, err = backup.Full(t.Context(), d, file, &o)
				} else {
					m, err = backup.Incremental(t.Context(), d, since, file, prev, &o)
				}
				require.NoError(t, d.Close())
				require.NoError(t, err, "round %d", round)
				check(t, file)
				if got := restore(t, file, int64(len(want))); !bytes.Equal(want, got) {
					t.Fatalf("%s round %d: the restored chain differs from the point", f.name, round)
				}
				since, prev = cbttestID(t, m), file
			}
		})
	}
}

func cbttestID(t *testing.T, m *backup.Manifest) cbt.ChangeID {
	t.Helper()
	id, err := cbt.ParseChangeID(m.ChangeID)
	require.NoError(t, err, "the manifest's change ID (%s)", m.NoChangeID)
	return id
}
