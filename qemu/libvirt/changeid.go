package libvirt

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/changedblocks/sdk/cbt"
)

// Scheme is the change-ID scheme of libvirt checkpoints.
const Scheme = "libvirt"

// guardTag marks the guard this package writes into the description of the
// checkpoints it creates.
const guardTag = "cbt-guard:"

// CheckpointRef names a checkpoint in a change ID: "checkpoint:NAME" and
// guards that tell this checkpoint from a later one of the same name (a
// checkpoint deleted and made again records writes from its new creation
// only, so taking it for the old one would under-report) and from one of the
// same name on another domain (a catalog mix-up).
type CheckpointRef struct {
	Name string
	// Domain, when not "", must be the UUID of the domain the change ID is
	// used on.
	Domain string
	// Time, when not 0, must equal the checkpoint's creationTime.
	Time int64
	// Nonce, when not "", must appear in the checkpoint's description as
	// "cbt-guard:NONCE" (this package writes it into the checkpoints it
	// creates, whose creation time it cannot know in advance).
	Nonce string
}

// ChangeID returns the checkpoint's change ID, guarded by its creation time
// and its domain's UUID.
func (c Checkpoint) ChangeID() cbt.ChangeID {
	return c.Ref().ChangeID()
}

// Ref returns the guarded reference to the checkpoint: its creation time,
// its domain's UUID and, for a checkpoint this package made, the nonce it
// wrote into the description.
func (c Checkpoint) Ref() CheckpointRef {
	return CheckpointRef{Name: c.Name, Time: c.CreationTime, Domain: c.Domain, Nonce: guardNonce(c.Description)}
}

// guardNonce returns the nonce of the last "cbt-guard:NONCE" in a
// checkpoint's description, "" when there is none.
func guardNonce(desc string) string {
	i := strings.LastIndex(desc, guardTag)
	if i < 0 {
		return ""
	}
	rest := desc[i+len(guardTag):]
	n := 0
	for n < len(rest) && n < 64 && ('0' <= rest[n] && rest[n] <= '9' || 'a' <= rest[n] && rest[n] <= 'f') {
		n++
	}
	return rest[:n]
}

// ChangeID returns the change ID of scheme "libvirt" naming the checkpoint.
func (r CheckpointRef) ChangeID() cbt.ChangeID {
	id, err := cbt.NewChangeID(Scheme, r.value())
	if err != nil { // only for an empty name, which no checkpoint has
		return cbt.ChangeID{}
	}
	return id
}

func (r CheckpointRef) value() string {
	v := "checkpoint:" + r.Name
	if r.Time != 0 {
		v += "#t" + strconv.FormatInt(r.Time, 10)
	}
	if r.Nonce != "" {
		v += "#g" + r.Nonce
	}
	if r.Domain != "" {
		v += "#d" + r.Domain
	}
	return v
}

// ParseCheckpointRef decodes the value of a "libvirt" change ID, or the
// whole change ID, or a bare "checkpoint:NAME" (unguarded: the caller vouches
// that the checkpoint was not made again since). Errors: ErrInvalidArgument.
func ParseCheckpointRef(s string) (CheckpointRef, error) {
	s = strings.TrimPrefix(s, Scheme+":")
	name, ok := strings.CutPrefix(s, "checkpoint:")
	if !ok || name == "" {
		return CheckpointRef{}, fmt.Errorf("%w: %q is not a libvirt checkpoint change ID (want checkpoint:NAME)", cbt.ErrInvalidArgument, s)
	}
	r := CheckpointRef{Name: name}
	// Guards are suffixes, in this order: "#t<secs>", "#g<nonce>",
	// "#d<uuid>", each optional.
	if g, ok := lastGuard(r.Name); ok && g[0] == 'd' && isUUID(g[1:]) {
		r.Name, r.Domain = r.Name[:len(r.Name)-len(g)-1], g[1:]
	}
	if g, ok := lastGuard(r.Name); ok && g[0] == 'g' && isHex(g[1:]) {
		r.Name, r.Nonce = r.Name[:len(r.Name)-len(g)-1], g[1:]
	}
	if g, ok := lastGuard(r.Name); ok && g[0] == 't' && isDigits(g[1:]) {
		if t, err := strconv.ParseInt(g[1:], 10, 64); err == nil {
			r.Name, r.Time = r.Name[:len(r.Name)-len(g)-1], t
		}
	}
	return r, nil
}

// lastGuard returns what follows the last '#' of name, when that '#' is not
// the first byte and at least one byte follows it.
func lastGuard(name string) (string, bool) {
	i := strings.LastIndexByte(name, '#')
	if i <= 0 || i+2 > len(name) {
		return "", false
	}
	return name[i+1:], true
}

// isUUID reports whether s is a UUID in libvirt's form (8-4-4-4-12 lower-case hex).
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// verify checks that c is the checkpoint r was taken from.
func (r CheckpointRef) verify(c Checkpoint) error {
	switch {
	case r.Domain != "" && c.Domain != "" && r.Domain != c.Domain:
		return fmt.Errorf("%w: the change ID names checkpoint %q of domain %s, not of this domain (%s): take a full backup",
			cbt.ErrChangeIDInvalid, r.Name, r.Domain, c.Domain)
	case r.Time != 0 && c.CreationTime != r.Time:
		return fmt.Errorf("%w: checkpoint %q was made again since (created at %d, the change ID was taken from one created at %d): take a full backup",
			cbt.ErrChangeIDInvalid, r.Name, c.CreationTime, r.Time)
	case r.Nonce != "" && !strings.Contains(c.Description, guardTag+r.Nonce):
		return fmt.Errorf("%w: checkpoint %q is not the one the change ID was taken from (it was made again since): take a full backup",
			cbt.ErrChangeIDInvalid, r.Name)
	}
	return nil
}

// newNonce returns a guard nonce: the time it was made in nanoseconds (16
// hex digits), which orders the checkpoints this package makes within a
// second (creationTime counts whole seconds), and 64 random bits.
func newNonce() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%016x", uint64(time.Now().UnixNano())) + hex.EncodeToString(b[:])
}

// nonceTime returns the time a nonce of newNonce was made, in nanoseconds;
// false for a nonce of another form (made before nonces carried it).
func nonceTime(n string) (int64, bool) {
	if len(n) != 32 {
		return 0, false
	}
	t, err := strconv.ParseUint(n[:16], 16, 63)
	return int64(t), err == nil
}

func isDigits(s string) bool {
	if s == "" || len(s) > 18 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func isHex(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
