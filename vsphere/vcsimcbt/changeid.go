package vcsimcbt

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
)

// Star is the change ID that asks for the areas in use ("*").
const Star = "*"

// newUUID returns a change-epoch UUID in ESXi's notation: 16 lower-case hex
// bytes separated by spaces, with a dash between the 8th and the 9th, e.g.
// "52 05 a2 ce 6d 6d c9 59-d3 2e ad 19 e3 96 73 6d". The first byte is 0x52
// as in every published example.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[0] = 0x52
	var sb strings.Builder
	for i, x := range b {
		switch i {
		case 0:
		case 8:
			sb.WriteByte('-')
		default:
			sb.WriteByte(' ')
		}
		sb.WriteString(hex.EncodeToString([]byte{x}))
	}
	return sb.String()
}

// formatChangeID returns "<uuid>/<point>".
func formatChangeID(uuid string, point int64) string {
	return uuid + "/" + strconv.FormatInt(point, 10)
}

// parseChangeID splits "<uuid>/<n>" and checks the UUID's exact shape (as
// vsphere-csi-driver's IsValidChangeId does) and that n is a non-negative
// decimal number. ok is false for anything else, "*" included.
func parseChangeID(s string) (uuid string, point int64, ok bool) {
	uuid, num, found := strings.Cut(s, "/")
	if !found || !validUUID(uuid) || num == "" {
		return "", 0, false
	}
	for _, c := range num {
		if c < '0' || c > '9' {
			return "", 0, false
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return "", 0, false
	}
	return uuid, n, true
}

// validUUID reports whether u is 16 lower-case hex bytes separated by single
// spaces, with a dash instead of the 8th space.
func validUUID(u string) bool {
	if len(u) != 16*3-1 {
		return false
	}
	for i := 0; i < len(u); i++ {
		c := u[i]
		switch {
		case i%3 == 2:
			want := byte(' ')
			if i == 8*3-1 {
				want = '-'
			}
			if c != want {
				return false
			}
		case (c < '0' || c > '9') && (c < 'a' || c > 'f'):
			return false
		}
	}
	return true
}
