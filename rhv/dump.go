package rhv

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/changedblocks/sdk/cbt"
)

// ReadDump reads the volumes of a storage domain from the output of
// vdsm-tool dump-volume-chains, text (the default) or JSON (-o json); the
// form is detected. For the text form see readDumpText; the JSON form is
// {"<image>": {"<volume>": {vol-info}}} with vol-info keys capacity, ctime,
// description, disktype, format, generation, sequence, image, legality,
// parent, type, voltype, status, truesize, apparentsize and, on block
// domains, mdslot. Keys the Volume does not model are kept in Extra; a
// missing parent is UnknownParent. Status REMOVED sets Removed. A template
// volume that vdsm-tool lists under each image based on it is returned
// once. Volumes keep the order of the output. The dump carries vdsm-tool's
// chain analysis only as text; BuildChains redoes it.
//
// Errors: cbt.ErrCorrupt for input in neither form, JSON whose values are
// not of the types above, more than MaxRESTSize bytes, or a text line longer
// than 1 MiB; errors of r are wrapped in cbt.ErrCorrupt.
func ReadDump(r io.Reader) ([]Volume, error) {
	data, err := readAllLimited(r, MaxRESTSize, dumpWhat)
	if err != nil {
		return nil, err
	}
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		return readDumpJSON(t)
	}
	return readDumpText(data)
}

// dumpEntry is one volume line of the text form, in the image group it was
// printed under.
type dumpEntry struct {
	group string
	vol   Volume
}

// readDumpText reads the text form:
//
//	image:    <image>
//	          - <volume>                          (a good chain, base first)
//	            status: OK, voltype: LEAF, format: COW, legality: LEGAL, type: SPARSE, capacity: N, truesize: N
//	          Error: <description>                (a broken chain)
//	          Unordered volumes and children:
//	          - <parent> <- <volume>
//	            status: ...
//
// and its older variants: no capacity and truesize, no "Error: " prefix,
// the heading "Volumes and children:"; "(missing)" values are left unset,
// "(no images found)" gives no volume. In a good chain each volume's parent
// is the one printed before it (BlankUUID for the first).
func readDumpText(data []byte) ([]Volume, error) {
	d := dumpText{groupErrs: make(map[string][]string), ordered: true, last: -1}
	sc := lineScanner(bytes.NewReader(data))
	for sc.Scan() {
		d.line(strings.TrimSpace(sc.Text()))
	}
	if err := sc.Err(); err != nil {
		return nil, scanError(err, dumpWhat, 0)
	}
	return d.volumes()
}

// dumpWhat names vdsm-tool's output in errors.
const dumpWhat = "vdsm-tool dump-volume-chains output"

// dumpText is the state of readDumpText between two lines.
type dumpText struct {
	entries    []dumpEntry
	groupErrs  map[string][]string // chain errors printed per image group
	groups     []string            // in order, each once
	group      string              // the image group of the lines read
	prev       string              // the volume printed last in the group
	ordered    bool                // the group's volumes are printed as a chain
	recognized bool                // a line only vdsm-tool prints was read
	last       int                 // entry the next info line describes
}

// line reads one line, trimmed.
func (d *dumpText) line(line string) {
	switch {
	case line == "":
	case line == "(no images found)", line == "Images volume chains (base volume first)":
		d.recognized = true
	case strings.HasPrefix(line, "image:"):
		d.group = strings.TrimSpace(strings.TrimPrefix(line, "image:"))
		if _, ok := d.groupErrs[d.group]; !ok {
			d.groups = append(d.groups, d.group)
			d.groupErrs[d.group] = nil
		}
		d.prev, d.ordered, d.last, d.recognized = BlankUUID, true, -1, true
	case d.group == "":
		// text before the first image (a banner, a log line)
	case strings.HasPrefix(line, "Error:"), dumpErrorKind(line) != "":
		desc := strings.TrimSpace(strings.TrimPrefix(line, "Error:"))
		if desc == "" {
			desc = "Error: (no description)"
		}
		d.groupErrs[d.group] = appendOnce(d.groupErrs[d.group], desc)
		d.ordered, d.last = false, -1
	case strings.EqualFold(line, "Unordered volumes and children:"), strings.EqualFold(line, "Volumes and children:"):
		if len(d.groupErrs[d.group]) == 0 {
			// The heading of a broken chain without its error line.
			d.groupErrs[d.group] = append(d.groupErrs[d.group], "vdsm-tool listed the volumes as "+strings.TrimSuffix(line, ":")+" (a chain error whose description is missing)")
		}
		d.ordered, d.last = false, -1
	case strings.HasPrefix(line, "- "):
		d.volumeLine(strings.TrimSpace(line[2:]))
	case d.last >= 0 && strings.HasPrefix(line, "status:"):
		applyDumpInfo(&d.entries[d.last].vol, line)
		d.last = -1
	}
}

// volumeLine reads the body of a volume line: "<volume>" in a good chain,
// "<parent> <- <volume>" in a broken one.
func (d *dumpText) volumeLine(body string) {
	v := Volume{MDSlot: -1}
	if parent, child, ok := strings.Cut(body, " <- "); ok {
		v.Parent, v.ID = strings.TrimSpace(parent), strings.TrimSpace(child)
		d.ordered = false
	} else {
		v.ID = body
		v.Parent = d.prev
		if !d.ordered {
			v.Parent = UnknownParent
		}
	}
	if v.ID == "" || strings.ContainsAny(v.ID, " \t") {
		d.last = -1
		return
	}
	d.prev = v.ID
	d.entries = append(d.entries, dumpEntry{group: d.group, vol: v})
	d.last = len(d.entries) - 1
}

// volumes returns the volumes read, each with its image's chain errors.
func (d *dumpText) volumes() ([]Volume, error) {
	if !d.recognized {
		return nil, readErrorf(cbt.ErrCorrupt, dumpWhat, "no \"image:\" line nor \"(no images found)\": give the output of vdsm-tool dump-volume-chains <sd-uuid> (text or -o json)")
	}
	listed := make(map[string]bool, len(d.groups))
	for _, e := range d.entries {
		listed[e.group] = true
	}
	for _, g := range d.groups {
		if errs := d.groupErrs[g]; len(errs) > 0 && !listed[g] {
			return nil, readErrorf(cbt.ErrCorrupt, dumpWhat, "image %s: vdsm-tool reported %q but no volume follows: the output is cut; give all of it", clip(g, 80), clip(errs[0], 200))
		}
	}
	for i := range d.entries {
		d.entries[i].vol.ChainErrors = d.groupErrs[d.entries[i].group]
	}
	return dumpTextVolumes(d.entries), nil
}

// appendOnce appends s to list unless it holds it already.
func appendOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// dumpTextVolumes returns each volume once with its image. vdsm-tool prints
// a template's volume under its own image and under each image based on it;
// its own image is the group where no volume has it as parent. A volume
// listed with different parents (which vdsm-tool never prints: an edited or
// spliced output) is returned once per parent, so that BuildChain reports it.
func dumpTextVolumes(entries []dumpEntry) []Volume {
	groupsOf := make(map[string][]int)
	parentIn := make(map[[2]string]bool) // {group, volume} is some volume's parent there
	for i, e := range entries {
		groupsOf[e.vol.ID] = append(groupsOf[e.vol.ID], i)
		parentIn[[2]string{e.group, e.vol.Parent}] = true
	}
	var vols []Volume
	done := make(map[[2]string]bool) // {volume, parent} returned
	for _, e := range entries {
		id := e.vol.ID
		key := [2]string{id, normParent(e.vol.Parent)}
		if done[key] {
			continue
		}
		done[key] = true
		pick := -1
		for _, i := range groupsOf[id] {
			if normParent(entries[i].vol.Parent) != key[1] {
				continue
			}
			if pick < 0 {
				pick = i
			}
			if !parentIn[[2]string{entries[i].group, id}] {
				pick = i
				break
			}
		}
		v := entries[pick].vol
		v.Image = entries[pick].group
		if v.Image == UnknownImage {
			v.Image = ""
		}
		vols = append(vols, v)
	}
	return vols
}

// dumpErrorKind returns the chain error kind whose vdsm-tool description
// the line is (after an optional "Error: " prefix): the one sharing the
// longest prefix with it, of at least 24 characters; "" for another line.
func dumpErrorKind(line string) FindingKind {
	line = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(line, "Error:")))
	best, bestLen := FindingKind(""), 23
	for _, c := range chainErrorKinds {
		k, d := c.kind, strings.ToLower(c.desc)
		n := 0
		for n < len(d) && n < len(line) && d[n] == line[n] {
			n++
		}
		if n > bestLen {
			best, bestLen = k, n
		}
	}
	return best
}

// applyDumpInfo sets the fields an info line "status: OK, voltype: LEAF, ..."
// gives.
func applyDumpInfo(v *Volume, line string) {
	for _, pair := range strings.Split(line, ", ") {
		key, val, ok := strings.Cut(pair, ": ")
		if !ok {
			continue
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if val == "(missing)" {
			continue
		}
		setDumpField(v, key, val)
	}
}

// setDumpField sets the field key of a vol-info (text or JSON) to val.
func setDumpField(v *Volume, key, val string) {
	num := func(dst *int64) {
		if n, err := strconv.ParseInt(val, 10, 64); err == nil {
			*dst = n
		} else {
			v.Problems = append(v.Problems, fmt.Sprintf("%s %q is not an integer", key, clip(val, 40)))
		}
	}
	switch key {
	case "status":
		v.Status = val
		if val == StatusRemoved {
			v.Removed = true
		}
	case "voltype":
		v.Role = Role(val)
	case "format":
		v.Format = Format(val)
	case "legality":
		v.Legality = Legality(val)
	case "type":
		v.Type = val
	case "capacity":
		num(&v.Capacity)
	case "ctime":
		num(&v.CTime)
	case "generation":
		num(&v.Generation)
	case "sequence":
		num(&v.Sequence)
	case "description":
		v.Description = val
	case "parent":
		v.Parent = val
	case "image":
		v.Image = val
	case "mdslot":
		if n, err := strconv.Atoi(val); err == nil && n >= 0 {
			v.MDSlot = n
		}
	default:
		if v.Extra == nil {
			v.Extra = make(map[string]string)
		}
		v.Extra[key] = val
	}
}
