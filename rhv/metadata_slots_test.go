package rhv

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt"
)

const (
	fixtureImage = "ae863f0d-0f24-41d4-b6ed-333c6634c7dc"
	fixtureBase  = "0574c3f6-3d44-4cc7-98e3-6d90626dd95f"
	fixtureLeaf  = "3fc4fd44-6d75-4b48-aafc-d72c7bba10d9"
)

// metadataLV returns a copy of a metadata LV of domainVersion with recs
// written at their slots, NUL padded as vdsm writes them.
func metadataLV(t *testing.T, domainVersion int, recs map[int][]byte) []byte {
	t.Helper()
	lv := make([]byte, 2<<20)
	for slot, rec := range recs {
		off, err := MetadataOffset(domainVersion, slot)
		require.NoError(t, err)
		require.LessOrEqual(t, len(rec), 512)
		copy(lv[off:], rec)
	}
	return lv
}

func fixtureRecords(version int, leafParent string) map[int][]byte {
	base := sampleRecord()
	base.image, base.puuid, base.format, base.voltype, base.typ = fixtureImage, BlankUUID, "RAW", "INTERNAL", "PREALLOCATED"
	base.capacity = 2 << 30
	leaf := sampleRecord()
	leaf.image, leaf.puuid = fixtureImage, leafParent
	leaf.capacity = 2 << 30
	return map[int][]byte{17: base.storageFormat(version), 18: leaf.storageFormat(version)}
}

func readFixtureLVs(t *testing.T) []Volume {
	t.Helper()
	f, err := os.Open("testdata/chains/lvs_vdsm.out")
	require.NoError(t, err)
	defer f.Close()
	vols, err := ReadLVs(f)
	require.NoError(t, err)
	return vols
}

func TestMetadataOffset(t *testing.T) {
	for _, tc := range []struct{ version, slot int }{{4, 4}, {3, 17}, {5, 1}, {5, 18}} {
		off, err := MetadataOffset(tc.version, tc.slot)
		require.NoError(t, err)
		if tc.version <= 4 {
			assert.Equal(t, int64(tc.slot*512), off)
		} else {
			assert.Equal(t, int64(1<<20+tc.slot*8192), off)
		}
	}
	_, err := MetadataOffset(6, 1)
	assert.True(t, errors.Is(err, cbt.ErrUnsupported))
	_, err = MetadataOffset(-1, 1)
	assert.True(t, errors.Is(err, cbt.ErrInvalidArgument))
	_, err = MetadataOffset(5, -1)
	assert.True(t, errors.Is(err, cbt.ErrInvalidArgument))
}

func TestReadMetadataSlots(t *testing.T) {
	for _, version := range []int{4, 5} {
		lvs := readFixtureLVs(t)
		lv := metadataLV(t, version, fixtureRecords(version, fixtureBase))
		vols, err := ReadMetadataSlots(bytes.NewReader(lv), version, lvs)
		require.NoError(t, err)
		require.Len(t, vols, len(lvs))

		ch, fs := BuildChain(fixtureImage, vols)
		require.True(t, ch.Ordered, "v%d: %v", version, fs)
		assert.Empty(t, fs)
		assert.Equal(t, []string{fixtureBase, fixtureLeaf}, ids(ch.Volumes))
		assert.Equal(t, FormatRAW, ch.Volumes[0].Format)
		assert.Equal(t, int64(2<<30), ch.Volumes[1].Capacity)
		assert.Equal(t, 18, ch.Volumes[1].MDSlot)
		assert.Equal(t, fixtureBase, ch.Volumes[1].ParentTag)
		assert.Equal(t, "3386c6f2-926f-42c4-839c-38287fac8998", ch.Volumes[1].Extra["DOMAIN"])
		assert.Equal(t, StatusOK, ch.Volumes[1].Status)

		// The other version's layout reads empty slots: every volume INVALID.
		other := 9 - version
		wrong, err := ReadMetadataSlots(bytes.NewReader(lv), other, lvs)
		require.NoError(t, err)
		_, fs = BuildChain(fixtureImage, wrong)
		assert.NotEmpty(t, fs)
		for _, f := range fs {
			assert.Contains(t, []FindingKind{KindInvalidMetadata, KindUnknownParent}, f.Kind, f.String())
		}
	}
}

func TestReadMetadataSlotsParentTagMismatch(t *testing.T) {
	lvs := readFixtureLVs(t)
	// The leaf's record says BLANK (e.g. after a merge into the base) but
	// its PU_ tag still names the base: the metadata wins.
	lv := metadataLV(t, 5, fixtureRecords(5, BlankUUID))
	vols, err := ReadMetadataSlots(bytes.NewReader(lv), 5, lvs)
	require.NoError(t, err)
	ch, fs := BuildChain(fixtureImage, vols)
	assert.False(t, ch.Ordered)
	kinds := findingKinds(fs)
	assert.Contains(t, kinds, KindParentTagMismatch)
	assert.Contains(t, kinds, KindDuplicateParent, "two volumes now have the parent BLANK")
}

func TestReadMetadataSlotsProblems(t *testing.T) {
	vols := []Volume{
		{ID: "a", Image: "i", Parent: BlankUUID, MDSlot: 5, ParentTag: BlankUUID},
		{ID: "b", Image: "i", Parent: "a", MDSlot: 5, ParentTag: "a"},      // shares slot 5
		{ID: "c", Image: "i", Parent: "b", MDSlot: -1, ParentTag: "b"},     // no MD_
		{ID: "d", Image: "i", Parent: "c", MDSlot: 100000, ParentTag: "c"}, // beyond the LV
		{ID: "e", Initializing: true, MDSlot: -1, Parent: UnknownParent},   // fine: skipped
	}
	rec := sampleRecord()
	rec.image, rec.puuid = "i", BlankUUID
	lv := metadataLV(t, 5, map[int][]byte{5: rec.storageFormat(5)})
	out, err := ReadMetadataSlots(bytes.NewReader(lv), 5, vols)
	require.NoError(t, err)
	assert.Contains(t, out[0].Problems, "metadata slot 5 is also the slot of volume b")
	assert.Contains(t, out[1].Problems, "metadata slot 5 is also the slot of volume a")
	assert.Equal(t, StatusInvalid, out[2].Status)
	assert.Contains(t, out[3].Problems[0], "beyond the end")
	assert.Empty(t, out[4].Problems)
	assert.Empty(t, vols[2].Problems, "the input is not modified")

	// A record of another domain (a metadata copy from the wrong VG).
	other := []Volume{{ID: "a", Image: "i", Parent: BlankUUID, MDSlot: 5, Extra: map[string]string{"DOMAIN": "vg-x"}}}
	out, err = ReadMetadataSlots(bytes.NewReader(lv), 5, other)
	require.NoError(t, err)
	require.Len(t, out[0].Problems, 1)
	assert.Contains(t, out[0].Problems[0], "is the metadata copy from this storage domain")

	_, err = ReadMetadataSlots(bytes.NewReader(lv), 7, vols)
	assert.True(t, errors.Is(err, cbt.ErrUnsupported))
	_, err = ReadMetadataSlots(failingReaderAt{}, 5, vols)
	assert.True(t, errors.Is(err, cbt.ErrCorrupt))
}

type failingReaderAt struct{}

func (failingReaderAt) ReadAt([]byte, int64) (int, error) { return 0, errors.New("EIO") }

func findingKinds(fs []Finding) []FindingKind {
	out := make([]FindingKind, len(fs))
	for i, f := range fs {
		out[i] = f.Kind
	}
	return out
}
