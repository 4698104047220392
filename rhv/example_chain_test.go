package rhv_test

import (
	"fmt"
	"strings"

	"github.com/changedblocks/sdk/rhv"
)

// A block domain's volumes from vdsm's lvs, then their chain: the leaf's
// PU_ tag names the base; the third LV is still being created.
func ExampleBuildChains() {
	lvs := `  u1|0574c3f6-3d44-4cc7-98e3-6d90626dd95f|sd|-wi-----|2147483648|0|/dev/mapper/a(195)|PU_00000000-0000-0000-0000-000000000000,MD_17,IU_ae863f0d-0f24-41d4-b6ed-333c6634c7dc
  u2|3fc4fd44-6d75-4b48-aafc-d72c7bba10d9|sd|-wi-a---|1073741824|0|/dev/mapper/a(227)|MD_18,PU_0574c3f6-3d44-4cc7-98e3-6d90626dd95f,IU_ae863f0d-0f24-41d4-b6ed-333c6634c7dc
  u3|9a0e3e53-5a8c-4d7b-9a0a-0b8e4f9b1c11|sd|-wi-----|134217728|0|/dev/mapper/a(300)|OVIRT_VOL_INITIALIZING
  u4|metadata|sd|-wi-a---|536870912|0|/dev/mapper/a(0)|
`
	vols, err := rhv.ReadLVs(strings.NewReader(lvs))
	if err != nil {
		fmt.Println(err)
		return
	}
	chains, findings := rhv.BuildChains(vols)
	for _, ch := range chains {
		fmt.Println("image", ch.Image, "ordered:", ch.Ordered)
		for _, v := range ch.Volumes {
			fmt.Println("  volume", v.ID, "slot", v.MDSlot)
		}
	}
	for _, f := range findings {
		fmt.Println(f.Kind, f.Volume)
	}
	// Output:
	// image ae863f0d-0f24-41d4-b6ed-333c6634c7dc ordered: true
	//   volume 0574c3f6-3d44-4cc7-98e3-6d90626dd95f slot 17
	//   volume 3fc4fd44-6d75-4b48-aafc-d72c7bba10d9 slot 18
	// image unknown-image ordered: false
	// VolumeInitializing 9a0e3e53-5a8c-4d7b-9a0a-0b8e4f9b1c11
}

// A file domain's .meta record, parsed as vdsm parses it.
func ExampleParseMetadata() {
	record := "CAP=10737418240\nCTIME=1600000000\nDESCRIPTION={\"DiskAlias\":\"vm1_Disk1\",\"DiskDescription\":\"\"}\n" +
		"DISKTYPE=DATA\nDOMAIN=3386c6f2-926f-42c4-839c-38287fac8998\nFORMAT=COW\nGEN=0\n" +
		"IMAGE=ae863f0d-0f24-41d4-b6ed-333c6634c7dc\nLEGALITY=ILLEGAL\nPUUID=0574c3f6-3d44-4cc7-98e3-6d90626dd95f\n" +
		"SEQ=2\nTYPE=SPARSE\nVOLTYPE=LEAF\nEOF\n"
	v, problems, err := rhv.ParseMetadata([]byte(record))
	if err != nil {
		fmt.Println(err)
		return
	}
	v.ID = "3fc4fd44-6d75-4b48-aafc-d72c7bba10d9" // the file's name
	fmt.Println(v.Parent, v.Format, v.Capacity, v.Legality, v.Status, len(problems))
	_, findings := rhv.BuildChain(v.Image, []rhv.Volume{v})
	for _, f := range findings {
		fmt.Println(f.Kind)
	}
	// Output:
	// 0574c3f6-3d44-4cc7-98e3-6d90626dd95f COW 10737418240 ILLEGAL OK 0
	// NoBaseVolume
	// IllegalVolume
}

// The engine's view of a disk against the storage's.
func ExampleCompare() {
	engine := []rhv.Volume{
		{ID: "a", Image: "disk", Parent: rhv.BlankUUID},
		{ID: "b", Image: "disk", Parent: "a"},
	}
	storage := []rhv.Volume{{ID: "a", Image: "disk", Parent: rhv.BlankUUID}}
	for _, f := range rhv.Compare(engine, storage, "engine", "storage") {
		fmt.Println(f.Kind, f.Volume+":", f.Message)
	}
	// Output:
	// MissingVolume b: the volume is in engine but not in storage
}
