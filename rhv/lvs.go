package rhv

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/changedblocks/sdk/cbt"
)

// LV tags vdsm sets on a block domain's volumes (constants.py).
const (
	tagMD     = "MD_"
	tagImage  = "IU_"
	tagParent = "PU_"
	tagInit   = "OVIRT_VOL_INITIALIZING"
)

// specialLVs are the LVs of a block domain that are not volumes
// (sd.SPECIAL_VOLUMES and master).
var specialLVs = map[string]bool{"metadata": true, "leases": true, "ids": true, "inbox": true, "outbox": true, "xleases": true, "master": true}

// maxLineSize bounds a line of the text the readers take.
const maxLineSize = 1 << 20

// vdsmLVColumns is the column list vdsm passes to lvs -o (lvm.py LV_FIELDS).
var vdsmLVColumns = []string{"uuid", "name", "vg_name", "attr", "size", "seg_start_pe", "devices", "tags"}

// lvsHeadings maps the headings lvs prints to the column names vdsm uses.
var lvsHeadings = map[string]string{
	"LV UUID": "uuid", "LV": "name", "VG": "vg_name", "Attr": "attr", "LSize": "size",
	"Start": "seg_start_pe", "Devices": "devices", "LV Tags": "tags",
}

// ReadLVs reads the volumes of block domains from the output of lvs, in
// either of two forms:
//
//   - vdsm's: lvs --noheadings --units b --nosuffix --separator '|'
//     -o uuid,name,vg_name,attr,size,seg_start_pe,devices,tags (a heading
//     line, if there is one, names the columns instead);
//   - the default aligned table of lvs -o +tags, with its heading line.
//
// Each LV is one volume: the LV name is its ID; the tags give MD_<slot>
// (MDSlot), IU_<image> (Image; IU__remove_me_<image> and
// IU__remove_me_ZERO_<image> set Removed), PU_<parent> (Parent and
// ParentTag), and OVIRT_VOL_INITIALIZING (Initializing); the first tag of
// each prefix counts, as in vdsm. The VG name is kept as Extra["DOMAIN"].
// The domain's special LVs (metadata, leases, ids, inbox, outbox, xleases,
// master) and LVs without any vdsm tag (the host's own) are skipped; an LV
// listed once per segment is read once. Volumes keep the order of the
// output. Use ReadMetadataSlots to complete them from their metadata.
//
// Errors: cbt.ErrCorrupt for output in neither form, or a line longer
// than 1 MiB; errors of r are wrapped in cbt.ErrCorrupt.
func ReadLVs(r io.Reader) ([]Volume, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, maxLineSize)
	var rows [][]string // columns named by cols
	var cols []string
	aligned := lvsAligned{tags: -1}
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimRight(sc.Text(), " \t\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		switch {
		case cols == nil && aligned.tags < 0 && strings.Contains(line, "|"):
			fields := splitTrim(line, "|")
			if named, ok := lvsHeadingColumns(fields); ok {
				cols = named
				continue
			}
			cols = vdsmLVColumns
			fields = splitTrimN(line, "|", len(cols))
			if len(fields) < len(cols) {
				return nil, readErrorf(cbt.ErrCorrupt, "lvs output", "line %d has %d columns, vdsm's form has %d (%s): run lvs as vdsm does, or with a heading line", lineNo, len(fields), len(cols), strings.Join(cols, ","))
			}
			rows = append(rows, fields)
		case cols != nil:
			fields := splitTrimN(line, "|", len(cols))
			if len(fields) < len(cols) {
				return nil, readErrorf(cbt.ErrCorrupt, "lvs output", "line %d has %d columns, the heading %d", lineNo, len(fields), len(cols))
			}
			rows = append(rows, fields)
		case aligned.tags < 0 && lvmNoise(line):
			continue // a warning lvm printed before its table
		case aligned.tags < 0:
			if err := aligned.heading(line); err != nil {
				return nil, readErrorf(cbt.ErrCorrupt, "lvs output", "line %d: %v", lineNo, err)
			}
		default:
			rows = append(rows, aligned.row(line))
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, readErrorf(cbt.ErrCorrupt, "lvs output", "line %d is longer than %d bytes", lineNo+1, maxLineSize)
		}
		return nil, fmt.Errorf("%w: rhv: reading lvs output: %w", cbt.ErrCorrupt, err)
	}
	if cols == nil {
		cols = lvsAlignedColumns
	}
	return lvsVolumes(cols, rows), nil
}

// lvsHeadingColumns maps a heading line of the separator form to column
// names; ok is false when fields is not a heading.
func lvsHeadingColumns(fields []string) ([]string, bool) {
	cols := make([]string, len(fields))
	hasName := false
	for i, f := range fields {
		name, ok := lvsHeadings[f]
		if !ok {
			name = strings.ToLower(f) // a column this reader does not use
		}
		cols[i] = name
		hasName = hasName || name == "name"
	}
	return cols, hasName
}

// lvsAlignedColumns are the columns lvsAligned.row returns.
var lvsAlignedColumns = []string{"name", "vg_name", "attr", "tags"}

// lvsAligned reads the aligned table of lvs -o +tags.
type lvsAligned struct {
	tags    int // byte offset of the "LV Tags" heading; -1 before the heading
	lastTag bool
	lv, vg  int // word index of the LV and VG columns
	attr    int
}

func (a *lvsAligned) heading(line string) error {
	a.tags = -1
	tagsAt := strings.Index(line, "LV Tags")
	if tagsAt < 0 {
		return errors.New("not lvs output: neither vdsm's '|'-separated form nor a heading with \"LV Tags\" (run lvs -o +tags)")
	}
	words := strings.Fields(strings.ReplaceAll(strings.ReplaceAll(line, "LV Tags", "LV_Tags"), "LV UUID", "LV_UUID"))
	a.lv, a.vg, a.attr = -1, -1, -1
	for i, w := range words {
		switch w {
		case "LV":
			a.lv = i
		case "VG":
			a.vg = i
		case "Attr":
			a.attr = i
		}
		// LV, VG, Attr, LSize and LV UUID are never blank; a blank column
		// before LV or VG would shift the words of a row.
		if (a.lv < 0 || a.vg < 0) && !neverBlank[w] {
			return fmt.Errorf("the LV and VG columns must come before %q: run lvs -o +tags", w)
		}
	}
	if a.lv < 0 || a.vg < 0 {
		return errors.New("the heading has no LV or VG column: run lvs -o +tags")
	}
	a.tags = tagsAt
	a.lastTag = words[len(words)-1] == "LV_Tags"
	return nil
}

func (a *lvsAligned) row(line string) []string {
	words := strings.Fields(line)
	get := func(i int) string {
		if i >= 0 && i < len(words) {
			return words[i]
		}
		return ""
	}
	tags := ""
	if a.lastTag && len(words) > max(a.lv, a.vg)+1 {
		last := words[len(words)-1]
		if strings.LastIndex(line, last) >= a.tags-1 {
			tags = last
		}
	} else if !a.lastTag && len(line) > a.tags {
		if f := strings.Fields(line[a.tags:]); len(f) > 0 {
			tags = f[0]
		}
	}
	return []string{get(a.lv), get(a.vg), get(a.attr), tags}
}

// lvsVolumes turns rows of named columns into volumes.
func lvsVolumes(cols []string, rows [][]string) []Volume {
	idx := make(map[string]int, len(cols))
	for i, c := range cols {
		if _, dup := idx[c]; !dup {
			idx[c] = i
		}
	}
	get := func(row []string, col string) string {
		if i, ok := idx[col]; ok && i < len(row) {
			return row[i]
		}
		return ""
	}
	seen := make(map[string]bool)
	var vols []Volume
	for _, row := range rows {
		name, vg := get(row, "name"), get(row, "vg_name")
		if name == "" || specialLVs[name] {
			continue
		}
		key := get(row, "uuid")
		if key == "" {
			key = vg + "/" + name
		}
		if seen[key] {
			continue // another segment of the same LV
		}
		seen[key] = true
		v, ok := volumeFromTags(name, get(row, "tags"))
		if !ok {
			continue
		}
		if vg != "" {
			v.Extra = map[string]string{mdDomain: vg}
		}
		vols = append(vols, v)
	}
	return vols
}

// volumeFromTags returns the volume an LV named name with the
// comma-separated tags describes; ok is false for an LV without vdsm tags.
func volumeFromTags(name, tags string) (v Volume, ok bool) {
	v = Volume{ID: name, Parent: UnknownParent, MDSlot: -1}
	var haveMD, haveImage, haveParent bool
	for _, tag := range strings.Split(tags, ",") {
		tag = strings.TrimSpace(tag)
		switch {
		case tag == tagInit:
			v.Initializing, ok = true, true
		case strings.HasPrefix(tag, tagMD) && !haveMD:
			haveMD, ok = true, true
			slot, err := strconv.Atoi(tag[len(tagMD):])
			if err != nil || slot < 0 {
				v.Problems = append(v.Problems, fmt.Sprintf("LV tag %s has no slot number", clip(tag, 40)))
				continue
			}
			v.MDSlot = slot
		case strings.HasPrefix(tag, tagImage) && !haveImage:
			haveImage, ok = true, true
			img := tag[len(tagImage):]
			if rest, cut := strings.CutPrefix(img, removeMeZ); cut {
				img, v.Removed = rest, true
			} else if rest, cut := strings.CutPrefix(img, removeMe); cut {
				img, v.Removed = rest, true
			}
			v.Image = img
		case strings.HasPrefix(tag, tagParent) && !haveParent:
			haveParent, ok = true, true
			v.ParentTag = tag[len(tagParent):]
			v.Parent = v.ParentTag
		}
	}
	if v.Removed {
		v.Status = StatusRemoved
	}
	if ok && !v.Initializing && (!haveImage || !haveParent) {
		v.Problems = append(v.Problems, "the LV lacks the IU_ or PU_ tag (vdsm skips it: \"lacks minimal tag set\")")
	}
	if len(v.Problems) > 0 && v.Status == "" {
		v.Status = StatusInvalid
	}
	return v, ok
}

// neverBlank are the headings of lvs columns that always have a value.
var neverBlank = map[string]bool{"LV": true, "VG": true, "Attr": true, "LSize": true, "LV_UUID": true}

// lvmNoise reports whether line is a message lvm prints besides its table
// (when stderr was captured too).
func lvmNoise(line string) bool {
	return strings.Contains(line, "WARNING") || strings.Contains(line, "leaked on")
}

// splitTrim splits s at sep and trims the spaces around each field.
func splitTrim(s, sep string) []string { return splitTrimN(s, sep, -1) }

// splitTrimN splits s at sep into at most n fields (all when n < 0) and
// trims the spaces around each field.
func splitTrimN(s, sep string, n int) []string {
	fields := strings.SplitN(s, sep, n)
	for i := range fields {
		fields[i] = strings.TrimSpace(fields[i])
	}
	return fields
}
