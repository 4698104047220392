package imageio

import (
	"strings"
	"testing"

	"github.com/changedblocks/sdk/cbt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Old servers omit zero and hole (zero context) or zero (dirty context):
// missing flags are false.
func TestImageioOldServerFlags(t *testing.T) {
	exts, err := parseExtents([]byte(`[{"start":0,"length":65536,"zero":false},{"start":65536,"length":65536,"zero":true}]`))
	require.NoError(t, err)
	assert.Equal(t, []Extent{{Start: 0, Length: 65536}, {Start: 65536, Length: 65536, Zero: true}}, exts)

	// The documented dirty example (docs/images.md).
	exts, err = parseExtents([]byte(`[{"start": 0, "length": 65536, "dirty": true, "zero": false},
 {"start": 65536, "length": 1073676288, "dirty": false, "zero": false},
 {"start": 1073741824, "length": 1073741824, "dirty": true, "zero": true}]`))
	require.NoError(t, err)
	assert.Equal(t, []Extent{{Start: 0, Length: 65536, Dirty: true}, {Start: 65536, Length: 1073676288},
		{Start: 1073741824, Length: 1073741824, Dirty: true, Zero: true}}, exts)

	exts, err = parseExtents([]byte(`[{"start":0,"length":512,"dirty":true}]`))
	require.NoError(t, err)
	assert.Equal(t, []Extent{{Start: 0, Length: 512, Dirty: true}}, exts)
}

func TestExtentsCorrupt(t *testing.T) {
	for name, body := range map[string]string{
		"not json":        `hello`,
		"object":          `{"start":0}`,
		"gap":             `[{"start":0,"length":1},{"start":2,"length":1}]`,
		"overlap":         `[{"start":0,"length":2},{"start":1,"length":1}]`,
		"not from 0":      `[{"start":5,"length":1}]`,
		"descending":      `[{"start":0,"length":4},{"start":0,"length":4}]`,
		"zero length":     `[{"start":0,"length":0}]`,
		"negative":        `[{"start":0,"length":-1}]`,
		"negative start":  `[{"start":-1,"length":2}]`,
		"float":           `[{"start":0,"length":1.5}]`,
		"string number":   `[{"start":"0","length":1}]`,
		"missing length":  `[{"start":0}]`,
		"overflow":        `[{"start":0,"length":9223372036854775807},{"start":9223372036854775807,"length":1}]`,
		"huge":            `[{"start":0,"length":99999999999999999999}]`,
		"trailing":        `[{"start":0,"length":1}] []`,
		"unterminated":    `[{"start":0,"length":1}`,
		"bool not flag":   `[{"start":0,"length":1,"zero":"yes"}]`,
		"nested garbage":  `[[1]]`,
		"null item":       `[null]`,
		"array of number": `[1]`,
	} {
		_, err := parseExtents([]byte(body))
		assert.ErrorIs(t, err, cbt.ErrCorrupt, name)
	}
	exts, err := parseExtents([]byte(`[]`))
	require.NoError(t, err)
	assert.Empty(t, exts)

	_, err = decodeExtents(strings.NewReader(`[{"start":0,"length":1},{"start":1,"length":1}]`), 30)
	require.ErrorIs(t, err, cbt.ErrCorrupt)
	assert.Contains(t, err.Error(), "larger than 30 bytes")
}
