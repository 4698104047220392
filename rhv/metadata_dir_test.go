package rhv

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt"
)

const (
	tmplImg  = "7e000000-0000-0000-0000-0000000000e7"
	tmplVol  = "7f000000-0000-0000-0000-0000000000f7"
	diskImg  = "d1000000-0000-0000-0000-0000000000d1"
	baseVol  = "b1000000-0000-0000-0000-0000000000b1"
	leafVol  = "b2000000-0000-0000-0000-0000000000b2"
	orphanID = "0f000000-0000-0000-0000-0000000000f0"
)

// writeFileDomain lays out a file domain's images directory: a template
// image, a disk based on it (two volumes) and a removed image.
func writeFileDomain(t *testing.T) string {
	t.Helper()
	images := filepath.Join(t.TempDir(), "sd", "images")
	write := func(img, vol string, rec *metaRecord, version int) {
		dir := filepath.Join(images, img)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, vol), []byte("qcow2 data"), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, vol+".lease"), make([]byte, 16), 0o644))
		if rec != nil {
			require.NoError(t, os.WriteFile(filepath.Join(dir, vol+".meta"), rec.storageFormat(version), 0o644))
		}
	}
	rec := func(img, parent, format, voltype string) *metaRecord {
		r := sampleRecord()
		r.image, r.puuid, r.format, r.voltype = img, parent, format, voltype
		return &r
	}
	write(tmplImg, tmplVol, rec(tmplImg, BlankUUID, "RAW", "SHARED"), 4)
	write(diskImg, baseVol, rec(diskImg, tmplVol, "COW", "INTERNAL"), 4)
	write(diskImg, leafVol, rec(diskImg, baseVol, "COW", "LEAF"), 5)
	write("_remove_me_"+orphanID, orphanID, rec(orphanID, BlankUUID, "RAW", "LEAF"), 5)
	return images
}

func TestReadMetaDirImage(t *testing.T) {
	images := writeFileDomain(t)
	vols, err := ReadMetaDir(filepath.Join(images, diskImg))
	require.NoError(t, err)
	require.Len(t, vols, 2)
	assert.Equal(t, baseVol, vols[0].ID)
	assert.Equal(t, tmplVol, vols[0].Parent)
	assert.Equal(t, leafVol, vols[1].ID)
	assert.Equal(t, baseVol, vols[1].Parent)
	assert.Equal(t, RoleLeaf, vols[1].Role)
	assert.Equal(t, diskImg, vols[1].Image)
	assert.Equal(t, -1, vols[1].MDSlot)

	// Alone, the disk's base points at a volume not given: NoBaseVolume.
	ch, fs := BuildChain(diskImg, vols)
	assert.False(t, ch.Ordered)
	require.Len(t, fs, 1)
	assert.Equal(t, KindNoBaseVolume, fs[0].Kind)
	assert.Contains(t, fs[0].Message, "the parent "+tmplVol+" is not among the volumes given")
}

func TestReadMetaDirDomain(t *testing.T) {
	images := writeFileDomain(t)
	vols, err := ReadMetaDir(images)
	require.NoError(t, err)
	require.Len(t, vols, 4)
	byID := map[string]Volume{}
	for _, v := range vols {
		byID[v.ID] = v
	}
	assert.True(t, byID[orphanID].Removed)
	assert.Equal(t, StatusRemoved, byID[orphanID].Status)
	assert.Equal(t, orphanID, byID[orphanID].Image)

	ch, fs := BuildChain(diskImg, vols)
	require.True(t, ch.Ordered, "findings: %v", fs)
	assert.Equal(t, []string{tmplVol, baseVol, leafVol}, ids(ch.Volumes))
	assert.Empty(t, fs)

	chains, fs := BuildChains(vols)
	require.Len(t, chains, 3) // the removed image has no live volume
	require.Len(t, fs, 1)
	assert.Equal(t, Finding{Kind: KindRemoved, Volume: orphanID, Image: orphanID, Message: fs[0].Message}, fs[0])
}

func TestReadMetaDirProblems(t *testing.T) {
	dir := filepath.Join(t.TempDir(), diskImg)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	// A volume without .meta, a .meta too large, a cleared .meta, other files.
	require.NoError(t, os.WriteFile(filepath.Join(dir, baseVol), nil, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, leafVol+".meta"), bytes.Repeat([]byte("A=B\n"), MaxMetadataSize), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, orphanID+".meta"), []byte("NONE=######\nEOF\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "README"), nil, 0o644))
	vols, err := ReadMetaDir(dir)
	require.NoError(t, err)
	require.Len(t, vols, 3)
	kinds := map[string]FindingKind{}
	for _, v := range vols {
		f := volumeFindings(v)
		require.Len(t, f, 1, v.ID)
		kinds[v.ID] = f[0].Kind
		assert.Equal(t, diskImg, v.Image)
	}
	assert.Equal(t, map[string]FindingKind{baseVol: KindInvalidMetadata, leafVol: KindInvalidMetadata, orphanID: KindMetadataCleared}, kinds)
}

func TestReadMetaDirErrors(t *testing.T) {
	_, err := ReadMetaDir(filepath.Join(t.TempDir(), "nope"))
	assert.True(t, errors.Is(err, cbt.ErrNotFound), "%v", err)

	f := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(f, nil, 0o644))
	_, err = ReadMetaDir(f)
	assert.True(t, errors.Is(err, cbt.ErrInvalidArgument), "%v", err)
}

func ids(vols []Volume) []string {
	out := make([]string, len(vols))
	for i, v := range vols {
		out[i] = v.ID
	}
	return out
}
