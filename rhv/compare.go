package rhv

import "fmt"

// Compare reports where two sources disagree about the same volumes, the
// engine's view against the storage's for example (ovirt-engine PR #524 and
// #403: the DB and the storage drift apart after failed merges). aName and
// bName name the sources in the messages ("engine", "storage").
//
// Findings: MissingVolume for a volume one source lists and the other does
// not (volumes marked for removal or still initializing are not expected
// in the other source and are skipped); for a volume in both,
// ImageMismatch, ParentMismatch (BlankUUID and "" are the same; an
// UnknownParent is not compared), LegalityMismatch and FormatMismatch, each
// only when both sources give the field. Volumes are matched by ID; the
// findings follow the order of a, then of b. To compare one disk, pass the
// volumes of its image only (and a template's).
func Compare(a, b []Volume, aName, bName string) []Finding {
	inA, inB := indexByID(a), indexByID(b)
	var fs []Finding
	add := func(k FindingKind, v Volume, format string, args ...any) {
		fs = append(fs, Finding{Kind: k, Volume: v.ID, Image: normImage(v.Image), Message: fmt.Sprintf(format, args...)})
	}
	for i, va := range a {
		if inA[va.ID] != i {
			continue // listed twice in a
		}
		j, ok := inB[va.ID]
		if !ok {
			if !va.Removed && !va.Initializing {
				add(KindMissingVolume, va, "the volume is in %s but not in %s", aName, bName)
			}
			continue
		}
		vb := b[j]
		if va.Image != "" && vb.Image != "" && va.Image != UnknownImage && vb.Image != UnknownImage && va.Image != vb.Image {
			add(KindImageMismatch, va, "%s puts the volume in image %s, %s in image %s", aName, va.Image, bName, vb.Image)
		}
		pa, pb := normParent(va.Parent), normParent(vb.Parent)
		if pa != UnknownParent && pb != UnknownParent && pa != pb {
			add(KindParentMismatch, va, "%s gives the parent %s, %s the parent %s", aName, pa, bName, pb)
		}
		if va.Legality != "" && vb.Legality != "" && va.Legality != vb.Legality {
			add(KindLegalityMismatch, va, "%s says %s, %s says %s", aName, va.Legality, bName, vb.Legality)
		}
		if known(va.Format) && known(vb.Format) && va.Format != vb.Format {
			add(KindFormatMismatch, va, "%s says %s, %s says %s", aName, va.Format, bName, vb.Format)
		}
	}
	for j, vb := range b {
		if inB[vb.ID] != j {
			continue
		}
		if _, ok := inA[vb.ID]; !ok && !vb.Removed && !vb.Initializing {
			add(KindMissingVolume, vb, "the volume is in %s but not in %s", bName, aName)
		}
	}
	return fs
}

// indexByID maps each volume ID to the index of its first occurrence.
func indexByID(vols []Volume) map[string]int {
	m := make(map[string]int, len(vols))
	for i, v := range vols {
		if _, ok := m[v.ID]; !ok {
			m[v.ID] = i
		}
	}
	return m
}

func known(f Format) bool { return f != "" && f != FormatUnknown }
