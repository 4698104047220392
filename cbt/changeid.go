package cbt

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxChangeIDLength bounds the length of a change ID's string form.
const MaxChangeIDLength = 4096

// ChangeID names a point in time of a disk: a scheme ("vsphere", "oci",
// "qcow2", "libvirt", "rhv", "mem", ...) and an opaque value the platform
// understands. Its string form is "scheme:value"; it round-trips through
// String and ParseChangeID and through encoding.TextMarshaler, so backup
// catalogs can store it.
//
// The zero ChangeID means "no base": Changes then reports everything
// allocated. Its string form is the empty string.
type ChangeID struct {
	scheme, value string
}

// NewChangeID returns the change ID of the given scheme and value. The scheme
// is 1 to 32 characters of lower-case letters, digits, '+', '-' and '.',
// starting with a letter; the value is non-empty valid UTF-8 without control
// characters. It returns ErrInvalidArgument otherwise.
func NewChangeID(scheme, value string) (ChangeID, error) {
	if err := checkScheme(scheme); err != nil {
		return ChangeID{}, err
	}
	if err := checkValue(value); err != nil {
		return ChangeID{}, err
	}
	if len(scheme)+1+len(value) > MaxChangeIDLength {
		return ChangeID{}, fmt.Errorf("%w: change ID longer than %d bytes", ErrInvalidArgument, MaxChangeIDLength)
	}
	return ChangeID{scheme: scheme, value: value}, nil
}

// ParseChangeID parses the string form "scheme:value" that String returns. The
// empty string gives the zero ChangeID. A malformed string gives
// ErrInvalidArgument.
func ParseChangeID(s string) (ChangeID, error) {
	if s == "" {
		return ChangeID{}, nil
	}
	scheme, value, ok := strings.Cut(s, ":")
	if !ok {
		return ChangeID{}, fmt.Errorf("%w: change ID %q has no scheme (want scheme:value)", ErrInvalidArgument, clip(s))
	}
	return NewChangeID(scheme, value)
}

// Scheme returns the change ID's scheme, empty for the zero ChangeID.
func (c ChangeID) Scheme() string { return c.scheme }

// Value returns the opaque, platform-specific value.
func (c ChangeID) Value() string { return c.value }

// IsZero reports whether c is the zero ChangeID (no base).
func (c ChangeID) IsZero() bool { return c.scheme == "" }

// String returns "scheme:value", or "" for the zero ChangeID.
func (c ChangeID) String() string {
	if c.IsZero() {
		return ""
	}
	return c.scheme + ":" + c.value
}

// MarshalText implements encoding.TextMarshaler.
func (c ChangeID) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler. It returns
// ErrInvalidArgument for a malformed change ID.
func (c *ChangeID) UnmarshalText(b []byte) error {
	id, err := ParseChangeID(string(b))
	if err != nil {
		return err
	}
	*c = id
	return nil
}

func checkScheme(s string) error {
	if s == "" || len(s) > 32 {
		return fmt.Errorf("%w: change ID scheme %q must be 1 to 32 characters", ErrInvalidArgument, clip(s))
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch >= 'a' && ch <= 'z':
		case i > 0 && (ch >= '0' && ch <= '9' || ch == '+' || ch == '-' || ch == '.'):
		default:
			return fmt.Errorf("%w: change ID scheme %q: want a lower-case letter followed by letters, digits, '+', '-' or '.'", ErrInvalidArgument, clip(s))
		}
	}
	return nil
}

func checkValue(v string) error {
	if v == "" {
		return fmt.Errorf("%w: change ID value is empty", ErrInvalidArgument)
	}
	if !utf8.ValidString(v) {
		return fmt.Errorf("%w: change ID value is not valid UTF-8", ErrInvalidArgument)
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return fmt.Errorf("%w: change ID value holds a control character", ErrInvalidArgument)
		}
	}
	return nil
}

// clip shortens s for an error message.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
