package qemu

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/changedblocks/sdk/internal/hostfile"
)

// A change ID names a point and carries guards: facts of the point when the
// ID was handed out that a point deleted and made again under the same name,
// or a point whose files below it changed, does not share (see the package
// documentation, "Change IDs that cannot lie"):
//
//	snapshot:NAME#SEC.NSEC#cCHAIN   the snapshot's creation date; the files below the top image
//	layer:PATH#SEC.NSEC#cCHAIN      the layer's modification time; the files below it
//	bitmap:NAME#sSIZE#cCHAIN        the disk size when the bitmap was made; the files below the top
//
// CHAIN is chainGuardLen hex digits of a SHA-256 over the modification time
// and size of every backing file below the point (the files a read at the
// point goes through), so a commit into one of them, a rebase, or a file
// replaced by an older copy gives another value.

// chainGuardLen is the number of hex digits of a chain guard.
const chainGuardLen = 16

// guardsRE splits a reference into its name and its guards. The name is
// matched lazily, so guards are taken from the end; a name that itself ends
// in something guard-shaped is still found by its exact name first.
var guardsRE = regexp.MustCompile(`^(.+?)(?:#([0-9]{1,10})\.([0-9]{1,9}))?(?:#s([0-9]{1,19}))?(?:#c([0-9a-f]{16}))?$`)

// guards are the guards a reference carries.
type guards struct {
	hasDate   bool
	sec, nsec int64 // snapshot creation date, or layer modification time
	hasSize   bool
	size      int64 // disk size when a bitmap was made
	chain     string
}

// splitGuards returns the name and the guards of a reference.
func splitGuards(ref string) (string, guards) {
	m := guardsRE.FindStringSubmatch(ref)
	if m == nil {
		return ref, guards{}
	}
	var g guards
	if m[2] != "" {
		g.hasDate = true
		g.sec, _ = strconv.ParseInt(m[2], 10, 64)
		g.nsec, _ = strconv.ParseInt(m[3], 10, 64)
	}
	if m[4] != "" {
		s, err := strconv.ParseInt(m[4], 10, 64)
		if err != nil {
			return ref, guards{}
		}
		g.hasSize, g.size = true, s
	}
	g.chain = m[5]
	return m[1], g
}

// dateGuard is the "#SEC.NSEC" guard of a time.
func dateGuard(sec, nsec int64) string { return fmt.Sprintf("#%d.%09d", sec, nsec) }

// dateText formats a guard's time for a message.
func dateText(sec, nsec int64) string { return time.Unix(sec, nsec).UTC().Format(time.RFC3339Nano) }

// chainGuard returns the guard of the files below layer k of the chain (all
// of them for k = 0: what the top image's snapshots and bitmaps read
// through), or why there can be none: a backing file on a block device has
// no modification time that writes update.
//
// With trust (Options.TrustUnguarded) a block device counts by its size only.
func (c *chain) chainGuard(k int, trust bool) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "qcow2-chain-guard v1 %d\n", len(c.layers)-k-1)
	for _, l := range c.layers[k+1:] {
		fi := l.Stat()
		switch {
		case fi.Mode().IsRegular():
			t := fi.ModTime()
			fmt.Fprintf(h, "%d.%09d %d\n", t.Unix(), t.Nanosecond(), fi.Size())
		case trust:
			fmt.Fprintf(h, "device %d\n", l.VirtualSize())
		default:
			return "", fmt.Errorf("backing file %s is %s: it has no modification time that a commit into it would change, so no change ID can guard the points above it (take full backups, or set Options.TrustUnguarded if nothing ever writes to it)", l.Path(), hostfile.Describe(fi.Mode()))
		}
	}
	return "#c" + hex.EncodeToString(h.Sum(nil))[:chainGuardLen], nil
}
