package vcsimcbt

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestChangeIDFormat(t *testing.T) {
	// The two published examples (notes §3.2).
	for _, s := range []string{
		"52 05 a2 ce 6d 6d c9 59-d3 2e ad 19 e3 96 73 6d/5",
		"52 2d 7b 8f ac 61 51 cc-77 4c 7b ec 91 50 bb 7b/1",
	} {
		uuid, n, ok := parseChangeID(s)
		assert.True(t, ok, s)
		assert.Equal(t, s, formatChangeID(uuid, n))
	}
	for _, s := range []string{
		"", "*", "/5", "52 05 a2 ce 6d 6d c9 59-d3 2e ad 19 e3 96 73 6d",
		"52 05 a2 ce 6d 6d c9 59-d3 2e ad 19 e3 96 73 6d/",
		"52 05 a2 ce 6d 6d c9 59-d3 2e ad 19 e3 96 73 6d/-1",
		"52 05 a2 ce 6d 6d c9 59-d3 2e ad 19 e3 96 73 6d/+1",
		"52 05 a2 ce 6d 6d c9 59-d3 2e ad 19 e3 96 73 6d/99999999999999999999",
		"52 05 A2 ce 6d 6d c9 59-d3 2e ad 19 e3 96 73 6d/5",
		"52 05 a2 ce 6d 6d c9 59 d3 2e ad 19 e3 96 73 6d/5",
		"52-05 a2 ce 6d 6d c9 59-d3 2e ad 19 e3 96 73 6d/5",
		"5205a2ce6d6dc959-d32ead19e396736d/5",
	} {
		_, _, ok := parseChangeID(s)
		assert.False(t, ok, s)
	}
	for range 100 {
		u := newUUID()
		assert.True(t, validUUID(u), u)
	}
}
