package rhv

import (
	"fmt"
	"strings"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/rhv/internal/ident"
)

// Scheme is the change-ID scheme of RHV points in time.
const Scheme = "rhv"

// volumePrefix starts the value of a volume change ID.
const volumePrefix = "volume:"

// maxVolumeIDLength bounds a volume ID in a change ID (a UUID has 36
// characters; vdsm accepts nothing longer).
const maxVolumeIDLength = 64

// VolumePoint is a volume of a chain as a point in time: the state of the
// disk that the volume and the volumes below it hold. Child and Guard, when
// set, guard it:
//
//   - Child is the volume that was its child (the next volume up the chain)
//     when the point was handed out. A volume only stays a fixed point while
//     it is not written: once the VM writes to a new volume above it,
//     nothing writes to it but a merge, and merging the child into it
//     (deleting a snapshot) also removes the child from the chain.
//   - Guard is a digest of the volumes from the chain's base up to Volume:
//     their IDs and order, qcow2 headers and allocation, and each regular
//     file's size and modification time (see OpenVolume). A volume below the
//     point (or the point itself) written, replaced, restored from an older
//     copy or re-created under its UUID, a snapshot below it deleted (merged)
//     or the chain rebased changes it.
//
// A listing since a point checks both and refuses, with
// cbt.ErrChangeIDInvalid, a point whose child or guard differs, and a point
// without a guard.
type VolumePoint struct {
	Volume string // volume UUID
	Child  string // volume UUID of its child then; "" for an unguarded point
	Guard  string // digest of the volumes up to Volume then; "" for none
}

// String returns the point's change-ID value: "volume:UUID",
// "volume:UUID#CHILD", or "volume:UUID#CHILD~GUARD".
func (p VolumePoint) String() string {
	s := volumePrefix + p.Volume
	if p.Child != "" {
		s += "#" + p.Child
		if p.Guard != "" {
			s += "~" + p.Guard
		}
	}
	return s
}

// ChangeID returns the point as a change ID of scheme "rhv". Errors:
// cbt.ErrInvalidArgument for an empty or malformed volume ID, or a guard
// without a child.
func (p VolumePoint) ChangeID() (cbt.ChangeID, error) {
	if err := checkVolumeRef(p.Volume, "volume"); err != nil {
		return cbt.ChangeID{}, err
	}
	if p.Child != "" {
		if err := checkVolumeRef(p.Child, "child volume"); err != nil {
			return cbt.ChangeID{}, err
		}
	}
	if p.Guard != "" {
		if p.Child == "" {
			return cbt.ChangeID{}, fmt.Errorf("%w: rhv: volume point %s has a guard but no child", cbt.ErrInvalidArgument, p.Volume)
		}
		if err := checkVolumeRef(p.Guard, "guard"); err != nil {
			return cbt.ChangeID{}, err
		}
	}
	return cbt.NewChangeID(Scheme, p.String())
}

// VolumeChangeID returns the unguarded change ID "rhv:volume:UUID" of a
// volume, for a caller that learned the volume from elsewhere (the engine's
// disk snapshot id) and wants to name it. It is no base for a listing:
// without a guard nothing proves that the volume and those below it still
// hold the state it names (a snapshot merged into it, a volume below it
// replaced), so Changes since it gives cbt.ErrChangeIDInvalid. Store the
// guarded change ID a Disk hands out (Disk.ChangeID) instead. Errors:
// cbt.ErrInvalidArgument for an empty or malformed volume ID.
func VolumeChangeID(volume string) (cbt.ChangeID, error) {
	return VolumePoint{Volume: volume}.ChangeID()
}

// ParseVolumePoint parses the value of a volume change ID, "volume:UUID",
// "volume:UUID#CHILD" or "volume:UUID#CHILD~GUARD"; a whole change ID
// "rhv:volume:..." is accepted too. Errors: cbt.ErrInvalidArgument for
// anything else.
func ParseVolumePoint(s string) (VolumePoint, error) {
	v := strings.TrimPrefix(s, Scheme+":")
	rest, ok := strings.CutPrefix(v, volumePrefix)
	if !ok {
		return VolumePoint{}, fmt.Errorf("%w: rhv: change ID value %q is not volume:UUID", cbt.ErrInvalidArgument, clipID(s))
	}
	vol, child, guarded := strings.Cut(rest, "#")
	child, guard, hasGuard := strings.Cut(child, "~")
	p := VolumePoint{Volume: vol, Child: child, Guard: guard}
	if err := checkVolumeRef(vol, "volume"); err != nil {
		return VolumePoint{}, err
	}
	if guarded {
		if err := checkVolumeRef(child, "child volume"); err != nil {
			return VolumePoint{}, err
		}
	}
	if hasGuard {
		if err := checkVolumeRef(guard, "guard"); err != nil {
			return VolumePoint{}, err
		}
	}
	return p, nil
}

// VolumePointOf returns the volume point a change ID of scheme "rhv" names.
// Errors: cbt.ErrInvalidArgument for a change ID of another scheme or a value
// that names no volume (a checkpoint, for instance).
func VolumePointOf(id cbt.ChangeID) (VolumePoint, error) {
	if id.Scheme() != Scheme {
		return VolumePoint{}, fmt.Errorf("%w: rhv: change ID %q is not of scheme %q", cbt.ErrInvalidArgument, clipID(id.String()), Scheme)
	}
	return ParseVolumePoint(id.Value())
}

// checkVolumeRef checks a volume ID as a change ID carries it: 1 to 64
// characters of letters, digits, '-' and '_' (vdsm's UUIDs, and the names
// tests give).
func checkVolumeRef(id, what string) error { return ident.Check(what, id, maxVolumeIDLength) }

// clipID shortens a string for an error message.
func clipID(s string) string { return ident.Clip(s, 80) }
