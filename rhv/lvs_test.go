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

func TestReadLVsVdsmForm(t *testing.T) {
	vols := readFixtureLVs(t)
	// metadata, leases, ids, inbox, outbox, xleases, master and the host's
	// root LV are skipped; the leaf's second segment is read once.
	require.Equal(t, []string{fixtureBase, fixtureLeaf,
		"9a0e3e53-5a8c-4d7b-9a0a-0b8e4f9b1c11", "7b8c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3", "8c9d2e3f-4051-4b6c-9d7e-8f90a1b2c3d4"}, ids(vols))

	base, leaf := vols[0], vols[1]
	assert.Equal(t, Volume{ID: fixtureBase, Parent: BlankUUID, ParentTag: BlankUUID, Image: fixtureImage, MDSlot: 17,
		Extra: map[string]string{"DOMAIN": "3386c6f2-926f-42c4-839c-38287fac8998"}}, base)
	assert.Equal(t, fixtureBase, leaf.Parent)
	assert.Equal(t, 18, leaf.MDSlot)

	ini := vols[2]
	assert.True(t, ini.Initializing)
	assert.Equal(t, -1, ini.MDSlot)
	assert.Empty(t, ini.Image)

	rm, rmz := vols[3], vols[4]
	assert.True(t, rm.Removed)
	assert.Equal(t, "5d6e7f80-91a2-4b3c-8d4e-5f60718293a4", rm.Image)
	assert.Equal(t, StatusRemoved, rm.Status)
	assert.True(t, rmz.Removed)
	assert.Equal(t, "6e7f8091-a2b3-4c4d-9e5f-60718293a4b5", rmz.Image)

	chains, fs := BuildChains(vols)
	require.Len(t, chains, 4)
	assert.True(t, chains[0].Ordered)
	assert.Equal(t, []string{fixtureBase, fixtureLeaf}, ids(chains[0].Volumes))
	assert.Equal(t, []FindingKind{KindInitializing, KindRemoved, KindRemoved}, findingKinds(fs))
	assert.Equal(t, UnknownImage, fs[0].Image)
}

func TestReadLVsDefaultForm(t *testing.T) {
	f, err := os.Open("testdata/chains/lvs_default.out")
	require.NoError(t, err)
	defer f.Close()
	vols, err := ReadLVs(f)
	require.NoError(t, err)
	require.Equal(t, []string{fixtureBase, fixtureLeaf}, ids(vols))
	vdsm := readFixtureLVs(t)[:2]
	assert.Equal(t, vdsm, vols, "both forms give the same volumes")
}

func TestReadLVsForms(t *testing.T) {
	// The separator form with headings, columns in another order.
	in := "  LV Tags|LV|VG\n  IU_i,PU_" + BlankUUID + ",MD_4|v1|vg\n  |metadata|vg\n"
	vols, err := ReadLVs(strings.NewReader(in))
	require.NoError(t, err)
	require.Len(t, vols, 1)
	assert.Equal(t, "v1", vols[0].ID)
	assert.Equal(t, 4, vols[0].MDSlot)
	assert.Equal(t, "i", vols[0].Image)

	// lvm's warnings before the table.
	in = "  WARNING: Not using lvmetad because config setting use_lvmetad=0.\n" +
		"  LV VG Attr       LSize LV Tags\n" +
		"  v2 vg -wi------- 1.00g MD_9,IU_i,PU_v1,MD_10,IU_j\n"
	vols, err = ReadLVs(strings.NewReader(in))
	require.NoError(t, err)
	require.Len(t, vols, 1)
	assert.Equal(t, 9, vols[0].MDSlot, "the first MD_ tag counts")
	assert.Equal(t, "i", vols[0].Image)
	assert.Equal(t, "v1", vols[0].Parent)

	// Tags lacking: an LV with IU_ but no PU_ is listed with a problem.
	in = "  x|v3|vg|-wi-----|1|0|/dev/sda(0)|IU_i,MD_x\n"
	vols, err = ReadLVs(strings.NewReader(in))
	require.NoError(t, err)
	require.Len(t, vols, 1)
	assert.Equal(t, StatusInvalid, vols[0].Status)
	assert.Len(t, vols[0].Problems, 2)
	assert.Equal(t, UnknownParent, vols[0].Parent)

}

func TestReadLVsErrors(t *testing.T) {
	for _, in := range []string{
		"  a|b|c\n",                           // too few columns for vdsm's form
		"  LV VG Attr LSize\n  v vg -wi 1g\n", // no tags column
		"hello world\n",
		"", " \n\t\n", // nothing
		"  LV VG Attr LSize LV Tags\n",                                  // a heading only
		"  root rhel -wi-ao---- 17.00g\n  swap rhel -wi-ao---- 2.00g\n", // the host's LVs: no -o +tags
		`{"report":[{"lv":[{"lv_name":"v","vg_name":"g"}]}]}`,           // JSON without lv_tags
		`{"report":`, // broken JSON
		"  LV|VG|LV Tags\n  a|b\n",
		strings.Repeat("x", maxLineSize+1),
	} {
		_, err := ReadLVs(strings.NewReader(in))
		require.Error(t, err, "%.40q", in)
		assert.True(t, errors.Is(err, cbt.ErrCorrupt), "%v", err)
	}
}

func TestReadLVsNotesFixture(t *testing.T) {
	// The three lines of vdsm's captured lvs output as the notes (§2.2)
	// quote them, LV UUIDs and the VG name shortened.
	in := "  3oqnyE-...-hcGUyl|0574c3f6-3d44-4cc7-98e3-6d90626dd95f|3386c6f2-926f-42c4-839c-38287fac8998|-wi-----|2147483648|0|/dev/mapper/1Dafna-rhevm11333889(195)|PU_00000000-0000-0000-0000-000000000000,MD_17,IU_ae863f0d-0f24-41d4-b6ed-333c6634c7dc\n" +
		"  bP284e-...-ebHKkh|3fc4fd44-6d75-4b48-aafc-d72c7bba10d9|3386c6f2-...|-wi-a---|1073741824|0|/dev/mapper/1Dafna-rhevm11333889(227)|MD_18,PU_0574c3f6-3d44-4cc7-98e3-6d90626dd95f,IU_ae863f0d-0f24-41d4-b6ed-333c6634c7dc\n" +
		"  5oRrZ7-...-g9BwPi|metadata|3386c6f2-...|-wi-a---|536870912|0|/dev/mapper/1Dafna-rhevm11333889(0)|\n"
	vols, err := ReadLVs(strings.NewReader(in))
	require.NoError(t, err)
	require.Equal(t, []string{fixtureBase, fixtureLeaf}, ids(vols))
	assert.Equal(t, []int{17, 18}, []int{vols[0].MDSlot, vols[1].MDSlot})
	ch, fs := BuildChain(fixtureImage, vols)
	assert.True(t, ch.Ordered)
	assert.Empty(t, fs)
	assert.Equal(t, []string{fixtureBase, fixtureLeaf}, ids(ch.Volumes))
}

// An empty or blank file, or one holding no LV of a block domain, is an
// error that says which forms are expected, with an example line.
func TestReadLVsNothing(t *testing.T) {
	for _, in := range []string{"", "\n", "  \n\t\n", "  LV VG Attr LSize LV Tags\n", "  root rhel -wi-ao---- 17.00g\n"} {
		vols, err := ReadLVs(strings.NewReader(in))
		require.ErrorIs(t, err, cbt.ErrCorrupt, "%q", in)
		assert.Empty(t, vols)
		assert.Contains(t, err.Error(), "lvs --noheadings --units b --nosuffix --separator '|'", "names vdsm's form")
		assert.Contains(t, err.Error(), "lvs -o +tags", "names the default form")
		assert.Contains(t, err.Error(), `e.g. "  0574c3f6-3d44-4cc7-98e3-6d90626dd95f 3386c6f2`, "gives an example line")
	}
	// A domain without disks (its special LVs only) holds no volume, and
	// says so without an error.
	in := "  ids      3386c6f2-926f-42c4-839c-38287fac8998 -wi-ao---- 128.00m\n  metadata 3386c6f2-926f-42c4-839c-38287fac8998 -wi-a----- 128.00m\n"
	vols, err := ReadLVs(strings.NewReader(in))
	require.NoError(t, err)
	assert.Empty(t, vols)
}

// The forms a support engineer pastes from a host all read as the fixture's
// two volumes.
func TestReadLVsPastedForms(t *testing.T) {
	const (
		vg   = "3386c6f2-926f-42c4-839c-38287fac8998"
		tags = "PU_00000000-0000-0000-0000-000000000000,MD_17,IU_ae863f0d-0f24-41d4-b6ed-333c6634c7dc"
		tag2 = "MD_18,PU_0574c3f6-3d44-4cc7-98e3-6d90626dd95f,IU_ae863f0d-0f24-41d4-b6ed-333c6634c7dc"
	)
	want := readFixtureLVs(t)[:2]
	forms := map[string]string{
		"lvs -o +tags | grep IMAGE (no heading)": "  " + fixtureBase + " " + vg + " -wi-------   2.00g                                                     " + tags + "\n" +
			"  " + fixtureLeaf + " " + vg + " -wi-a-----   1.00g                                                     " + tag2 + "\n",
		"grep, more leading spaces, a prompt line": "[root@host ~]# lvs -o +tags | grep ae863f0d\n" +
			"\t      " + fixtureBase + " " + vg + " -wi------- <2.00g " + tags + "\n" +
			"        " + fixtureLeaf + " " + vg + " -wi-a----- 1.00g " + tag2 + "\n",
		"--noheadings --units b": "  " + fixtureBase + " " + vg + " -wi------- 2147483648B " + tags + "\n" +
			"  " + fixtureLeaf + " " + vg + " -wi-a----- 1073741824B " + tag2 + "\n",
		"--units b with heading": "  LV                                   VG                                   Attr       LSize       LV Tags\n" +
			"  " + fixtureBase + " " + vg + " -wi------- 2147483648B " + tags + "\n" +
			"  " + fixtureLeaf + " " + vg + " -wi-a----- 1073741824B " + tag2 + "\n",
		"-o lv_name,vg_name,lv_tags --noheadings --separator '|'": "  " + fixtureBase + "|" + vg + "|" + tags + "\n  " + fixtureLeaf + "|" + vg + "|" + tag2 + "\n",
		"-o vg_name,lv_name,lv_tags --noheadings (VG first)":      "  " + vg + " " + fixtureBase + " " + tags + "\n  " + vg + " " + fixtureLeaf + " " + tag2 + "\n",
		"-o tags,name,vg_name --noheadings":                       "  " + tags + " " + fixtureBase + " " + vg + "\n  " + tag2 + " " + fixtureLeaf + " " + vg + "\n",
		"--nameprefixes": "  LVM2_LV_NAME='" + fixtureBase + "' LVM2_VG_NAME='" + vg + "' LVM2_LV_ATTR='-wi-------' LVM2_LV_SIZE='2.00g' LVM2_LV_TAGS='" + tags + "'\n" +
			"  LVM2_LV_NAME='" + fixtureLeaf + "' LVM2_VG_NAME='" + vg + "' LVM2_LV_ATTR='-wi-a-----' LVM2_LV_SIZE='1.00g' LVM2_LV_TAGS='" + tag2 + "'\n",
		"--nameprefixes --unquoted": "  LVM2_LV_NAME=" + fixtureBase + " LVM2_VG_NAME=" + vg + " LVM2_LV_TAGS=" + tags + "\n" +
			"  LVM2_LV_NAME=" + fixtureLeaf + " LVM2_VG_NAME=" + vg + " LVM2_LV_TAGS=" + tag2 + "\n",
		"--reportformat json": `  {
      "report": [
          {
              "lv": [
                  {"lv_name":"` + fixtureBase + `", "vg_name":"` + vg + `", "lv_attr":"-wi-------", "lv_size":"2.00g", "pool_lv":"", "origin":"", "lv_tags":"` + tags + `"},
                  {"lv_name":"` + fixtureLeaf + `", "vg_name":"` + vg + `", "lv_attr":"-wi-a-----", "lv_size":"1.00g", "pool_lv":"", "origin":"", "lv_tags":"` + tag2 + `"},
                  {"lv_name":"metadata", "vg_name":"` + vg + `", "lv_attr":"-wi-a-----", "lv_size":"128.00m", "lv_tags":""}
              ]
          }
      ]
  }
`,
		"--reportformat json_std": `{"report": [{"lv": [
  {"lv_name":"` + fixtureBase + `", "vg_name":"` + vg + `", "lv_size":2147483648, "lv_tags":["` + strings.ReplaceAll(tags, ",", `","`) + `"]},
  {"lv_name":"` + fixtureLeaf + `", "vg_name":"` + vg + `", "lv_size":1073741824, "lv_tags":["` + strings.ReplaceAll(tag2, ",", `","`) + `"]}]}],
  "log": [{"log_seq_num":1, "log_type":"status", "log_context":"shell", "log_object_type":"cmd", "log_object_name":"", "log_object_id":"", "log_object_group":"", "log_object_group_id":"", "log_message":"", "log_errno":0, "log_ret_code":1}]}`,
	}
	for name, in := range forms {
		t.Run(name, func(t *testing.T) {
			vols, err := ReadLVs(strings.NewReader(in))
			require.NoError(t, err, "%s", in)
			assert.Equal(t, want, vols)
		})
	}
}
