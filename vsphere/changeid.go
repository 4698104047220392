package vsphere

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/changedblocks/sdk/cbt"
)

// Scheme is the scheme of the change IDs this package hands out and accepts.
const Scheme = "vsphere"

// ChangeID is a parsed vSphere change ID: the changeId a snapshot's disk
// backing carries, "<change-epoch UUID>/<epoch number>", such as
//
//	52 05 a2 ce 6d 6d c9 59-d3 2e ad 19 e3 96 73 6d/5
//
// (16 hex bytes separated by spaces, a dash after the eighth), optionally
// followed by the disk's capacity in bytes at that point, "#10737418240".
// The capacity guard is this package's own: the value of the change IDs a
// disk of this package hands out (cbt.Disk.ChangeID) carries it, so that a
// resized disk is caught before any query. A plain vSphere changeId (stored
// by another tool) is accepted as a base too, without the capacity check.
//
// The UUID changes when tracking is reset, so a base whose UUID differs from
// the disk's is refused without asking the server. Within one UUID the epoch
// grows with every point: a base whose epoch is larger than the disk's is
// refused as a listing backwards (cbt.ErrInvalidArgument).
type ChangeID struct {
	raw      string   // the vSphere changeId, as the server wrote it
	uuid     [16]byte // the change-epoch UUID
	epoch    uint64
	capacity int64 // 0: unknown
}

// ParseChangeID parses a vSphere change ID (the value of a cbt.ChangeID of
// scheme "vsphere", or a changeId read from a disk backing), with or without
// the "#<capacity>" guard. Hex digits may be of either case. It returns
// cbt.ErrInvalidArgument for anything else.
func ParseChangeID(s string) (ChangeID, error) {
	bad := func(why string) (ChangeID, error) {
		return ChangeID{}, errf(cbt.ErrInvalidArgument, "change ID %q: %s (want \"xx xx xx xx xx xx xx xx-xx xx xx xx xx xx xx xx/N\")", clip(s), why)
	}
	raw, guard, hasGuard := strings.Cut(s, "#")
	var c ChangeID
	if hasGuard {
		n, ok := parseDecimal(guard)
		if !ok || n <= 0 || n > 1<<62 || guard[0] == '0' {
			return bad("the capacity after '#' is not a positive decimal number of bytes without leading zeros (as a listing printed it)")
		}
		c.capacity = int64(n)
	}
	u, ep, ok := strings.Cut(raw, "/")
	if !ok {
		return bad("no '/'")
	}
	if len(u) != 47 {
		return bad("the UUID part is not 47 characters long")
	}
	for i := range 16 {
		p := i * 3 // two digits, then a separator
		if i > 0 {
			want := byte(' ')
			if i == 8 {
				want = '-'
			}
			if u[p-1] != want {
				return bad(fmt.Sprintf("character %d is not %q", p-1, want))
			}
		}
		hi, ok1 := unhex(u[p])
		lo, ok2 := unhex(u[p+1])
		if !ok1 || !ok2 {
			return bad(fmt.Sprintf("byte %d of the UUID is not two hex digits", i))
		}
		c.uuid[i] = hi<<4 | lo
	}
	n, ok := parseDecimal(ep)
	if !ok {
		return bad("the epoch after '/' is not a decimal number")
	}
	c.epoch = n
	c.raw = raw
	return c, nil
}

// NewChangeID returns the cbt.ChangeID (scheme "vsphere") of a vSphere
// changeId and the disk's capacity at that point, for callers that stored
// both themselves; capacity 0 leaves the capacity check out. It returns
// cbt.ErrInvalidArgument for a malformed changeId or a negative capacity.
func NewChangeID(changeID string, capacity int64) (cbt.ChangeID, error) {
	if strings.Contains(changeID, "#") || capacity < 0 {
		return cbt.ChangeID{}, errf(cbt.ErrInvalidArgument, "change ID %q with capacity %d", clip(changeID), capacity)
	}
	c, err := ParseChangeID(changeID)
	if err != nil {
		return cbt.ChangeID{}, err
	}
	c.capacity = capacity
	return c.CBT(), nil
}

// Raw returns the vSphere changeId, as the server wrote it (what
// QueryChangedDiskAreas takes).
func (c ChangeID) Raw() string { return c.raw }

// UUID returns the change-epoch UUID: it changes when tracking is reset.
func (c ChangeID) UUID() [16]byte { return c.uuid }

// Epoch returns the number after the '/'.
func (c ChangeID) Epoch() uint64 { return c.epoch }

// Capacity returns the disk's capacity in bytes at this point, 0 when the
// change ID does not say.
func (c ChangeID) Capacity() int64 { return c.capacity }

// String returns the form ParseChangeID reads: the raw changeId, followed by
// "#<capacity>" when the capacity is known.
func (c ChangeID) String() string {
	if c.capacity > 0 {
		return c.raw + "#" + strconv.FormatInt(c.capacity, 10)
	}
	return c.raw
}

// CBT returns the change ID as a cbt.ChangeID of scheme "vsphere" (the zero
// cbt.ChangeID for the zero ChangeID).
func (c ChangeID) CBT() cbt.ChangeID {
	if c.raw == "" {
		return cbt.ChangeID{}
	}
	id, err := cbt.NewChangeID(Scheme, c.String())
	if err != nil { // cannot happen: the value is printable ASCII
		return cbt.ChangeID{}
	}
	return id
}

// IsZero reports whether c is the zero ChangeID.
func (c ChangeID) IsZero() bool { return c.raw == "" }

// parseDecimal parses 1 to 19 decimal digits.
func parseDecimal(s string) (uint64, bool) {
	if len(s) == 0 || len(s) > 19 {
		return 0, false
	}
	var n uint64
	for i := range len(s) {
		d := s[i]
		if d < '0' || d > '9' {
			return 0, false
		}
		n = n*10 + uint64(d-'0')
	}
	return n, true
}

func unhex(b byte) (byte, bool) {
	switch {
	case b >= '0' && b <= '9':
		return b - '0', true
	case b >= 'a' && b <= 'f':
		return b - 'a' + 10, true
	case b >= 'A' && b <= 'F':
		return b - 'A' + 10, true
	}
	return 0, false
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
