package rhv

import (
	"errors"
	"fmt"
	"io"

	"github.com/changedblocks/sdk/cbt"
)

// Where a block domain keeps a volume's record in its "metadata" LV
// (vdsm blockSD.py metadata_offset).
const (
	metadataBaseV4     = 0
	metadataSlotSizeV4 = 512
	metadataBaseV5     = 1 << 20
	metadataSlotSizeV5 = 8 << 10
	maxMetadataSlot    = 1 << 20 // far above what a 128 MiB metadata LV holds
)

// MetadataOffset returns the byte offset of metadata slot in the "metadata"
// LV of a block domain of version domainVersion: slot×512 up to version 4,
// 1 MiB + slot×8 KiB from version 5 on. The record there is 512 bytes.
//
// Errors: cbt.ErrInvalidArgument for a negative version or slot, or a slot
// above 2^20; cbt.ErrUnsupported for a version above 5.
func MetadataOffset(domainVersion, slot int) (int64, error) {
	if slot < 0 || slot > maxMetadataSlot {
		return 0, readErrorf(cbt.ErrInvalidArgument, "metadata slot", "slot %d out of range", slot)
	}
	switch {
	case domainVersion < 0:
		return 0, readErrorf(cbt.ErrInvalidArgument, "metadata slot", "domain version %d", domainVersion)
	case domainVersion <= 4:
		return metadataBaseV4 + int64(slot)*metadataSlotSizeV4, nil
	case domainVersion == 5:
		return metadataBaseV5 + int64(slot)*metadataSlotSizeV5, nil
	}
	return 0, readErrorf(cbt.ErrUnsupported, "metadata slot", "storage domain version %d is not known (versions up to 5 are)", domainVersion)
}

// ReadMetadataSlots completes the volumes ReadLVs found on a block domain
// with their metadata records, read from lv (the content of the domain's
// "metadata" LV, or a copy of it) at the slot of each volume's MD_ tag.
// The record's keys replace what the tags gave (its PUUID is vdsm's truth
// for the parent; the PU_ tag stays in ParentTag for comparison); IMAGE and
// PUUID fall back to the IU_ and PU_ tags when the record lacks them, as
// vdsm's StorageDomain.dump does. The LV facts (MDSlot, ParentTag,
// Initializing, Removed) are kept.
//
// A volume without an MD_ slot (other than a half-created one), a slot
// beyond the end of lv, a slot two volumes share, or a record ParseMetadata
// finds problems in, gives the volume status INVALID with Problems; it is
// not an error. The volumes are returned in the order given; vols is not
// modified.
//
// Errors: cbt.ErrInvalidArgument or cbt.ErrUnsupported for domainVersion
// (see MetadataOffset); cbt.ErrCorrupt when reading lv fails other than at
// its end.
func ReadMetadataSlots(lv io.ReaderAt, domainVersion int, vols []Volume) ([]Volume, error) {
	if _, err := MetadataOffset(domainVersion, 0); err != nil {
		return nil, err
	}
	bySlot := make(map[int][]int)
	for i, v := range vols {
		if v.MDSlot >= 0 {
			bySlot[v.MDSlot] = append(bySlot[v.MDSlot], i)
		}
	}
	out := make([]Volume, len(vols))
	buf := make([]byte, metadataRecordSize)
	for i, v := range vols {
		out[i] = v
		if v.MDSlot < 0 {
			if !v.Initializing && !v.Removed {
				out[i] = withProblem(v, "the LV has no MD_ tag: its metadata slot is unknown")
			}
			continue
		}
		off, err := MetadataOffset(domainVersion, v.MDSlot)
		if err != nil {
			out[i] = withProblem(v, fmt.Sprintf("MD_%d: %v", v.MDSlot, err))
			continue
		}
		n, err := lv.ReadAt(buf, off)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: rhv: reading metadata slot %d at offset %d: %w", cbt.ErrCorrupt, v.MDSlot, off, err)
		}
		if n < len(buf) {
			out[i] = withProblem(v, fmt.Sprintf("metadata slot %d (offset %d) is beyond the end of the metadata LV (is the domain version %d right?)", v.MDSlot, off, domainVersion))
			continue
		}
		md, _, err := ParseMetadata(buf)
		if err != nil {
			return nil, err
		}
		out[i] = mergeMetadata(v, md)
		if others := bySlot[v.MDSlot]; len(others) > 1 {
			for _, j := range others {
				if j != i {
					out[i] = withProblem(out[i], fmt.Sprintf("metadata slot %d is also the slot of volume %s", v.MDSlot, vols[j].ID))
				}
			}
		}
	}
	return out, nil
}

// mergeMetadata returns the LV volume lv completed with its record md.
func mergeMetadata(lv, md Volume) Volume {
	v := md
	v.ID = lv.ID
	v.MDSlot = lv.MDSlot
	v.ParentTag = lv.ParentTag
	v.Initializing = lv.Initializing
	v.Removed = lv.Removed
	if v.Image == "" {
		v.Image = lv.Image
	}
	if v.Parent == UnknownParent && lv.ParentTag != "" {
		v.Parent = lv.ParentTag
	}
	if lv.Removed {
		v.Status = StatusRemoved
	}
	if vg, dom := lv.Extra[mdDomain], md.Extra[mdDomain]; vg != "" && dom != "" && vg != dom {
		v = withProblem(v, fmt.Sprintf("the record's DOMAIN is %s but the LV is in VG %s: is the metadata copy from this storage domain, and the slot right?", dom, vg))
	}
	return v
}

// withProblem returns v with status INVALID and problem added.
func withProblem(v Volume, problem string) Volume {
	v.Problems = append(v.Problems[:len(v.Problems):len(v.Problems)], problem)
	if v.Status != StatusRemoved {
		v.Status = StatusInvalid
	}
	return v
}
