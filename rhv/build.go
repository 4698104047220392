package rhv

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// BuildChain builds the chain of the image (disk) image from vols, which
// may hold the volumes of other images too, and validates it.
//
// The chain follows each volume's Parent (for volumes read from storage,
// the metadata PUUID, vdsm's truth), as vdsm-tool dump-volume-chains does:
// a volume whose parent is in another image (a template's volume) is
// pulled into the chain; volumes still initializing or marked for removal
// are left out of it (and reported). When the chain is a single line from
// a volume with parent BlankUUID (or "") to a leaf, Chain.Volumes holds it
// base first and Ordered is true. Otherwise the chain errors are reported
// as vdsm-tool names them, with its precedence: UnknownImageError (image is
// UnknownImage or ""), UnknownParentError, DuplicateParentError,
// NoBaseVolume, OrphanVolumes; a cycle of parents is also a ChainLoopError.
// Chain.Volumes then holds the volumes in the order of vols and Ordered is
// false. It never loops, whatever the parents.
//
// The findings also cover each volume: ILLEGAL or LOCKED, initializing,
// marked for removal, a PU_ tag that disagrees with the metadata parent,
// invalid or cleared metadata, a volume listed twice with different facts;
// and in an ordered chain a top that is not the LEAF (or a LEAF below it)
// and a RAW volume above the base. An image without volumes in vols gives
// an empty chain, not ordered, and no finding.
func BuildChain(image string, vols []Volume) (Chain, []Finding) {
	image = normImage(image)
	var members []Volume
	for _, v := range vols {
		if normImage(v.Image) == image {
			members = append(members, v)
		}
	}
	return buildChain(image, members, liveByID(vols))
}

// buildChain is BuildChain over the volumes of image (members) and an
// index of every live volume by ID (for template parents).
func buildChain(image string, members []Volume, byID map[string]Volume) (Chain, []Finding) {
	ch := Chain{Image: image}
	var findings []Finding
	add := func(k FindingKind, vol, msg string) {
		findings = append(findings, Finding{Kind: k, Volume: vol, Image: image, Message: msg})
	}

	var live, aside []Volume
	forked := false               // a volume listed with two parents
	first := make(map[string]int) // ID -> index in live
	for _, v := range members {
		if v.Initializing || v.Removed {
			aside = append(aside, v)
			continue
		}
		if i, dup := first[v.ID]; dup {
			switch p0, p1 := normParent(live[i].Parent), normParent(v.Parent); {
			case p0 != p1:
				add(KindDuplicateVolume, v.ID, fmt.Sprintf("the source lists this volume twice with different parents (%s and %s): which one is its parent cannot be told, so the chain is not ordered; check the volume's metadata on the host", p0, p1))
				forked = true
			case !reflect.DeepEqual(live[i], v):
				add(KindDuplicateVolume, v.ID, "the source lists this volume twice with different facts; the first is used")
			}
			continue
		}
		first[v.ID] = len(live)
		live = append(live, v)
	}
	own := len(live)
	live = append(live, templateParents(image, live, byID, first)...)
	ch.Volumes = live

	chainErr := chainErrors(image, live, add)
	if reportedChainErrors(members, findings, add) {
		chainErr = true
	}
	if !chainErr && !forked && len(live) > 0 {
		ch.Volumes, ch.Ordered = orderChain(live), true
	}
	for _, v := range append(live[:len(live):len(live)], aside...) {
		for _, f := range volumeFindings(v) {
			add(f.Kind, v.ID, f.Message)
		}
	}
	if ch.Ordered {
		findings = append(findings, orderedFindings(ch, own, live)...)
	}
	return ch, findings
}

// BuildChains builds the chain of every image in vols, in the order the
// images first appear; volumes without an image go to the chain of
// UnknownImage. Findings are those of BuildChain for each image, each once
// (a template's volume belongs to several chains).
func BuildChains(vols []Volume) ([]Chain, []Finding) {
	var images []string
	members := make(map[string][]Volume)
	for _, v := range vols {
		img := normImage(v.Image)
		if _, ok := members[img]; !ok {
			images = append(images, img)
		}
		members[img] = append(members[img], v)
	}
	byID := liveByID(vols)
	var chains []Chain
	var findings []Finding
	once := make(map[[3]string]bool)
	for _, img := range images {
		ch, fs := buildChain(img, members[img], byID)
		chains = append(chains, ch)
		for _, f := range fs {
			key := [3]string{string(f.Kind), f.Volume, f.Message}
			if f.Volume != "" && once[key] {
				continue
			}
			once[key] = true
			findings = append(findings, f)
		}
	}
	return chains, findings
}

// reportedChainErrors adds a finding for each chain error the source
// printed for the volumes (Volume.ChainErrors) that the findings so far do
// not hold under the same kind, and reports whether there was any.
func reportedChainErrors(members []Volume, findings []Finding, add func(FindingKind, string, string)) bool {
	found := make(map[FindingKind]bool, len(findings))
	for _, f := range findings {
		found[f.Kind] = true
	}
	seen := make(map[string]bool)
	reported := false
	for _, v := range members {
		for _, e := range v.ChainErrors {
			reported = true
			if seen[e] {
				continue
			}
			seen[e] = true
			k := dumpErrorKind(e)
			if k != "" && found[k] {
				continue // the same error, found in the volumes too
			}
			msg := fmt.Sprintf("vdsm-tool dump-volume-chains reported %q for this image; the chain is not used: check it on the host (the volumes' metadata, and vdsm-tool's whole output)", clip(e, 300))
			if k == "" {
				k = KindReportedChainError
			}
			add(k, "", msg)
		}
	}
	return reported
}

// normImage returns UnknownImage for an empty image.
func normImage(image string) string {
	if image == "" {
		return UnknownImage
	}
	return image
}

// normParent returns BlankUUID for an empty parent.
func normParent(p string) string {
	if p == "" {
		return BlankUUID
	}
	return p
}

// templateParents returns the volumes of other images that volumes of live
// have as parents (a template's base volume), each once, as vdsm-tool pulls
// them into the image's group.
func templateParents(image string, live []Volume, byID map[string]Volume, first map[string]int) []Volume {
	var pulled []Volume
	for _, v := range live {
		p := normParent(v.Parent)
		if p == BlankUUID || p == UnknownParent {
			continue
		}
		if _, ok := first[p]; ok {
			continue
		}
		if t, ok := byID[p]; ok && normImage(t.Image) != image {
			first[p] = len(live) + len(pulled)
			pulled = append(pulled, t)
		}
	}
	return pulled
}

// liveByID indexes the volumes neither initializing nor removed by ID, the
// first of each.
func liveByID(vols []Volume) map[string]Volume {
	m := make(map[string]Volume, len(vols))
	for _, v := range vols {
		if v.Initializing || v.Removed {
			continue
		}
		if _, ok := m[v.ID]; !ok {
			m[v.ID] = v
		}
	}
	return m
}

// chainErrors adds the chain errors of the volumes vols of image, as
// vdsm-tool finds them, and any cycle of parents; it reports whether there
// was one.
func chainErrors(image string, vols []Volume, add func(FindingKind, string, string)) bool {
	if len(vols) == 0 {
		return false
	}
	bad := false
	switch {
	case image == UnknownImage:
		for _, v := range vols {
			add(KindUnknownImage, v.ID, KindUnknownImage.Description()+": no source gives the image of this volume")
		}
		bad = true
	case hasUnknownParent(vols):
		for _, v := range vols {
			if v.Parent == UnknownParent {
				add(KindUnknownParent, v.ID, KindUnknownParent.Description()+": no source gives the parent of this volume")
			}
		}
		bad = true
	default:
		bad = vdsmChainErrors(image, vols, add)
	}
	if loops(vols, add) {
		bad = true
	}
	return bad
}

func hasUnknownParent(vols []Volume) bool {
	for _, v := range vols {
		if v.Parent == UnknownParent {
			return true
		}
	}
	return false
}

// vdsmChainErrors is vdsm-tool's _build_volume_chain: a parent with two
// children, no base, or volumes the walk from the base does not reach.
func vdsmChainErrors(image string, vols []Volume, add func(FindingKind, string, string)) bool {
	children := make(map[string][]string)
	var parents []string
	for _, v := range vols {
		p := normParent(v.Parent)
		if _, ok := children[p]; !ok {
			parents = append(parents, p)
		}
		children[p] = append(children[p], v.ID)
	}
	dup := false
	for _, p := range parents {
		if c := children[p]; len(c) > 1 {
			add(KindDuplicateParent, p, fmt.Sprintf("%s: %s is the parent of %s", KindDuplicateParent.Description(), p, strings.Join(c, ", ")))
			dup = true
		}
	}
	if dup {
		return true
	}
	reached := make(map[string]bool)
	for p := BlankUUID; ; {
		c, ok := children[p]
		if !ok || reached[c[0]] {
			break
		}
		reached[c[0]] = true
		p = c[0]
	}
	if len(reached) == 0 {
		msg := fmt.Sprintf("%s: none of the %d volumes of image %s has the parent %s", KindNoBaseVolume.Description(), len(vols), image, BlankUUID)
		if missing := missingParents(vols); len(missing) > 0 {
			msg += fmt.Sprintf("; the parent %s is not among the volumes given (if it is a template's volume, give the template image's volumes too)", strings.Join(missing, ", "))
		}
		add(KindNoBaseVolume, "", msg)
		return true
	}
	if len(reached) < len(vols) {
		for _, v := range vols {
			if !reached[v.ID] {
				add(KindOrphanVolumes, v.ID, fmt.Sprintf("%s: its parent %s is not in the chain from the base", KindOrphanVolumes.Description(), normParent(v.Parent)))
			}
		}
		return true
	}
	return false
}

// missingParents returns the parents of vols that are not among vols.
func missingParents(vols []Volume) []string {
	have := make(map[string]bool, len(vols))
	for _, v := range vols {
		have[v.ID] = true
	}
	var missing []string
	for _, v := range vols {
		if p := normParent(v.Parent); p != BlankUUID && !have[p] {
			have[p] = true
			missing = append(missing, p)
		}
	}
	return missing
}

// loops adds a ChainLoopError for each cycle of parents among vols and
// reports whether there was one.
func loops(vols []Volume, add func(FindingKind, string, string)) bool {
	parent := make(map[string]string, len(vols))
	for _, v := range vols {
		if _, dup := parent[v.ID]; !dup {
			parent[v.ID] = normParent(v.Parent)
		}
	}
	const (
		unvisited = iota
		onPath
		done
	)
	state := make(map[string]int, len(vols))
	found := false
	for _, v := range vols {
		var path []string
		id := v.ID
		for {
			if _, ok := parent[id]; !ok || state[id] == done {
				break
			}
			if state[id] == onPath {
				i := 0
				for path[i] != id {
					i++
				}
				cycle := append([]string(nil), path[i:]...)
				sort.Strings(cycle)
				add(KindChainLoop, cycle[0], fmt.Sprintf("%s: the parents of %s form a cycle", KindChainLoop.Description(), strings.Join(path[i:], " <- ")))
				found = true
				break
			}
			state[id] = onPath
			path = append(path, id)
			id = parent[id]
		}
		for _, p := range path {
			state[p] = done
		}
	}
	return found
}

// orderChain returns vols of a good chain base first.
func orderChain(vols []Volume) []Volume {
	byParent := make(map[string]Volume, len(vols))
	for _, v := range vols {
		byParent[normParent(v.Parent)] = v
	}
	out := make([]Volume, 0, len(vols))
	for p := BlankUUID; len(out) < len(vols); {
		v, ok := byParent[p]
		if !ok {
			break
		}
		out = append(out, v)
		p = v.ID
	}
	return out
}

// orderedFindings checks an ordered chain: the top is the LEAF and no LEAF
// is below it; only the base is RAW. own is the number of the image's own
// volumes among all (the others are a template's).
func orderedFindings(ch Chain, own int, all []Volume) []Finding {
	owned := make(map[string]bool, own)
	for _, v := range all[:own] {
		owned[v.ID] = true
	}
	var fs []Finding
	add := func(k FindingKind, vol, msg string) {
		fs = append(fs, Finding{Kind: k, Volume: vol, Image: ch.Image, Message: msg})
	}
	top := len(ch.Volumes) - 1
	for i, v := range ch.Volumes {
		if !owned[v.ID] {
			continue
		}
		switch {
		case i == top && v.Role != "" && v.Role != RoleLeaf && v.Role != RoleShared: // SHARED: a template's own volume
			add(KindRoleMismatch, v.ID, fmt.Sprintf("the top of the chain has the role %s, not LEAF: the chain may be missing its active volume", v.Role))
		case i < top && v.Role == RoleLeaf:
			add(KindRoleMismatch, v.ID, fmt.Sprintf("a LEAF volume with %d volume(s) above it: a snapshot or merge did not finish updating the metadata", top-i))
		}
		if i > 0 && v.Format == FormatRAW {
			add(KindRawLayer, v.ID, "a RAW volume above the base: only a chain's base may be RAW, so the layers below it are hidden")
		}
	}
	return fs
}
