package rhv

import (
	"bytes"
	"os"
	"testing"
)

// fuzzSeeds adds the fixtures named to f's corpus.
func fuzzSeeds(f *testing.F, names ...string) {
	for _, n := range names {
		data, err := os.ReadFile("testdata/chains/" + n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// checkChains builds the chains of vols: it must end, and keep every live
// volume in exactly one chain of its image.
func checkChains(t *testing.T, vols []Volume) {
	chains, _ := BuildChains(vols)
	for _, ch := range chains {
		if ch.Ordered {
			for i, v := range ch.Volumes {
				if i == 0 && !v.IsBase() || i > 0 && v.Parent != ch.Volumes[i-1].ID {
					t.Fatalf("ordered chain %s is not a line: %v", ch.Image, ids(ch.Volumes))
				}
			}
		}
	}
}

func FuzzParseMetadata(f *testing.F) {
	f.Add(sampleRecord().storageFormat(5))
	f.Add(sampleRecord().storageFormat(4))
	f.Add([]byte("NONE=####\nEOF\n\x00\x00"))
	f.Add([]byte("CAP=x\r\nSIZE=99999999999999999\rEOF"))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, problems, err := ParseMetadata(data)
		if err != nil {
			return
		}
		if (len(problems) > 0) != (v.Status == StatusInvalid) {
			t.Fatalf("status %s with problems %v", v.Status, problems)
		}
		if v.Capacity < 0 && len(problems) == 0 {
			t.Fatalf("negative capacity without a problem")
		}
		checkChains(t, []Volume{v})
	})
}

func FuzzReadLVs(f *testing.F) {
	fuzzSeeds(f, "lvs_vdsm.out", "lvs_default.out")
	f.Add([]byte("  LV Tags|LV|VG\n  IU_i,PU_p,MD_4|v1|vg\n"))
	// Forms without heading, --nameprefixes and JSON.
	f.Add([]byte("# lvs -o +tags | grep i\n  0574c3f6-3d44-4cc7-98e3-6d90626dd95f 3386c6f2-926f-42c4-839c-38287fac8998 -wi------- <2.00g IU_i,MD_1,PU_00000000-0000-0000-0000-000000000000\n"))
	f.Add([]byte("  3386c6f2-926f-42c4-839c-38287fac8998|0574c3f6-3d44-4cc7-98e3-6d90626dd95f|PU_x,IU_i\n"))
	f.Add([]byte("  LVM2_LV_NAME='v' LVM2_VG_NAME='g' LVM2_LV_TAGS='IU_i,PU_p'\n  LVM2_LV_NAME=w LVM2_LV_TAGS=MD_3\n"))
	f.Add([]byte(`{"report":[{"lv":[{"lv_name":"v","vg_name":"g","lv_tags":["IU_i","PU_p"]},{"lv_name":"metadata","lv_tags":""}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		vols, err := ReadLVs(bytes.NewReader(data))
		if err != nil {
			return
		}
		if len(vols) > len(data) {
			t.Fatalf("%d volumes from %d bytes", len(vols), len(data))
		}
		out, err := ReadMetadataSlots(bytes.NewReader(data), 5, vols)
		if err != nil {
			t.Fatal(err)
		}
		checkChains(t, out)
	})
}

func FuzzReadMetadataSlots(f *testing.F) {
	f.Add(uint16(17), uint8(4), sampleRecord().storageFormat(4))
	f.Add(uint16(1), uint8(5), sampleRecord().storageFormat(5))
	f.Fuzz(func(t *testing.T, slot uint16, version uint8, rec []byte) {
		if len(rec) > 512 {
			rec = rec[:512]
		}
		off, err := MetadataOffset(int(version), int(slot))
		if err != nil || off > 4<<20 {
			return
		}
		lv := make([]byte, off+512)
		copy(lv[off:], rec)
		vols := []Volume{{ID: "v", MDSlot: int(slot), ParentTag: "p", Parent: "p"}}
		out, err := ReadMetadataSlots(bytes.NewReader(lv), int(version), vols)
		if err != nil {
			t.Fatal(err)
		}
		want, _, _ := ParseMetadata(rec)
		if out[0].Capacity != want.Capacity || out[0].Legality != want.Legality {
			t.Fatalf("slot %d v%d: read %+v, record says %+v", slot, version, out[0], want)
		}
	})
}

func FuzzReadEngine(f *testing.F) {
	fuzzSeeds(f, "engine_images.txt")
	f.Add([]byte("image_guid|parentid|image_group_id|size\nv|p|i|12\n(1 row)\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		vols, err := ReadEngine(bytes.NewReader(data))
		if err != nil {
			return
		}
		if len(vols) > len(data) {
			t.Fatalf("%d volumes from %d bytes", len(vols), len(data))
		}
		checkChains(t, vols)
		Compare(vols, vols[len(vols)/2:], "a", "b")
	})
}

func FuzzReadREST(f *testing.F) {
	fuzzSeeds(f, "rest_disksnapshots.json")
	f.Add([]byte(`{"id":"v","provisioned_size":12,"sparse":true}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		vols, err := ReadREST(bytes.NewReader(data))
		if err != nil {
			return
		}
		checkChains(t, vols)
	})
}

func FuzzReadDump(f *testing.F) {
	fuzzSeeds(f, "dump_text.txt", "dump_text_old.txt", "dump.json")
	f.Add([]byte("(no images found)"))
	f.Add([]byte("image: i\nError: more than one volume pointing to the same parent\nUnordered volumes and children:\n- 00000000-0000-0000-0000-000000000000 <- a\n  status: OK\n- a <- b\n- 00000000-0000-0000-0000-000000000000 <- b\n"))
	f.Add([]byte("image: i\nVolumes and children:\n- x <- y\nimage: j\nError: cut\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		vols, err := ReadDump(bytes.NewReader(data))
		if err != nil {
			return
		}
		if len(vols) > len(data) {
			t.Fatalf("%d volumes from %d bytes", len(vols), len(data))
		}
		checkChains(t, vols)
	})
}

// FuzzReadDumpReported: whatever a dump says, a chain whose volumes carry a
// chain error vdsm-tool printed, or list one volume with two parents, is
// never ordered.
func FuzzReadDumpReported(f *testing.F) {
	fuzzSeeds(f, "dump_text.txt", "dump_text_old.txt")
	f.Add([]byte("image: i\nError: x\n- 00000000-0000-0000-0000-000000000000 <- a\n- a <- b\n- 00000000-0000-0000-0000-000000000000 <- b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		vols, err := ReadDump(bytes.NewReader(data))
		if err != nil {
			return
		}
		chains, _ := BuildChains(vols)
		for _, ch := range chains {
			if !ch.Ordered {
				continue
			}
			parents := map[string]string{}
			for _, v := range vols {
				if normImage(v.Image) != ch.Image || v.Initializing || v.Removed {
					continue
				}
				if len(v.ChainErrors) > 0 {
					t.Fatalf("chain %s is ordered although vdsm-tool reported %q", ch.Image, v.ChainErrors)
				}
				if p, ok := parents[v.ID]; ok && p != normParent(v.Parent) {
					t.Fatalf("chain %s is ordered although volume %s has parents %s and %s", ch.Image, v.ID, p, v.Parent)
				}
				parents[v.ID] = normParent(v.Parent)
			}
		}
	})
}
