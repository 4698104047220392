package rhv

import (
	"fmt"
	"strings"

	"github.com/changedblocks/sdk/cbt"
)

// Scheme is the change-ID scheme of RHV points in time.
const Scheme = "rhv"

// volumePrefix starts the value of a volume change ID.
const volumePrefix = "volume:"

// maxVolumeIDLength bounds a volume ID in a change ID (a UUID has 36
// characters; vdsm accepts nothing longer).
const maxVolumeIDLength = 64

// VolumePoint is a volume of a chain as a point in time: the state of the
// disk that the volume and the volumes below it hold. Child, when set,
// guards it: the volume that was its child (the next volume up the chain)
// when the point was handed out. A volume only stays a fixed point while it
// is not written: once the VM writes to a new volume above it, nothing
// writes to it but a merge, and merging the child into it (deleting a
// snapshot) also removes the child from the chain, which the guard detects.
type VolumePoint struct {
	Volume string // volume UUID
	Child  string // volume UUID of its child then; "" for an unguarded point
}

// String returns the point's change-ID value: "volume:UUID", or
// "volume:UUID#CHILD" for a guarded point.
func (p VolumePoint) String() string {
	if p.Child == "" {
		return volumePrefix + p.Volume
	}
	return volumePrefix + p.Volume + "#" + p.Child
}

// ChangeID returns the point as a change ID of scheme "rhv". Errors:
// cbt.ErrInvalidArgument for an empty or malformed volume ID.
func (p VolumePoint) ChangeID() (cbt.ChangeID, error) {
	if err := checkVolumeRef(p.Volume, "volume"); err != nil {
		return cbt.ChangeID{}, err
	}
	if p.Child != "" {
		if err := checkVolumeRef(p.Child, "child volume"); err != nil {
			return cbt.ChangeID{}, err
		}
	}
	return cbt.NewChangeID(Scheme, p.String())
}

// VolumeChangeID returns the unguarded change ID "rhv:volume:UUID" of a
// volume: for a caller that learned the volume from elsewhere (the engine's
// disk snapshot id). Prefer the guarded change ID a Disk hands out
// (Disk.ChangeID): the unguarded one cannot tell that a snapshot above the
// volume was merged into it since, so a listing since it can then miss what
// that merge wrote. Errors: cbt.ErrInvalidArgument for an empty or malformed
// volume ID.
func VolumeChangeID(volume string) (cbt.ChangeID, error) {
	return VolumePoint{Volume: volume}.ChangeID()
}

// ParseVolumePoint parses the value of a volume change ID, "volume:UUID" or
// "volume:UUID#CHILD"; a whole change ID "rhv:volume:..." is accepted too.
// Errors: cbt.ErrInvalidArgument for anything else.
func ParseVolumePoint(s string) (VolumePoint, error) {
	v := strings.TrimPrefix(s, Scheme+":")
	rest, ok := strings.CutPrefix(v, volumePrefix)
	if !ok {
		return VolumePoint{}, fmt.Errorf("%w: rhv: change ID value %q is not volume:UUID", cbt.ErrInvalidArgument, clipID(s))
	}
	vol, child, guarded := strings.Cut(rest, "#")
	p := VolumePoint{Volume: vol, Child: child}
	if err := checkVolumeRef(vol, "volume"); err != nil {
		return VolumePoint{}, err
	}
	if guarded {
		if err := checkVolumeRef(child, "child volume"); err != nil {
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
func checkVolumeRef(id, what string) error {
	if id == "" || len(id) > maxVolumeIDLength {
		return fmt.Errorf("%w: rhv: %s ID %q must be 1 to %d characters", cbt.ErrInvalidArgument, what, clipID(id), maxVolumeIDLength)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("%w: rhv: %s ID %q holds %q; want a UUID", cbt.ErrInvalidArgument, what, clipID(id), c)
		}
	}
	return nil
}

// clipID shortens a string for an error message.
func clipID(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
