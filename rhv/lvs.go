package rhv

import (
	"bytes"
	"encoding/json"
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

// vdsmLVColumns is the column list vdsm passes to lvs -o (lvm.py LV_FIELDS).
var vdsmLVColumns = []string{"uuid", "name", "vg_name", "attr", "size", "seg_start_pe", "devices", "tags"}

// lvsHeadings maps the headings lvs prints to the column names vdsm uses.
var lvsHeadings = map[string]string{
	"LV UUID": "uuid", "LV": "name", "VG": "vg_name", "Attr": "attr", "LSize": "size",
	"Start": "seg_start_pe", "Devices": "devices", "LV Tags": "tags",
}

// lvsForms is what an error about unreadable lvs output says is expected.
const lvsForms = `give the output of lvs on the host, in one of these forms:
  vdsm's: lvs --noheadings --units b --nosuffix --separator '|' -o uuid,name,vg_name,attr,size,seg_start_pe,devices,tags
    e.g. "  Hx2r1e-aaaa-bbbb-cccc-dddd-eeee-ffffff|0574c3f6-3d44-4cc7-98e3-6d90626dd95f|3386c6f2-926f-42c4-839c-38287fac8998|-wi-a-----|2147483648|0|/dev/mapper/36001405a1b2c3d4(195)|IU_ae863f0d-0f24-41d4-b6ed-333c6634c7dc,MD_17,PU_00000000-0000-0000-0000-000000000000"
  lvs -o +tags (any units, with or without its heading line, or lines of it kept by grep), or -o with other columns that include name and tags,
    e.g. "  0574c3f6-3d44-4cc7-98e3-6d90626dd95f 3386c6f2-926f-42c4-839c-38287fac8998 -wi------- 2.00g IU_ae863f0d-0f24-41d4-b6ed-333c6634c7dc,MD_17,PU_00000000-0000-0000-0000-000000000000"
  the same with --separator '|', --nameprefixes, or --reportformat json`

// ReadLVs reads the volumes of block domains from the output of lvs, in any
// of the forms a host prints:
//
//   - vdsm's: lvs --noheadings --units b --nosuffix --separator '|'
//     -o uuid,name,vg_name,attr,size,seg_start_pe,devices,tags;
//   - any column list with --separator '|' and its heading line;
//   - the aligned table of lvs -o +tags (or -o with other columns), with its
//     heading line, in any units;
//   - lines without a heading: what --noheadings prints, or lines of a table
//     kept by grep (lvs -o +tags | grep IMAGE), aligned or '|'-separated.
//     Their columns are found by content: the tags are the field holding
//     vdsm's tags, the LV name the first field shaped like a UUID and the VG
//     name the second (lvs prints LV before VG; a PU_ tag naming the other
//     column turns this around), else the first two fields;
//   - --nameprefixes (LVM2_LV_NAME='...' ...), quoted or not;
//   - --reportformat json or json_std ({"report": [{"lv": [...]}]}).
//
// Leading spaces, lvm's warnings and a shell prompt line with the command
// are skipped; the sizes are not read, so their units do not matter.
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
// Errors: cbt.ErrCorrupt, with the forms expected and an example line, for
// input that holds no LV (empty, blank, only a heading), LVs none of which
// carries vdsm's tags and none of which is a domain's special LV (not the
// lvs of a block domain, or without -o +tags), a heading without a tags
// column, a separator line with fewer fields than its heading, JSON not of
// lvs's report form, more than MaxRESTSize bytes, or a line longer than
// 1 MiB; errors of r are wrapped in cbt.ErrCorrupt.
func ReadLVs(r io.Reader) ([]Volume, error) {
	data, err := readAllLimited(r, MaxRESTSize, "lvs output")
	if err != nil {
		return nil, err
	}
	t := bytes.TrimSpace(data)
	if len(t) == 0 {
		return nil, readErrorf(cbt.ErrCorrupt, "lvs output", "it is empty: %s", lvsForms)
	}
	var rd lvsReader
	if t[0] == '{' {
		err = rd.json(t)
	} else {
		err = rd.text(data)
	}
	if err != nil {
		return nil, err
	}
	if rd.tagged == 0 && !rd.domain {
		what := "no LV line"
		if rd.lines > 0 {
			what = fmt.Sprintf("%d LV line(s), none with vdsm's tags (IU_, PU_, MD_) and no special LV of a domain (metadata, ids, leases): not the lvs of an oVirt block domain, or run without -o +tags", rd.lines)
		}
		return nil, readErrorf(cbt.ErrCorrupt, "lvs output", "it holds %s: %s", what, lvsForms)
	}
	return lvsVolumes(rd.rows), nil
}

// lvsRow is one LV line of lvs output.
type lvsRow struct {
	uuid, name, vg, tags string
	headless             bool // its columns were found by content
	// uuids are the fields shaped like a UUID, for a headless row.
	uuids []string
}

// lvsReader collects the rows of lvs output.
type lvsReader struct {
	rows    []lvsRow
	lines   int  // LV lines read
	tagged  int  // LV lines with a vdsm tag
	domain  bool // a special LV of a block domain was listed
	cols    []string
	aligned lvsAligned
}

// add records a row.
func (rd *lvsReader) add(r lvsRow) {
	rd.lines++
	if hasVdsmTag(r.tags) {
		rd.tagged++
	}
	if specialLVs[r.name] {
		rd.domain = true
	}
	rd.rows = append(rd.rows, r)
}

// text reads the text forms.
func (rd *lvsReader) text(data []byte) error {
	sc := lineScanner(bytes.NewReader(data))
	rd.aligned.tags = -1
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if line == "" || lvmNoise(line) {
			continue
		}
		switch {
		case strings.Contains(line, "LVM2_"):
			if r, ok := lvsNamePrefixes(line); ok {
				rd.add(r)
				continue
			}
		case strings.Contains(line, "|"):
			if err := rd.separated(line, lineNo); err != nil {
				return err
			}
			continue
		}
		if rd.aligned.tags < 0 && rd.cols == nil && lvsAlignedHeading(line) {
			if err := rd.aligned.heading(line); err != nil {
				return readErrorf(cbt.ErrCorrupt, "lvs output", "line %d: %v: %s", lineNo, err, lvsForms)
			}
			continue
		}
		if rd.aligned.tags >= 0 {
			rd.add(rd.aligned.row(line))
			continue
		}
		rd.add(lvsContentRow(strings.Fields(line)))
	}
	if err := sc.Err(); err != nil {
		return scanError(err, "lvs output", lineNo+1)
	}
	rd.orientHeadless()
	return nil
}

// separated reads a line with '|' separators: a heading, a row under a
// heading, a row of vdsm's form, or a row of other columns without heading.
func (rd *lvsReader) separated(line string, lineNo int) error {
	fields := splitTrim(line, "|")
	if rd.cols == nil {
		if named, ok := lvsHeadingColumns(fields); ok {
			rd.cols = named
			return nil
		}
	}
	if rd.cols != nil {
		fields = splitTrimN(line, "|", len(rd.cols))
		if len(fields) < len(rd.cols) {
			return readErrorf(cbt.ErrCorrupt, "lvs output", "line %d has %d columns, the heading %d (%s)", lineNo, len(fields), len(rd.cols), strings.Join(rd.cols, ","))
		}
		r := lvsRow{}
		for i, c := range rd.cols {
			switch c {
			case "uuid":
				r.uuid = fields[i]
			case "name":
				r.name = fields[i]
			case "vg_name":
				r.vg = fields[i]
			case "tags":
				r.tags = fields[i]
			}
		}
		rd.add(r)
		return nil
	}
	if len(fields) >= len(vdsmLVColumns) && !looksLikeUUID(fields[0]) {
		// vdsm's form: lvm's own LV UUID first, then name, VG, ..., tags.
		f := splitTrimN(line, "|", len(vdsmLVColumns))
		rd.add(lvsRow{uuid: f[0], name: f[1], vg: f[2], tags: f[7]})
		return nil
	}
	rd.add(lvsContentRow(fields))
	return nil
}

// lvsContentRow finds the columns of a row without heading by content.
func lvsContentRow(fields []string) lvsRow {
	r := lvsRow{headless: true}
	tagsAt := -1
	for i, f := range fields {
		if hasVdsmTag(f) {
			tagsAt, r.tags = i, f
			break
		}
	}
	var rest []string
	for i, f := range fields {
		if i == tagsAt || f == "" {
			continue
		}
		rest = append(rest, f)
		if looksLikeUUID(f) {
			r.uuids = append(r.uuids, f)
		}
	}
	switch {
	case len(r.uuids) > 0:
		r.name = r.uuids[0]
		if len(r.uuids) > 1 {
			r.vg = r.uuids[1]
		}
	case len(rest) > 0:
		r.name = rest[0]
		if len(rest) > 1 && !strings.HasPrefix(rest[1], "-") {
			r.vg = rest[1] // not the Attr column
		}
	}
	if len(rest) > 0 && specialLVs[rest[0]] {
		r.name = rest[0] // a special LV of the domain: its VG is the UUID
		if len(r.uuids) > 0 {
			r.vg = r.uuids[0]
		}
	}
	return r
}

// orientHeadless turns the LV and VG columns of the rows without heading
// around when the PU_ tags name the second UUID column rather than the first
// (the columns were given VG first).
func (rd *lvsReader) orientHeadless() {
	first, second := map[string]bool{}, map[string]bool{}
	for _, r := range rd.rows {
		if r.headless && len(r.uuids) >= 2 {
			first[r.uuids[0]], second[r.uuids[1]] = true, true
		}
	}
	votes := 0
	for _, r := range rd.rows {
		if !r.headless {
			continue
		}
		p := tagValue(r.tags, tagParent)
		switch {
		case p == "" || p == BlankUUID:
		case first[p] && !second[p]:
			votes--
		case second[p] && !first[p]:
			votes++
		}
	}
	if votes <= 0 {
		return
	}
	for i := range rd.rows {
		if r := &rd.rows[i]; r.headless && len(r.uuids) >= 2 && r.name == r.uuids[0] {
			r.name, r.vg = r.uuids[1], r.uuids[0]
		}
	}
}

// json reads lvs --reportformat json (or json_std).
func (rd *lvsReader) json(data []byte) error {
	var doc struct {
		Report []struct {
			LV []map[string]any `json:"lv"`
		} `json:"report"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return readErrorf(cbt.ErrCorrupt, "lvs output", "JSON that is not lvs --reportformat json: %v: %s", err, lvsForms)
	}
	hasTags := false
	for _, rep := range doc.Report {
		for _, lv := range rep.LV {
			_, ok := lv["lv_tags"]
			hasTags = hasTags || ok
			rd.add(lvsRow{uuid: jsonString(lv["lv_uuid"]), name: jsonString(lv["lv_name"]), vg: jsonString(lv["vg_name"]), tags: jsonString(lv["lv_tags"])})
		}
	}
	if rd.lines > 0 && !hasTags {
		return readErrorf(cbt.ErrCorrupt, "lvs output", "the JSON report has no lv_tags field: run lvs --reportformat json -o +tags")
	}
	return nil
}

// jsonString returns a JSON value of lvs's report as text: a string, a
// number, or a list of strings (json_std's tags) joined with commas.
func jsonString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, ",")
	}
	return ""
}

// lvsNamePrefixes reads a line of lvs --nameprefixes: KEY='value' pairs
// (KEY=value with --unquoted); ok is false when the line holds no LV name.
func lvsNamePrefixes(line string) (lvsRow, bool) {
	var r lvsRow
	rest := line
	for rest != "" {
		rest = strings.TrimLeft(rest, " \t")
		key, after, found := strings.Cut(rest, "=")
		if !found {
			break
		}
		var val string
		if strings.HasPrefix(after, "'") {
			end := strings.IndexByte(after[1:], '\'')
			if end < 0 {
				val, rest = after[1:], ""
			} else {
				val, rest = after[1:1+end], after[2+end:]
			}
		} else {
			val, rest, _ = strings.Cut(after, " ")
		}
		switch key {
		case "LVM2_LV_NAME":
			r.name = val
		case "LVM2_VG_NAME":
			r.vg = val
		case "LVM2_LV_TAGS":
			r.tags = val
		case "LVM2_LV_UUID":
			r.uuid = val
		}
	}
	return r, r.name != ""
}

// hasVdsmTag reports whether a comma-separated tag list holds a tag vdsm
// sets on volumes.
func hasVdsmTag(tags string) bool {
	for t := range strings.SplitSeq(tags, ",") {
		t = strings.TrimSpace(t)
		if t == tagInit || strings.HasPrefix(t, tagMD) || strings.HasPrefix(t, tagImage) || strings.HasPrefix(t, tagParent) {
			return true
		}
	}
	return false
}

// tagValue returns the value of the first tag with prefix in tags.
func tagValue(tags, prefix string) string {
	for t := range strings.SplitSeq(tags, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(t), prefix); ok {
			return v
		}
	}
	return ""
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

// lvsAlignedHeading reports whether line is the heading of lvs's aligned
// table: it has the word LV and another heading word.
func lvsAlignedHeading(line string) bool {
	words := strings.Fields(line)
	hasLV, other := false, false
	for _, w := range words {
		switch w {
		case "LV":
			hasLV = true
		case "VG", "Attr", "LSize", "Tags", "UUID":
			other = true
		}
	}
	return hasLV && other
}

// lvsAligned reads the aligned table of lvs -o +tags under its heading.
type lvsAligned struct {
	tags   int // byte offset of the "LV Tags" heading; -1 before the heading
	lv, vg int // word index of the LV and VG columns
}

func (a *lvsAligned) heading(line string) error {
	a.tags = -1
	tagsAt := strings.Index(line, "LV Tags")
	if tagsAt < 0 {
		return errors.New("an lvs heading without the \"LV Tags\" column (run lvs -o +tags)")
	}
	words := strings.Fields(strings.ReplaceAll(strings.ReplaceAll(line, "LV Tags", "LV_Tags"), "LV UUID", "LV_UUID"))
	a.lv, a.vg = -1, -1
	for i, w := range words {
		switch w {
		case "LV":
			a.lv = i
		case "VG":
			a.vg = i
		}
		// LV, VG, Attr, LSize and LV UUID are never blank; a blank column
		// before LV or VG would shift the words of a row.
		if (a.lv < 0 || a.vg < 0) && !neverBlank[w] {
			return fmt.Errorf("the LV and VG columns must come before %q (run lvs -o +tags)", w)
		}
	}
	if a.lv < 0 || a.vg < 0 {
		return errors.New("the heading has no LV or VG column (run lvs -o +tags)")
	}
	a.tags = tagsAt
	return nil
}

// row reads a row of the table: LV and VG by position, the tags by content
// (the word holding vdsm's tags; none for an LV without them).
func (a *lvsAligned) row(line string) lvsRow {
	words := strings.Fields(line)
	get := func(i int) string {
		if i >= 0 && i < len(words) {
			return words[i]
		}
		return ""
	}
	r := lvsRow{name: get(a.lv), vg: get(a.vg)}
	for i, w := range words {
		if i != a.lv && i != a.vg && hasVdsmTag(w) {
			r.tags = w
			break
		}
	}
	return r
}

// lvsVolumes turns rows into volumes.
func lvsVolumes(rows []lvsRow) []Volume {
	seen := make(map[string]bool)
	var vols []Volume
	for _, row := range rows {
		name, vg := row.name, row.vg
		if name == "" || specialLVs[name] {
			continue
		}
		key := row.uuid
		if key == "" {
			key = vg + "/" + name
		}
		if seen[key] {
			continue // another segment of the same LV
		}
		seen[key] = true
		v, ok := volumeFromTags(name, row.tags)
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
	if strings.Contains(line, "WARNING") || strings.Contains(line, "leaked on") {
		return true
	}
	// A shell prompt line with the command pasted along: "# lvs -o +tags".
	for _, w := range strings.Fields(line) {
		if w == "lvs" || strings.HasSuffix(w, "/lvs") {
			return true
		}
	}
	return false
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
