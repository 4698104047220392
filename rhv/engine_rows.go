package rhv

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/changedblocks/sdk/cbt"
)

// engineImageStatus names the engine's ImageStatus values.
var engineImageStatus = map[string]string{"0": "Unassigned", "1": "OK", "2": "LOCKED", "4": "ILLEGAL"}

// engineVolumeType and engineVolumeFormat name the engine's VolumeType and
// VolumeFormat values (vdsm's numbers: constants.py).
var (
	engineVolumeType   = map[string]string{"1": "PREALLOCATED", "2": "SPARSE"}
	engineVolumeFormat = map[string]Format{"3": FormatUnknown, "4": FormatCOW, "5": FormatRAW}
)

// ReadEngine reads volumes from rows of the engine database's images table
// as psql prints them: the aligned table (a heading line, a line of dashes,
// rows with " | " between columns, a "(N rows)" footer) or the unaligned one
// (psql -A, "|" between columns). Columns are found by their heading, in
// any order; columns this reader does not use are ignored. Needed:
// image_guid (the volume's ID), image_group_id (its Image, the disk) and
// parentid (its Parent). Used when present: imagestatus (0 Unassigned, 1 OK,
// 2 LOCKED, 4 ILLEGAL, into Status; 4 also sets Legality ILLEGAL, the others
// LEGAL), volume_type (1 PREALLOCATED, 2 SPARSE), volume_format (4 COW,
// 5 RAW), size (Capacity) and active (t: the LEAF, f: INTERNAL). Other
// values are kept as they are. The vm_snapshot_id is kept in
// Extra["vm_snapshot_id"]. Volumes keep the order of the rows.
//
// Errors: cbt.ErrCorrupt when no heading names the needed columns, a row
// has fewer columns than the heading, a size is not an integer, or a line
// is longer than 1 MiB; errors of r are wrapped in cbt.ErrCorrupt.
func ReadEngine(r io.Reader) ([]Volume, error) {
	sc := lineScanner(r)
	var idx map[string]int
	var ncols int
	var vols []Volume
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimRight(sc.Text(), "\r")
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "", isPsqlRule(trimmed), isPsqlFooter(trimmed):
			continue
		case idx == nil:
			cols := splitTrim(line, "|")
			idx = make(map[string]int, len(cols))
			for i, c := range cols {
				if _, dup := idx[c]; !dup {
					idx[c] = i
				}
			}
			if missing := missingColumns(idx, "image_guid", "image_group_id", "parentid"); missing != "" {
				if lineNo > 10 {
					return nil, readErrorf(cbt.ErrCorrupt, "engine images rows", "no heading line names the columns %s: print the rows with psql's headings (not -t)", missing)
				}
				idx = nil // not the heading yet (a psql banner, a query echo)
				continue
			}
			ncols = len(cols)
			continue
		}
		fields := splitTrim(line, "|")
		if len(fields) < ncols {
			return nil, readErrorf(cbt.ErrCorrupt, "engine images rows", "line %d has %d columns, the heading %d (a value with a line break? print with psql -A)", lineNo, len(fields), ncols)
		}
		v, err := engineVolume(idx, fields)
		if err != nil {
			return nil, readErrorf(cbt.ErrCorrupt, "engine images rows", "line %d: %v", lineNo, err)
		}
		vols = append(vols, v)
	}
	if err := sc.Err(); err != nil {
		return nil, scanError(err, "engine images rows", lineNo+1)
	}
	if idx == nil {
		return nil, readErrorf(cbt.ErrCorrupt, "engine images rows", "no heading line names the columns image_guid, image_group_id, parentid: select them from the images table with psql (not -t)")
	}
	return vols, nil
}

// engineVolume makes the volume of one row.
func engineVolume(idx map[string]int, row []string) (Volume, error) {
	get := func(col string) string {
		if i, ok := idx[col]; ok {
			return row[i]
		}
		return ""
	}
	v := Volume{ID: get("image_guid"), Image: get("image_group_id"), Parent: get("parentid"), MDSlot: -1}
	if v.ID == "" {
		return v, errors.New("empty image_guid")
	}
	if v.Parent == "" {
		v.Parent = UnknownParent
	}
	if s := get("imagestatus"); s != "" {
		v.Status = named(engineImageStatus, s, s)
		v.Legality = LegalityLegal
		if s == "4" {
			v.Legality = LegalityIllegal
		}
	}
	if s := get("volume_type"); s != "" {
		v.Type = named(engineVolumeType, s, s)
	}
	if s := get("volume_format"); s != "" {
		v.Format = named(engineVolumeFormat, s, Format(s))
	}
	if s := get("size"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return v, fmt.Errorf("size %q is not a byte count", clip(s, 40))
		}
		v.Capacity = n
	}
	switch get("active") {
	case "t", "true", "TRUE", "True":
		v.Role = RoleLeaf
	case "f", "false", "FALSE", "False":
		v.Role = RoleInternal
	}
	if s := get("vm_snapshot_id"); s != "" {
		v.Extra = map[string]string{"vm_snapshot_id": s}
	}
	return v, nil
}

// named returns the name names gives value, or otherwise.
func named[T any](names map[string]T, value string, otherwise T) T {
	if name, ok := names[value]; ok {
		return name
	}
	return otherwise
}

// missingColumns returns the names among want that idx lacks, comma
// separated.
func missingColumns(idx map[string]int, want ...string) string {
	var missing []string
	for _, w := range want {
		if _, ok := idx[w]; !ok {
			missing = append(missing, w)
		}
	}
	return strings.Join(missing, ", ")
}

// isPsqlRule reports whether s is the line psql draws under its heading.
func isPsqlRule(s string) bool {
	return strings.Trim(s, "-+") == "" && strings.Contains(s, "-")
}

// isPsqlFooter reports whether s is psql's "(N rows)" footer.
func isPsqlFooter(s string) bool {
	inner, ok := strings.CutPrefix(s, "(")
	if !ok {
		return false
	}
	inner, ok = strings.CutSuffix(inner, ")")
	if !ok {
		return false
	}
	n, unit, ok := strings.Cut(inner, " ")
	_, err := strconv.Atoi(n)
	return ok && err == nil && (unit == "row" || unit == "rows")
}
