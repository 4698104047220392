package rhv

import (
	"fmt"
	"strings"
)

// volumeFindings returns what is wrong with one volume by itself (Kind and
// Message set).
func volumeFindings(v Volume) []Finding {
	var fs []Finding
	add := func(k FindingKind, msg string) { fs = append(fs, Finding{Kind: k, Volume: v.ID, Message: msg}) }
	if v.Removed {
		add(KindRemoved, "the volume is marked for removal (_remove_me_): a remnant of a deletion, not part of the chain; vdsm removes it when the deletion completes")
	}
	if v.Initializing {
		add(KindInitializing, "the LV still has the tag OVIRT_VOL_INITIALIZING: a half-created volume, not part of the chain; vdsm rolls it back")
	}
	if v.Legality == LegalityIllegal || strings.EqualFold(v.Status, "ILLEGAL") {
		add(KindIllegal, "the volume is ILLEGAL: a merge or snapshot removal failed or was interrupted, or an operation on it still runs; "+
			"its data cannot be trusted: retry the snapshot removal, and take a full backup until the chain is LEGAL")
	}
	if strings.EqualFold(v.Status, "LOCKED") {
		add(KindLocked, "the volume is LOCKED: an operation (snapshot, merge, copy, backup) runs on it; read the chain again when it ends")
	}
	if v.ParentTag != "" && v.Parent != UnknownParent && normParent(v.ParentTag) != normParent(v.Parent) {
		add(KindParentTagMismatch, fmt.Sprintf("the LV tag PU_%s disagrees with the metadata parent %s; vdsm uses the metadata (PUUID), and so does this chain", v.ParentTag, normParent(v.Parent)))
	}
	switch {
	case v.Extra[mdNone] != "" || hasKey(v.Extra, mdNone):
		add(KindMetadataCleared, "the metadata record was cleared (NONE=): the volume was deleted by a vdsm older than 4.20.34, or its slot was reused")
	case len(v.Problems) > 0:
		add(KindInvalidMetadata, "invalid metadata: "+strings.Join(v.Problems, "; "))
	case v.Status == StatusInvalid:
		add(KindInvalidMetadata, "vdsm reports the metadata INVALID: a required key is missing or malformed")
	}
	return fs
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}
