package rhv

import "fmt"

// FindingKind names what is wrong with a chain or a volume. The first six
// are the chain errors of vdsm-tool dump-volume-chains, under vdsm's own
// class names, so that a report lines up with that tool's output.
type FindingKind string

// The chain errors of vdsm-tool dump-volume-chains.
const (
	// KindDuplicateParent: two volumes of an image have the same parent (two
	// leaves, or a forked chain).
	KindDuplicateParent FindingKind = "DuplicateParentError"
	// KindUnknownParent: a volume's metadata does not say its parent.
	KindUnknownParent FindingKind = "UnknownParentError"
	// KindUnknownImage: a volume's metadata does not say its image.
	KindUnknownImage FindingKind = "UnknownImageError"
	// KindNoBaseVolume: no volume of the image has the parent BlankUUID.
	KindNoBaseVolume FindingKind = "NoBaseVolume"
	// KindChainLoop: parents form a cycle.
	KindChainLoop FindingKind = "ChainLoopError"
	// KindOrphanVolumes: volumes of the image that the walk from the base
	// does not reach.
	KindOrphanVolumes FindingKind = "OrphanVolumes"
)

// Findings about one volume.
const (
	// KindIllegal: the volume is ILLEGAL (a failed or interrupted merge, or
	// an operation still running); the engine's image status ILLEGAL too.
	KindIllegal FindingKind = "IllegalVolume"
	// KindLocked: the engine or REST says the volume is LOCKED (an operation
	// runs on it).
	KindLocked FindingKind = "LockedVolume"
	// KindInitializing: the LV still has the tag OVIRT_VOL_INITIALIZING: a
	// half-created volume that vdsm ignores and will roll back.
	KindInitializing FindingKind = "VolumeInitializing"
	// KindRemoved: the volume is marked for removal (_remove_me_), a
	// remnant of a deletion.
	KindRemoved FindingKind = "VolumeRemoved"
	// KindParentTagMismatch: the LV's PU_ tag names another parent than the
	// metadata's PUUID, which vdsm takes as the truth.
	KindParentTagMismatch FindingKind = "ParentTagMismatch"
	// KindInvalidMetadata: the metadata record could not be parsed whole (a
	// required key is missing or malformed): vdsm reports status INVALID.
	KindInvalidMetadata FindingKind = "InvalidMetadata"
	// KindMetadataCleared: the metadata record was cleared (NONE=...), as
	// deletions before vdsm 4.20.34 left it.
	KindMetadataCleared FindingKind = "MetadataCleared"
	// KindDuplicateVolume: one source lists the same volume twice with
	// different facts; the first is kept.
	KindDuplicateVolume FindingKind = "DuplicateVolume"
	// KindRoleMismatch: an ordered chain whose top is not the LEAF, or with
	// a LEAF below the top.
	KindRoleMismatch FindingKind = "VolumeRoleMismatch"
	// KindRawLayer: a RAW volume above the base: only a chain's base may be
	// RAW.
	KindRawLayer FindingKind = "RawVolumeAboveBase"
	// KindReportedChainError: the source itself reported a chain error for
	// the image (vdsm-tool's "Error:" line) that the volumes it listed do
	// not show: the output may be cut or edited. The chain is not ordered.
	KindReportedChainError FindingKind = "ReportedChainError"
)

// Disagreements between two sources (Compare).
const (
	// KindMissingVolume: one source lists a volume the other does not.
	KindMissingVolume FindingKind = "MissingVolume"
	// KindParentMismatch: the sources give a volume different parents.
	KindParentMismatch FindingKind = "ParentMismatch"
	// KindImageMismatch: the sources put a volume in different images.
	KindImageMismatch FindingKind = "ImageMismatch"
	// KindLegalityMismatch: the sources disagree on a volume's legality.
	KindLegalityMismatch FindingKind = "LegalityMismatch"
	// KindFormatMismatch: the sources disagree on a volume's format.
	KindFormatMismatch FindingKind = "FormatMismatch"
)

// The descriptions vdsm-tool dump-volume-chains prints for its chain errors
// (lib/vdsm/tool/dump_volume_chains.py).
const (
	descDuplicateParent = "more than one volume pointing to the same parent volume e.g: (_BLANK_UUID<-a), (a<-b), (a<-c)"
	descUnknownParent   = "there are volumes in the chain missing the parent info in their metadata, please check the metadata integrity"
	descUnknownImage    = "there are volumes in the storage missing the image info in their metadata, these are listed here"
	descNoBaseVolume    = "no volume with a parent volume Id _BLANK_UUID found e.g: (a<-b), (b<-c)"
	descChainLoop       = "a loop found in the volume chain. This happens if a volume points to one of it's parent volume e.g.: (BLANK_UUID<-a), (a<-b), (b<-c), (c<-a)"
	descOrphanVolumes   = "there are volumes that are part of an image and are pointing to volumes which are not part of the chain e.g: (BLANK_UUID<-a), (a<-b), (c<-d)"
)

// chainErrorKinds are the chain error kinds of vdsm-tool, each with its
// description, in vdsm-tool's order.
var chainErrorKinds = []struct {
	kind FindingKind
	desc string
}{
	{KindDuplicateParent, descDuplicateParent},
	{KindUnknownParent, descUnknownParent},
	{KindUnknownImage, descUnknownImage},
	{KindNoBaseVolume, descNoBaseVolume},
	{KindChainLoop, descChainLoop},
	{KindOrphanVolumes, descOrphanVolumes},
}

// Description returns vdsm-tool's description of a chain error kind, or ""
// for the kinds vdsm-tool does not have.
func (k FindingKind) Description() string {
	for _, c := range chainErrorKinds {
		if c.kind == k {
			return c.desc
		}
	}
	return ""
}

// Finding is one thing wrong with a chain, a volume, or between two sources.
type Finding struct {
	Kind FindingKind `json:"kind"`
	// Volume is the volume the finding is about; "" for a finding about a
	// whole image (NoBaseVolume).
	Volume string `json:"volume"`
	// Image is the image (disk) the finding belongs to; UnknownImage when no
	// source says.
	Image string `json:"image,omitempty"`
	// Message says what is wrong and, where there is something to do, what.
	Message string `json:"message"`
}

func (f Finding) String() string {
	if f.Volume == "" {
		return fmt.Sprintf("%s: image %s: %s", f.Kind, f.Image, f.Message)
	}
	return fmt.Sprintf("%s: volume %s: %s", f.Kind, f.Volume, f.Message)
}

// UnknownParent is the Parent of a volume whose source does not say its
// parent (vdsm-tool's placeholder); UnknownImage the image of a volume whose
// source does not say its image.
const (
	UnknownParent = "unknown-parent"
	UnknownImage  = "unknown-image"
)

// Status words the readers set.
const (
	StatusOK      = "OK"
	StatusInvalid = "INVALID"
	StatusRemoved = "REMOVED"
)
