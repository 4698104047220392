package imageio

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/changedblocks/sdk/cbt"
)

// FuzzExtents feeds the extents decoder arbitrary bodies: it either
// returns cbt.ErrCorrupt or extents that start at 0, are contiguous and
// non-empty, never more than the body could hold, and that survive a round
// trip through JSON.
func FuzzExtents(f *testing.F) {
	for _, s := range []string{
		`[]`,
		`[{"start":0,"length":65536,"zero":false,"hole":false},{"start":65536,"length":65536,"zero":true,"hole":true}]`,
		`[{"start": 0, "length": 65536, "dirty": true, "zero": false}, {"start": 65536, "length": 1073676288, "dirty": false, "zero": false}, {"start": 1073741824, "length": 1073741824, "dirty": true, "zero": true}]`,
		`[{"start":0,"length":512,"dirty":true}]`,
		`[{"start":0,"length":9223372036854775807}]`,
		`[{"start":0,"length":1},{"start":2,"length":1}]`,
		`[{"start":"0","length":1}]`,
		`{"start":0}`,
		`[{"start":0,"length":1,"zero":null}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		exts, err := decodeExtents(bytes.NewReader(body), 1<<20)
		if err != nil {
			if !errors.Is(err, cbt.ErrCorrupt) {
				t.Fatalf("error of another class: %v", err)
			}
			return
		}
		if len(exts) > len(body)/minExtentItem {
			t.Fatalf("%d extents from %d bytes", len(exts), len(body))
		}
		var next int64
		for i, e := range exts {
			if e.Start != next || e.Length <= 0 || e.End() < e.Start {
				t.Fatalf("extent %d %+v after %d", i, e, next)
			}
			next = e.End()
		}
		again, err := json.Marshal(exts)
		if err != nil {
			t.Fatal(err)
		}
		back, err := parseExtents(again)
		if err != nil {
			t.Fatalf("re-encoded extents do not parse: %v", err)
		}
		if len(back) != len(exts) {
			t.Fatalf("round trip: %d extents, want %d", len(back), len(exts))
		}
		for i := range back {
			if back[i] != exts[i] {
				t.Fatalf("round trip: extent %d %+v, want %+v", i, back[i], exts[i])
			}
		}
	})
}
