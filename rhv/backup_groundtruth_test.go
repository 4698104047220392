package rhv_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/backup"
	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/cbttest"
	"github.com/changedblocks/sdk/internal/qemutools"
	"github.com/changedblocks/sdk/rhv"
)

// TestGroundTruthBackups backs up random RHV chains (file- and block-domain
// layouts) volume by volume: a full backup at the base volume, then an
// incremental at each volume above since the one below. Every backup file
// passes qemu-img check, and the newest file, converted by qemu-img, equals
// qemu-img's export of the volume it was taken at.
func TestGroundTruthBackups(t *testing.T) {
	qemutools.Need(t, "qemu-img", "qemu-io")
	for _, layout := range []diskLayout{diskFileDomain, diskBlockDomain} {
		for seed := 1; seed <= gtSeeds(t); seed++ {
			t.Run(fmt.Sprintf("%v/seed%d", layout, seed), func(t *testing.T) {
				g := gtBuild(t, layout, uint64(seed)+100)
				c := g.c
				dir := t.TempDir()
				var since cbt.ChangeID
				var prev string
				ids := c.ids()
				for x, id := range ids[:len(ids)-1] { // the leaf hands out no change ID
					d, err := rhv.OpenVolume(&c.chain, id, c.options())
					require.NoError(t, err)
					file := filepath.Join(dir, fmt.Sprintf("%d.qcow2", x))
					if x == 0 {
						_, err = backup.Full(t.Context(), d, file, &backup.Options{ClusterSize: 4096})
					} else {
						_, err = backup.Incremental(t.Context(), d, since, file, prev, &backup.Options{ClusterSize: 4096})
					}
					require.NoError(t, err, "volume %d", x)
					since = cbttest.MustChangeID(t, d)
					require.NoError(t, d.Close())
					qemutools.QemuImg(t, "check", "-q", file)
					want := c.export(id)
					got := qemutools.ExportRaw(t, file, "")
					require.GreaterOrEqual(t, len(got), len(want))
					if !bytes.Equal(want, got[:len(want)]) {
						t.Fatalf("volume %d: the restored chain differs from the volume's export", x)
					}
					prev = file
				}
			})
		}
	}
}
