package rhv

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt"
)

func readDumpFile(t *testing.T, name string) []Volume {
	t.Helper()
	f, err := os.Open("testdata/chains/" + name)
	require.NoError(t, err)
	defer f.Close()
	vols, err := ReadDump(f)
	require.NoError(t, err)
	return vols
}

func TestReadDumpText(t *testing.T) {
	vols := readDumpFile(t, "dump_text.txt")
	const (
		img1, img2 = "1111aaaa-0000-0000-0000-000000000001", "2222bbbb-0000-0000-0000-000000000002"
		a, b       = "a0000000-0000-0000-0000-00000000000a", "b0000000-0000-0000-0000-00000000000b"
		c, d, e    = "c0000000-0000-0000-0000-00000000000c", "d0000000-0000-0000-0000-00000000000d", "e0000000-0000-0000-0000-00000000000e"
	)
	require.Equal(t, []string{a, b, c, d, e}, ids(vols))
	assert.Equal(t, Volume{ID: a, Parent: BlankUUID, Image: img1, Status: "OK", Role: RoleInternal, Format: FormatRAW,
		Legality: LegalityLegal, Type: "PREALLOCATED", Capacity: 10 << 30, MDSlot: -1,
		Extra: map[string]string{"truesize": "1073741824"}}, vols[0])
	assert.Equal(t, a, vols[1].Parent, "a good chain: the parent is the volume printed before")
	assert.Equal(t, c, vols[3].Parent)
	assert.Equal(t, c, vols[4].Parent)
	assert.Equal(t, LegalityIllegal, vols[4].Legality)
	assert.Equal(t, img2, vols[4].Image)

	chains, fs := BuildChains(vols)
	require.Len(t, chains, 2)
	assert.True(t, chains[0].Ordered)
	assert.False(t, chains[1].Ordered)
	assert.Equal(t, []string{c, d, e}, ids(chains[1].Volumes), "a broken chain keeps the source's order")
	require.Equal(t, []FindingKind{KindDuplicateParent, KindIllegal}, findingKinds(fs))
	assert.Equal(t, c, fs[0].Volume)
	assert.True(t, strings.HasPrefix(fs[0].Message, "more than one volume pointing to the same parent volume e.g: (_BLANK_UUID<-a), (a<-b), (a<-c)"), fs[0].Message)
	assert.Contains(t, fs[0].Message, d+", "+e)
	assert.Equal(t, e, fs[1].Volume)
}

func TestReadDumpTextOld(t *testing.T) {
	vols := readDumpFile(t, "dump_text_old.txt")
	require.Len(t, vols, 3)
	assert.Equal(t, "f0000000-0000-0000-0000-00000000000f", vols[1].Parent)
	assert.Empty(t, vols[1].Legality, "(missing) is left unset")
	assert.Zero(t, vols[1].Capacity)
	assert.Equal(t, "99999999-0000-0000-0000-000000000099", vols[2].Parent)

	chains, fs := BuildChains(vols)
	require.Len(t, chains, 2)
	assert.True(t, chains[0].Ordered)
	assert.Equal(t, []FindingKind{KindNoBaseVolume}, findingKinds(fs))
	assert.Equal(t, "4444dddd-0000-0000-0000-000000000004", fs[0].Image)
	assert.Empty(t, fs[0].Volume)
}

func TestReadDumpTextSpecial(t *testing.T) {
	vols, err := ReadDump(strings.NewReader("\n             (no images found)\n\n"))
	require.NoError(t, err)
	assert.Empty(t, vols)

	// A template volume printed under its own image and under the image
	// based on it belongs to its own image; unknown-image and
	// unknown-parent come through.
	in := `
Images volume chains (base volume first)

   image:    child
             - tmplvol
               status: OK, voltype: SHARED, format: RAW, legality: LEGAL, type: PREALLOCATED
             - childvol
               status: OK, voltype: LEAF, format: COW, legality: LEGAL, type: SPARSE

   image:    tmpl
             - tmplvol
               status: OK, voltype: SHARED, format: RAW, legality: LEGAL, type: PREALLOCATED

   image:    unknown-image
             Error: there are volumes in the storage missing the image info in their metadata, these are listed here
             Unordered volumes and children:
             - unknown-parent <- lost
               status: INVALID, voltype: (missing), format: (missing), legality: (missing), type: (missing), capacity: (missing), truesize: 0
`
	vols, err = ReadDump(strings.NewReader(in))
	require.NoError(t, err)
	require.Equal(t, []string{"tmplvol", "childvol", "lost"}, ids(vols))
	assert.Equal(t, "tmpl", vols[0].Image)
	assert.Equal(t, "child", vols[1].Image)
	assert.Equal(t, "", vols[2].Image)
	assert.Equal(t, UnknownParent, vols[2].Parent)

	chains, fs := BuildChains(vols)
	require.Len(t, chains, 3)
	assert.Equal(t, "tmpl", chains[0].Image, "images in the order their volumes come")
	assert.Equal(t, []string{"tmplvol"}, ids(chains[0].Volumes))
	assert.Equal(t, "child", chains[1].Image)
	assert.Equal(t, []string{"tmplvol", "childvol"}, ids(chains[1].Volumes))
	assert.True(t, chains[1].Ordered)
	assert.Equal(t, []FindingKind{KindUnknownImage, KindInvalidMetadata}, findingKinds(fs))
}

func TestReadDumpJSON(t *testing.T) {
	vols := readDumpFile(t, "dump.json")
	require.Equal(t, []string{fixtureBase, fixtureLeaf, "77777777-0000-0000-0000-000000000077"}, ids(vols))
	assert.Equal(t, Volume{ID: fixtureBase, Parent: BlankUUID, Image: fixtureImage, Format: FormatRAW, Type: "PREALLOCATED",
		Role: RoleInternal, Legality: LegalityLegal, Capacity: 2 << 30, Sequence: 1, CTime: 1488362400,
		Description: `{"DiskAlias":"vm1_Disk1","DiskDescription":""}`, Status: "OK", MDSlot: 17,
		Extra: map[string]string{"apparentsize": "2147483648", "truesize": "2147483648", "disktype": "DATA"}}, vols[0])
	assert.Equal(t, "", vols[2].Image)
	assert.Equal(t, UnknownParent, vols[2].Parent)

	chains, fs := BuildChains(vols)
	require.Len(t, chains, 2)
	assert.True(t, chains[0].Ordered)
	assert.Equal(t, UnknownImage, chains[1].Image)
	assert.Equal(t, []FindingKind{KindUnknownImage, KindInvalidMetadata}, findingKinds(fs))

	// The same volumes as the engine rows and the REST answer.
	engine := readFixtureEngine(t)
	assert.Empty(t, Compare(engine[:2], vols[:2], "engine", "storage"))
}

func TestReadDumpJSONTemplateOnce(t *testing.T) {
	in := `{"child": {"t": {"image": "tmpl", "parent": "` + BlankUUID + `", "voltype": "SHARED"},
	                  "c": {"image": "child", "parent": "t", "voltype": "LEAF"}},
	        "tmpl":  {"t": {"image": "tmpl", "parent": "` + BlankUUID + `", "voltype": "SHARED"}}}`
	vols, err := ReadDump(strings.NewReader(in))
	require.NoError(t, err)
	require.Equal(t, []string{"t", "c"}, ids(vols))
	assert.Equal(t, "tmpl", vols[0].Image)
	ch, fs := BuildChain("child", vols)
	assert.True(t, ch.Ordered)
	assert.Empty(t, fs)
	assert.Equal(t, []string{"t", "c"}, ids(ch.Volumes))
}

func TestReadDumpErrors(t *testing.T) {
	for _, in := range []string{
		"hello\n",
		`{"img": []}`,
		`{"img": {"v": 1}}`,
		`{"img": {"v": {}}} {}`,
		`{"img": {"v": {"capacity": {"x": 1}}}`,
		`{"img": {"": {}}}`,
		`{`,
	} {
		_, err := ReadDump(strings.NewReader(in))
		require.Error(t, err, in)
		assert.True(t, errors.Is(err, cbt.ErrCorrupt), "%v", err)
	}
}

func TestReadDumpTextOldestErrorLine(t *testing.T) {
	// vdsm before 2018: the description capitalized, no "Error: " prefix,
	// no capacity; the pairs follow it.
	in := `
Images volume chains (base volume first)

   image:    img
             More than one volume pointing to the same parent volume e.g: (_BLANK_UUID<-a), (a<-b), (a<-c)
             Volumes and children:

             - 00000000-0000-0000-0000-000000000000 <- a
               status: OK, voltype: INTERNAL, format: RAW, legality: LEGAL, type: PREALLOCATED

             - a <- b
               status: OK, voltype: LEAF, format: COW, legality: LEGAL, type: SPARSE

             - a <- c
               status: OK, voltype: LEAF, format: COW, legality: LEGAL, type: SPARSE

`
	vols, err := ReadDump(strings.NewReader(in))
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "c"}, ids(vols))
	assert.Equal(t, []string{BlankUUID, "a", "a"}, []string{vols[0].Parent, vols[1].Parent, vols[2].Parent})
	_, fs := BuildChain("img", vols)
	assert.Equal(t, []FindingKind{KindDuplicateParent}, findingKinds(fs))
}

// A dump listing one volume twice with different parents is not a clean
// chain, and the Error: line vdsm-tool printed is never dropped.
func TestReadDumpTextHostile(t *testing.T) {
	const (
		img = "2222bbbb-0000-0000-0000-000000000002"
		c   = "c0000000-0000-0000-0000-00000000000c"
		d   = "d0000000-0000-0000-0000-00000000000d"
		e   = "e0000000-0000-0000-0000-00000000000e"
	)
	info := "\n               status: OK, voltype: LEAF, format: COW, legality: LEGAL, type: SPARSE, capacity: 1073741824, truesize: 1073741824\n"
	errLine := "             Error: more than one volume pointing to the same parent volume e.g: (_BLANK_UUID<-a), (a<-b), (a<-c)\n"
	head := "Images volume chains (base volume first)\n\n   image:    " + img + "\n\n"

	// d listed twice, under c and under the base: vdsm's error line says
	// the chain is broken; the volumes as read build one line.
	in := head + errLine + "\n             Unordered volumes and children:\n\n" +
		"             - " + BlankUUID + " <- " + c + info +
		"             - " + c + " <- " + d + info +
		"             - " + BlankUUID + " <- " + d + info
	vols, err := ReadDump(strings.NewReader(in))
	require.NoError(t, err)
	ch, fs := BuildChain(img, vols)
	assert.False(t, ch.Ordered, "a volume with two parents leaves the chain unordered")
	kinds := findingKinds(fs)
	assert.Contains(t, kinds, KindDuplicateVolume)
	assert.Contains(t, kinds, KindDuplicateParent, "vdsm-tool's error comes through")
	for _, f := range fs {
		if f.Kind == KindDuplicateVolume {
			assert.Equal(t, d, f.Volume)
			assert.Contains(t, f.Message, "different parents")
		}
	}

	// An Error: line the volumes listed do not show (the dump was edited):
	// reported, and the chain is not used.
	in = head + "             Error: a loop found in the volume chain. This happens if a volume points to one of it's parent volume e.g.: (BLANK_UUID<-a), (a<-b), (b<-c), (c<-a)\n" +
		"             Unordered volumes and children:\n" +
		"             - " + BlankUUID + " <- " + c + info +
		"             - " + c + " <- " + d + info
	vols, err = ReadDump(strings.NewReader(in))
	require.NoError(t, err)
	ch, fs = BuildChain(img, vols)
	assert.False(t, ch.Ordered)
	require.Equal(t, []FindingKind{KindChainLoop}, findingKinds(fs))
	assert.Contains(t, fs[0].Message, "reported \"a loop found")
	assert.Empty(t, fs[0].Volume)

	// An error text vdsm-tool does not have, and the unordered heading
	// without any error line: both carried.
	for _, bad := range []string{"             Error: something new went wrong\n             Unordered volumes and children:\n",
		"             Unordered volumes and children:\n"} {
		in = head + bad + "             - " + BlankUUID + " <- " + c + info + "             - " + c + " <- " + e + info
		vols, err = ReadDump(strings.NewReader(in))
		require.NoError(t, err)
		ch, fs = BuildChain(img, vols)
		assert.False(t, ch.Ordered, "%q", bad)
		assert.Equal(t, []FindingKind{KindReportedChainError}, findingKinds(fs), "%q", bad)
	}

	// An error line and no volume after it: the output is cut.
	_, err = ReadDump(strings.NewReader(head + errLine))
	require.ErrorIs(t, err, cbt.ErrCorrupt)
	assert.Contains(t, err.Error(), "output is cut")

	// BuildChains (what cbtctl rhv chain runs) agrees.
	in = head + errLine + "             Unordered volumes and children:\n" +
		"             - " + BlankUUID + " <- " + c + info + "             - " + c + " <- " + d + info + "             - " + BlankUUID + " <- " + d + info
	vols, err = ReadDump(strings.NewReader(in))
	require.NoError(t, err)
	chains, fs := BuildChains(vols)
	require.Len(t, chains, 1)
	assert.False(t, chains[0].Ordered)
	assert.NotEmpty(t, fs)
}
