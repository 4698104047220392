// Package ident checks the IDs the rhv packages take from callers and put
// into change IDs or URL paths, and shortens text for their messages.
package ident

import (
	"fmt"

	"github.com/changedblocks/sdk/cbt"
)

// Check checks an ID: 1 to max characters of letters, digits, '-' and '_'
// (oVirt's and vdsm's UUIDs, and the names tests give). what names the ID in
// the error, cbt.ErrInvalidArgument ("rhv: <what> ID ...").
func Check(what, id string, max int) error {
	if id == "" || len(id) > max {
		return fmt.Errorf("%w: rhv: %s ID %q must be 1 to %d characters", cbt.ErrInvalidArgument, what, Clip(id, 80), max)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("%w: rhv: %s ID %q holds %q; want a UUID", cbt.ErrInvalidArgument, what, Clip(id, 80), c)
		}
	}
	return nil
}

// Clip shortens s to at most n bytes and "..." for a message.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
