package cbt

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestChangeIDRoundTrip(t *testing.T) {
	for _, s := range []string{
		"vsphere:52 3c 9e 21 5b 3b 4a 6e-9b 2f 2d 4c 51 0e 3a 7f/4512",
		"oci:ocid1.volumebackup.oc1.iad.abcdefg",
		"qcow2:snapshot:s2",
		"libvirt:ck-2026-11-23",
		"rhv:6a1b2c3d-0000-4000-8000-000000000001",
		"mem:v1.1/3",
		"a+b-c.d:é",
	} {
		id, err := ParseChangeID(s)
		require.NoError(t, err, s)
		assert.Equal(t, s, id.String())
		assert.False(t, id.IsZero())
		scheme, value, _ := strings.Cut(s, ":")
		assert.Equal(t, scheme, id.Scheme())
		assert.Equal(t, value, id.Value())

		b, err := json.Marshal(struct{ ID ChangeID }{id})
		require.NoError(t, err)
		var back struct{ ID ChangeID }
		require.NoError(t, json.Unmarshal(b, &back))
		assert.Equal(t, id, back.ID)
	}
}

func TestChangeIDZero(t *testing.T) {
	id, err := ParseChangeID("")
	require.NoError(t, err)
	assert.True(t, id.IsZero())
	assert.Equal(t, "", id.String())
	b, err := id.MarshalText()
	require.NoError(t, err)
	assert.Empty(t, b)
	var back ChangeID
	require.NoError(t, back.UnmarshalText(nil))
	assert.True(t, back.IsZero())
}

func TestChangeIDInvalid(t *testing.T) {
	for _, s := range []string{
		"noscheme", ":value", "vsphere:", "VSphere:x", "9abc:x", "a b:x", "mem:line\nbreak",
		"mem:\x00", "mem:\xff\xfe", "abcdefghijklmnopqrstuvwxyzabcdefg:x", "mem:" + strings.Repeat("x", MaxChangeIDLength),
	} {
		_, err := ParseChangeID(s)
		assert.ErrorIs(t, err, ErrInvalidArgument, "%q", s)
		var id ChangeID
		assert.ErrorIs(t, id.UnmarshalText([]byte(s)), ErrInvalidArgument)
		assert.True(t, id.IsZero(), "a failed UnmarshalText leaves the value alone")
	}
}

func FuzzParseChangeID(f *testing.F) {
	for _, s := range []string{"", "mem:v1.1/2", "vsphere:52 aa/1", "x:", ":", "a:b:c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseChangeID(s)
		if err != nil {
			if !strings.Contains(err.Error(), "cbt: invalid argument") {
				t.Fatalf("error %q lacks its class", err)
			}
			return
		}
		if id.String() != s {
			t.Fatalf("round trip %q -> %q", s, id.String())
		}
		again, err := ParseChangeID(id.String())
		if err != nil || again != id {
			t.Fatalf("reparse %q: %v %v", s, again, err)
		}
	})
}
