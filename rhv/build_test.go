package rhv

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// vol is a volume of image "img" with parent p (B for BlankUUID).
func vol(id, p string) Volume {
	if p == "B" {
		p = BlankUUID
	}
	return Volume{ID: id, Parent: p, Image: "img", MDSlot: -1}
}

func TestBuildChainGood(t *testing.T) {
	leaf := vol("c", "b")
	leaf.Role = RoleLeaf
	base := vol("a", "B")
	base.Format = FormatRAW
	other := vol("x", "B")
	other.Image = "other"
	ch, fs := BuildChain("img", []Volume{leaf, vol("b", "a"), base, other})
	require.Empty(t, fs)
	assert.True(t, ch.Ordered)
	assert.Equal(t, []string{"a", "b", "c"}, ids(ch.Volumes), "base first")
	l, ok := ch.Leaf()
	assert.True(t, ok)
	assert.Equal(t, "c", l.ID)

	// "" is the base's parent too (chain.go's IsBase).
	ch, fs = BuildChain("img", []Volume{vol("b", "a"), vol("a", "")})
	assert.Empty(t, fs)
	assert.Equal(t, []string{"a", "b"}, ids(ch.Volumes))

	// An image without volumes.
	ch, fs = BuildChain("none", []Volume{vol("a", "B")})
	assert.Empty(t, fs)
	assert.False(t, ch.Ordered)
	assert.Empty(t, ch.Volumes)
}

func TestBuildChainVdsmErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		vols  []Volume
		kinds []FindingKind
		vol   []string // the findings' volumes
	}{
		{"duplicate parent: two leaves", []Volume{vol("a", "B"), vol("b", "a"), vol("c", "a")},
			[]FindingKind{KindDuplicateParent}, []string{"a"}},
		{"duplicate parent: two bases", []Volume{vol("a", "B"), vol("b", "B")},
			[]FindingKind{KindDuplicateParent}, []string{BlankUUID}},
		{"unknown parent", []Volume{vol("a", "B"), vol("b", UnknownParent)},
			[]FindingKind{KindUnknownParent}, []string{"b"}},
		{"no base", []Volume{vol("b", "a"), vol("c", "b")},
			[]FindingKind{KindNoBaseVolume}, []string{""}},
		{"orphans", []Volume{vol("a", "B"), vol("b", "a"), vol("d", "c")},
			[]FindingKind{KindOrphanVolumes}, []string{"d"}},
		{"loop without base", []Volume{vol("a", "c"), vol("b", "a"), vol("c", "b")},
			[]FindingKind{KindNoBaseVolume, KindChainLoop}, []string{"", "a"}},
		{"loop beside a base", []Volume{vol("a", "B"), vol("x", "y"), vol("y", "x")},
			[]FindingKind{KindOrphanVolumes, KindOrphanVolumes, KindChainLoop}, []string{"x", "y", "x"}},
		{"self parent", []Volume{vol("a", "B"), vol("s", "s")},
			[]FindingKind{KindOrphanVolumes, KindChainLoop}, []string{"s", "s"}},
		{"loop and duplicate parent", []Volume{vol("a", "B"), vol("b", "B"), vol("x", "y"), vol("y", "x")},
			[]FindingKind{KindDuplicateParent, KindChainLoop}, []string{BlankUUID, "x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch, fs := BuildChain("img", tc.vols)
			assert.False(t, ch.Ordered)
			assert.Equal(t, ids(tc.vols), ids(ch.Volumes), "the source's order")
			assert.Equal(t, tc.kinds, findingKinds(fs))
			for i, f := range fs {
				if i < len(tc.vol) {
					assert.Equal(t, tc.vol[i], f.Volume, f.String())
				}
				assert.Equal(t, "img", f.Image)
				assert.True(t, strings.HasPrefix(f.Message, f.Kind.Description()), f.Message)
			}
		})
	}
}

func TestBuildChainUnknownImage(t *testing.T) {
	a, b := vol("a", "B"), vol("b", "a")
	a.Image, b.Image = "", UnknownImage
	chains, fs := BuildChains([]Volume{a, b})
	require.Len(t, chains, 1)
	assert.Equal(t, UnknownImage, chains[0].Image)
	assert.False(t, chains[0].Ordered)
	assert.Equal(t, []FindingKind{KindUnknownImage, KindUnknownImage}, findingKinds(fs))
	assert.Equal(t, descUnknownImage+": no source gives the image of this volume", fs[0].Message)
}

func TestBuildChainVolumeFindings(t *testing.T) {
	base := vol("a", "B")
	base.Legality = LegalityIllegal
	mid := vol("b", "a")
	mid.ParentTag = "z"
	mid.Status = "LOCKED"
	mid.Role = RoleLeaf // a LEAF below the top
	mid.Format = FormatRAW
	top := vol("c", "b")
	top.Role = RoleInternal // not the LEAF
	top.Status = StatusInvalid
	init := vol("i", UnknownParent)
	init.Initializing = true
	removed := vol("r", "B")
	removed.Removed = true
	dup := vol("c", "b")
	dup.Capacity = 1
	ch, fs := BuildChain("img", []Volume{base, mid, top, init, removed, top, dup})
	require.True(t, ch.Ordered, "initializing and removed volumes are not part of the chain")
	assert.Equal(t, []string{"a", "b", "c"}, ids(ch.Volumes))
	got := make([]string, len(fs))
	for i, f := range fs {
		got[i] = string(f.Kind) + " " + f.Volume
	}
	assert.Equal(t, []string{
		"DuplicateVolume c",
		"IllegalVolume a",
		"LockedVolume b",
		"ParentTagMismatch b",
		"InvalidMetadata c",
		"VolumeInitializing i",
		"VolumeRemoved r",
		"VolumeRoleMismatch b",
		"RawVolumeAboveBase b",
		"VolumeRoleMismatch c",
	}, got)
}

func TestBuildChainsNeverLoops(t *testing.T) {
	// A long cycle and a long chain: linear work, no endless walk.
	const n = 20000
	var vols []Volume
	for i := range n {
		vols = append(vols, vol(fmt.Sprint("c", i), fmt.Sprint("c", (i+1)%n)))
	}
	for i := range n {
		p := "B"
		if i > 0 {
			p = fmt.Sprint("l", i-1)
		}
		v := vol(fmt.Sprint("l", i), p)
		v.Image = "long"
		vols = append(vols, v)
	}
	start := time.Now()
	chains, fs := BuildChains(vols)
	assert.Less(t, time.Since(start), 10*time.Second)
	require.Len(t, chains, 2)
	assert.Equal(t, []FindingKind{KindNoBaseVolume, KindChainLoop}, findingKinds(fs))
	assert.True(t, chains[1].Ordered)
	assert.Len(t, chains[1].Volumes, n)
}

func TestBuildChainsFindingsOnce(t *testing.T) {
	tmpl := Volume{ID: "t", Image: "timg", Parent: BlankUUID, Role: RoleShared, Legality: LegalityIllegal, MDSlot: -1}
	c1 := Volume{ID: "c1", Image: "d1", Parent: "t", MDSlot: -1}
	c2 := Volume{ID: "c2", Image: "d2", Parent: "t", MDSlot: -1}
	chains, fs := BuildChains([]Volume{tmpl, c1, c2})
	require.Len(t, chains, 3)
	for _, ch := range chains {
		assert.True(t, ch.Ordered, ch.Image)
	}
	assert.Equal(t, []string{"t", "c2"}, ids(chains[2].Volumes))
	require.Equal(t, []FindingKind{KindIllegal}, findingKinds(fs), "the template's finding once")
	assert.Equal(t, "timg", fs[0].Image)
}

func TestVdsmDescriptions(t *testing.T) {
	// vdsm lib/vdsm/tool/dump_volume_chains.py, word for word.
	want := map[FindingKind]string{
		"DuplicateParentError": "more than one volume pointing to the same parent volume e.g: (_BLANK_UUID<-a), (a<-b), (a<-c)",
		"UnknownParentError":   "there are volumes in the chain missing the parent info in their metadata, please check the metadata integrity",
		"UnknownImageError":    "there are volumes in the storage missing the image info in their metadata, these are listed here",
		"NoBaseVolume":         "no volume with a parent volume Id _BLANK_UUID found e.g: (a<-b), (b<-c)",
		"ChainLoopError":       "a loop found in the volume chain. This happens if a volume points to one of it's parent volume e.g.: (BLANK_UUID<-a), (a<-b), (b<-c), (c<-a)",
		"OrphanVolumes":        "there are volumes that are part of an image and are pointing to volumes which are not part of the chain e.g: (BLANK_UUID<-a), (a<-b), (c<-d)",
	}
	for _, k := range []FindingKind{KindDuplicateParent, KindUnknownParent, KindUnknownImage, KindNoBaseVolume, KindChainLoop, KindOrphanVolumes} {
		assert.Equal(t, want[k], k.Description(), k)
	}
	assert.Empty(t, KindIllegal.Description())
}
