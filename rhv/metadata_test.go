package rhv

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt"
)

// metaRecord is what vdsm's VolumeMetadata holds, to write records in its
// storage format.
type metaRecord struct {
	domain, image, puuid     string
	capacity                 int64
	format, typ, voltype     string
	disktype, desc, legality string
	ctime, gen, seq          int64
	extra                    map[string]string
	omit                     []string // keys to leave out
	withSizeToo              bool     // v5 with SIZE as well (a v4->v5 conversion)
	padTo512, crlf           bool
}

// storageFormat writes rec as vdsm's VolumeMetadata.storage_format does for
// domainVersion: one KEY=VALUE line per key, keys sorted, then "EOF".
func (rec metaRecord) storageFormat(domainVersion int) []byte {
	kv := map[string]string{
		"CTIME": fmt.Sprint(rec.ctime), "DESCRIPTION": rec.desc, "DISKTYPE": rec.disktype,
		"DOMAIN": rec.domain, "FORMAT": rec.format, "GEN": fmt.Sprint(rec.gen), "IMAGE": rec.image,
		"LEGALITY": rec.legality, "PUUID": rec.puuid, "TYPE": rec.typ, "VOLTYPE": rec.voltype,
	}
	if domainVersion <= 4 {
		kv["MTIME"] = "0"
		kv["SIZE"] = fmt.Sprint(rec.capacity / 512)
	} else {
		kv["CAP"] = fmt.Sprint(rec.capacity)
		kv["SEQ"] = fmt.Sprint(rec.seq)
		if rec.withSizeToo {
			kv["SIZE"] = fmt.Sprint(rec.capacity / 512)
		}
	}
	for k, v := range rec.extra {
		kv[k] = v
	}
	for _, k := range rec.omit {
		delete(kv, k)
	}
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	nl := "\n"
	if rec.crlf {
		nl = "\r\n"
	}
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s%s", k, kv[k], nl)
	}
	b.WriteString("EOF" + nl)
	if rec.padTo512 && b.Len() < 512 {
		b.Write(make([]byte, 512-b.Len()))
	}
	return b.Bytes()
}

func sampleRecord() metaRecord {
	return metaRecord{
		domain: "3386c6f2-926f-42c4-839c-38287fac8998", image: "ae863f0d-0f24-41d4-b6ed-333c6634c7dc",
		puuid: "0574c3f6-3d44-4cc7-98e3-6d90626dd95f", capacity: 10 << 30,
		format: "COW", typ: "SPARSE", voltype: "LEAF", disktype: "DATA",
		desc:     `{"DiskAlias":"vm1_Disk1","DiskDescription":""}`,
		legality: "LEGAL", ctime: 1600000000, gen: 3, seq: 7,
	}
}

func TestMetadataV5ExactBytes(t *testing.T) {
	// The v5 example of the notes (vdsm test_storage_format_v5), byte for byte.
	want := "CAP=10737418240\nCTIME=1600000000\nDESCRIPTION={\"DiskAlias\":\"vm1_Disk1\",\"DiskDescription\":\"\"}\n" +
		"DISKTYPE=DATA\nDOMAIN=3386c6f2-926f-42c4-839c-38287fac8998\nFORMAT=COW\nGEN=3\n" +
		"IMAGE=ae863f0d-0f24-41d4-b6ed-333c6634c7dc\nLEGALITY=LEGAL\nPUUID=0574c3f6-3d44-4cc7-98e3-6d90626dd95f\n" +
		"SEQ=7\nTYPE=SPARSE\nVOLTYPE=LEAF\nEOF\n"
	require.Equal(t, want, string(sampleRecord().storageFormat(5)))

	v, problems, err := ParseMetadata([]byte(want))
	require.NoError(t, err)
	assert.Empty(t, problems)
	assert.Equal(t, Volume{
		Parent: "0574c3f6-3d44-4cc7-98e3-6d90626dd95f", Image: "ae863f0d-0f24-41d4-b6ed-333c6634c7dc",
		Format: FormatCOW, Type: "SPARSE", Role: RoleLeaf, Legality: LegalityLegal, Capacity: 10 << 30,
		Generation: 3, Sequence: 7, CTime: 1600000000, Description: `{"DiskAlias":"vm1_Disk1","DiskDescription":""}`,
		Status: StatusOK, MDSlot: -1,
		Extra: map[string]string{"DOMAIN": "3386c6f2-926f-42c4-839c-38287fac8998", "DISKTYPE": "DATA"},
	}, v)
}

func TestMetadataV4ExactBytes(t *testing.T) {
	rec := sampleRecord()
	rec.capacity = 10<<30 + 512 // SIZE counts 512-byte sectors
	want := "CTIME=1600000000\nDESCRIPTION={\"DiskAlias\":\"vm1_Disk1\",\"DiskDescription\":\"\"}\n" +
		"DISKTYPE=DATA\nDOMAIN=3386c6f2-926f-42c4-839c-38287fac8998\nFORMAT=COW\nGEN=3\n" +
		"IMAGE=ae863f0d-0f24-41d4-b6ed-333c6634c7dc\nLEGALITY=LEGAL\nMTIME=0\n" +
		"PUUID=0574c3f6-3d44-4cc7-98e3-6d90626dd95f\nSIZE=20971521\nTYPE=SPARSE\nVOLTYPE=LEAF\nEOF\n"
	require.Equal(t, want, string(rec.storageFormat(4)))

	rec.padTo512 = true
	data := rec.storageFormat(4)
	require.Len(t, data, 512)
	v, problems, err := ParseMetadata(data)
	require.NoError(t, err)
	assert.Empty(t, problems)
	assert.Equal(t, int64(10<<30+512), v.Capacity)
	assert.Equal(t, StatusOK, v.Status)
	assert.Zero(t, v.Sequence, "v4 has no SEQ: 0")
	assert.Equal(t, map[string]string{"DOMAIN": rec.domain, "DISKTYPE": "DATA", "MTIME": "0"}, v.Extra)
}

func TestMetadataRoundTrip(t *testing.T) {
	for _, version := range []int{3, 4, 5} {
		for _, rec := range []metaRecord{
			sampleRecord(),
			{domain: "d", image: "i", puuid: BlankUUID, capacity: 1 << 40, format: "RAW", typ: "PREALLOCATED",
				voltype: "INTERNAL", disktype: "2", desc: "", legality: "ILLEGAL", ctime: 1, gen: 999, seq: 1<<32 - 1, padTo512: true},
			{domain: "d", image: "i", puuid: "p", capacity: 512, format: "COW", typ: "SPARSE", voltype: "SHARED",
				disktype: "ISOF", desc: "a = b", legality: "FAKE", crlf: true},
		} {
			t.Run(fmt.Sprintf("v%d/%s", version, rec.voltype), func(t *testing.T) {
				v, problems, err := ParseMetadata(rec.storageFormat(version))
				require.NoError(t, err)
				require.Empty(t, problems)
				assert.Equal(t, rec.puuid, v.Parent)
				assert.Equal(t, rec.image, v.Image)
				assert.Equal(t, rec.capacity, v.Capacity)
				assert.Equal(t, Format(rec.format), v.Format)
				assert.Equal(t, rec.typ, v.Type)
				assert.Equal(t, Role(rec.voltype), v.Role)
				assert.Equal(t, Legality(rec.legality), v.Legality)
				assert.Equal(t, rec.desc, v.Description)
				assert.Equal(t, rec.ctime, v.CTime)
				assert.Equal(t, rec.gen, v.Generation)
				if version >= 5 {
					assert.Equal(t, rec.seq, v.Sequence)
				}
				assert.Equal(t, rec.domain, v.Extra["DOMAIN"])
				assert.Equal(t, rec.disktype, v.Extra["DISKTYPE"])
				assert.Equal(t, StatusOK, v.Status)
			})
		}
	}
}

func TestMetadataCapWinsOverSize(t *testing.T) {
	rec := sampleRecord()
	rec.withSizeToo = true
	rec.extra = map[string]string{"SIZE": "1"} // disagrees: CAP is the truth
	v, problems, err := ParseMetadata(rec.storageFormat(5))
	require.NoError(t, err)
	assert.Empty(t, problems)
	assert.Equal(t, rec.capacity, v.Capacity)
	assert.Equal(t, "1", v.Extra["SIZE"], "SIZE kept when CAP gave the capacity")
}

func TestMetadataStopsAtEOFAndKeepsUnknownKeys(t *testing.T) {
	data := append(sampleRecord().storageFormat(5), "LEGALITY=ILLEGAL\n"...) // after EOF: ignored
	data = bytes.Replace(data, []byte("EOF\n"), []byte("POOL_UUID=\nNOTAKEY\n  FOO = bar baz \nEOF\n"), 1)
	v, problems, err := ParseMetadata(data)
	require.NoError(t, err)
	assert.Empty(t, problems)
	assert.Equal(t, LegalityLegal, v.Legality)
	assert.Equal(t, "", v.Extra["POOL_UUID"])
	assert.Contains(t, v.Extra, "POOL_UUID")
	assert.Equal(t, "bar baz", v.Extra["FOO"])
	assert.NotContains(t, v.Extra, "NOTAKEY")

	// A line starting with EOF ends the record, whatever follows on it.
	v, _, err = ParseMetadata([]byte("EOFX\nCAP=1\n"))
	require.NoError(t, err)
	assert.Zero(t, v.Capacity)
}

func TestMetadataMissingKeys(t *testing.T) {
	for _, key := range []string{"DOMAIN", "IMAGE", "PUUID", "CAP", "FORMAT", "TYPE", "VOLTYPE", "DISKTYPE", "DESCRIPTION", "LEGALITY", "CTIME"} {
		t.Run(key, func(t *testing.T) {
			rec := sampleRecord()
			rec.omit = []string{key}
			v, problems, err := ParseMetadata(rec.storageFormat(5))
			require.NoError(t, err)
			want := key
			if key == "CAP" {
				want = "CAP or SIZE"
			}
			assert.Equal(t, []string{"missing metadata key " + want}, problems)
			assert.Equal(t, StatusInvalid, v.Status)
			assert.Equal(t, problems, v.Problems)
			if key == "PUUID" {
				assert.Equal(t, UnknownParent, v.Parent)
			}
			f := volumeFindings(v)
			require.Len(t, f, 1)
			assert.Equal(t, KindInvalidMetadata, f[0].Kind)
			assert.Contains(t, f[0].Message, want)
		})
	}
	// GEN and SEQ are optional: 0.
	rec := sampleRecord()
	rec.omit = []string{"GEN", "SEQ"}
	v, problems, err := ParseMetadata(rec.storageFormat(5))
	require.NoError(t, err)
	assert.Empty(t, problems)
	assert.Zero(t, v.Generation)
	assert.Zero(t, v.Sequence)
}

func TestMetadataBadValues(t *testing.T) {
	for _, tc := range []struct{ key, val string }{
		{"CAP", "not_an_integer"}, {"CTIME", "x"}, {"GEN", "1.5"}, {"SEQ", "-"},
	} {
		rec := sampleRecord()
		rec.extra = map[string]string{tc.key: tc.val}
		v, problems, err := ParseMetadata(rec.storageFormat(5))
		require.NoError(t, err)
		require.Len(t, problems, 1, tc.key)
		assert.Contains(t, problems[0], tc.key)
		assert.Equal(t, StatusInvalid, v.Status)
	}
	// SIZE too large to count bytes.
	rec := sampleRecord()
	rec.extra = map[string]string{"SIZE": "9223372036854775807"}
	v, problems, err := ParseMetadata(rec.storageFormat(4))
	require.NoError(t, err)
	require.Len(t, problems, 1)
	assert.Equal(t, StatusInvalid, v.Status)
}

func TestMetadataNotUTF8(t *testing.T) {
	data := bytes.Replace(sampleRecord().storageFormat(5), []byte("LEGALITY=LEGAL"), []byte("LEGALITY=\xff\xfe"), 1)
	v, problems, err := ParseMetadata(data)
	require.NoError(t, err)
	assert.Equal(t, []string{"metadata line 9 is not UTF-8", "missing metadata key LEGALITY"}, problems)
	assert.Equal(t, StatusInvalid, v.Status)
}

func TestMetadataCleared(t *testing.T) {
	// vdsm's CLEARED_VOLUME_METADATA: NONE=###... then EOF, NUL padded.
	data := append([]byte("NONE="+strings.Repeat("#", 502)+"\nEOF\n"), make([]byte, 200)...)
	v, problems, err := ParseMetadata(data)
	require.NoError(t, err)
	require.Len(t, problems, 1)
	assert.Contains(t, problems[0], "cleared")
	assert.Equal(t, StatusInvalid, v.Status)
	assert.Equal(t, UnknownParent, v.Parent)
	f := volumeFindings(v)
	require.Len(t, f, 1)
	assert.Equal(t, KindMetadataCleared, f[0].Kind)
}

func TestMetadataEmptyAndTooLarge(t *testing.T) {
	v, problems, err := ParseMetadata(make([]byte, 512)) // an unused slot: all NUL
	require.NoError(t, err)
	assert.Equal(t, []string{"empty metadata record (all NUL): the slot or file holds no volume"}, problems)
	assert.Equal(t, StatusInvalid, v.Status)

	_, _, err = ParseMetadata(make([]byte, MaxMetadataSize+1))
	require.Error(t, err)
	assert.True(t, errors.Is(err, cbt.ErrCorrupt))
}
