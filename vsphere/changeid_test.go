package vsphere

import (
	"strings"
	"testing"

	"github.com/changedblocks/sdk/cbt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	realID1 = "52 05 a2 ce 6d 6d c9 59-d3 2e ad 19 e3 96 73 6d/5"
	realID2 = "52 2d 7b 8f ac 61 51 cc-77 4c 7b ec 91 50 bb 7b/1"
)

func TestParseChangeID(t *testing.T) {
	c, err := ParseChangeID(realID1)
	require.NoError(t, err)
	assert.Equal(t, realID1, c.Raw())
	assert.Equal(t, realID1, c.String())
	assert.Equal(t, uint64(5), c.Epoch())
	assert.Equal(t, int64(0), c.Capacity())
	assert.Equal(t, [16]byte{0x52, 0x05, 0xa2, 0xce, 0x6d, 0x6d, 0xc9, 0x59, 0xd3, 0x2e, 0xad, 0x19, 0xe3, 0x96, 0x73, 0x6d}, c.UUID())

	g, err := ParseChangeID(realID2 + "#10737418240")
	require.NoError(t, err)
	assert.Equal(t, realID2, g.Raw())
	assert.Equal(t, int64(10737418240), g.Capacity())
	assert.Equal(t, realID2+"#10737418240", g.String())
	assert.Equal(t, "vsphere:"+realID2+"#10737418240", g.CBT().String())

	up, err := ParseChangeID(strings.ToUpper(realID1))
	require.NoError(t, err)
	assert.Equal(t, c.UUID(), up.UUID())
	assert.Equal(t, strings.ToUpper(realID1), up.Raw(), "the raw form is kept as the server wrote it")

	for _, bad := range []string{
		"", "*", "/5", realID1[:46] + "/5", realID1 + "x", realID1 + "#", realID1 + "#0", realID1 + "#012", realID1 + "#-1", realID1 + "#1#2",
		strings.Replace(realID1, "-", " ", 1), strings.Replace(realID1, " ", "-", 1), strings.Replace(realID1, "52", "5g", 1),
		strings.Replace(realID1, "/5", "/", 1), strings.Replace(realID1, "/5", "/+5", 1), strings.Replace(realID1, "/5", "/99999999999999999999", 1),
		strings.Replace(realID1, "/", "#", 1), " " + realID1,
	} {
		_, err := ParseChangeID(bad)
		assert.ErrorIs(t, err, cbt.ErrInvalidArgument, "%q", bad)
	}
	assert.True(t, ChangeID{}.IsZero())
	assert.True(t, ChangeID{}.CBT().IsZero())
}

func TestNewChangeID(t *testing.T) {
	id, err := NewChangeID(realID1, 4<<20)
	require.NoError(t, err)
	assert.Equal(t, "vsphere:"+realID1+"#4194304", id.String())
	id, err = NewChangeID(realID1, 0)
	require.NoError(t, err)
	assert.Equal(t, "vsphere:"+realID1, id.String())
	for _, bad := range []struct {
		s string
		c int64
	}{{realID1 + "#5", 5}, {"nope", 1}, {realID1, -1}} {
		_, err := NewChangeID(bad.s, bad.c)
		assert.ErrorIs(t, err, cbt.ErrInvalidArgument, "%q %d", bad.s, bad.c)
	}
}

func FuzzParseChangeID(f *testing.F) {
	for _, s := range []string{realID1, realID2, realID1 + "#4194304", "*", "", "52/1", strings.ToUpper(realID2) + "#1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseChangeID(s)
		if err != nil {
			if !strings.Contains(err.Error(), "vsphere:") {
				t.Fatalf("error without the package prefix: %v", err)
			}
			return
		}
		if c.String() != s {
			t.Fatalf("ParseChangeID(%q).String() = %q", s, c.String())
		}
		back, err := ParseChangeID(c.String())
		if err != nil || back != c {
			t.Fatalf("round trip of %q: %+v, %v", s, back, err)
		}
		id := c.CBT()
		if id.Scheme() != Scheme || id.Value() != s {
			t.Fatalf("CBT() of %q = %q", s, id)
		}
		if len(c.Raw()) < 49 || c.Capacity() < 0 {
			t.Fatalf("parsed %q into %+v", s, c)
		}
	})
}
