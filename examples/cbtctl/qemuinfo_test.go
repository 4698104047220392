package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// decodeStrict decodes stdout as exactly one JSON value on one line, with no
// member v does not know.
func decodeStrict(t *testing.T, stdout string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(v), "stdout: %s", stdout)
	require.False(t, dec.More(), "more than one JSON value: %s", stdout)
	require.Equal(t, 1, strings.Count(stdout, "\n"), "one line: %s", stdout)
}

// requireSnapshotsMatch compares the snapshots cbtctl printed with those
// qemu-img reports.
func requireSnapshotsMatch(t *testing.T, want qemuImgInfo, got []snapshotJSON) {
	t.Helper()
	require.Len(t, got, len(want.Snapshots))
	for i, w := range want.Snapshots {
		g := got[i]
		assert.Equal(t, w.ID, g.ID)
		assert.Equal(t, w.Name, g.Name)
		date, err := time.Parse(time.RFC3339Nano, g.Date)
		require.NoError(t, err)
		assert.True(t, date.Equal(time.Unix(w.DateSec, w.DateNsec)), "date %s, want %s", g.Date, time.Unix(w.DateSec, w.DateNsec))
		assert.Equal(t, w.VMClockSec*1e9+w.VMClockNsec, g.VMClockNsec)
		assert.Equal(t, w.VMStateSize, g.VMStateSize)
		if w.ICount != nil {
			assert.Equal(t, *w.ICount, g.ICount)
		} else {
			assert.EqualValues(t, -1, g.ICount)
		}
		assert.Equal(t, want.VirtualSize, g.DiskSize)
		assert.True(t, strings.HasPrefix(g.ChangeID, "qcow2:snapshot:"), g.ChangeID)
	}
}

func TestQemuInfoJSON(t *testing.T) {
	c := newQemuChain(t)
	want := qemuInfoJSON(t, c.top)
	r := cbtctl(t, "qemu", "info", c.top, "--format", "json")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Empty(t, r.stderr)
	var got infoJSON
	decodeStrict(t, r.stdout, &got)

	assert.Equal(t, c.top, got.Path)
	assert.Equal(t, "qcow2", got.Format)
	assert.Equal(t, 3, got.Version)
	assert.Equal(t, want.FormatSpecific.Data.Compat, got.Compat)
	assert.Equal(t, want.VirtualSize, got.VirtualSize)
	assert.Equal(t, want.ClusterSize, got.ClusterSize)
	assert.Equal(t, want.FormatSpecific.Data.ExtendedL2, got.ExtendedL2)
	assert.Equal(t, want.FormatSpecific.Data.LazyRefcounts, got.LazyRefcounts)
	assert.Equal(t, want.DirtyFlag, got.Dirty)
	assert.Equal(t, want.FormatSpecific.Data.CompressionType, got.Compression)
	assert.Equal(t, want.FormatSpecific.Data.RefcountBits, got.RefcountBits)
	assert.Equal(t, want.BackingFilename, got.BackingFile)
	assert.Equal(t, want.BackingFilenameFormat, got.BackingFormat)
	assert.Empty(t, got.Encryption)
	assert.Empty(t, got.DataFile)
	assert.True(t, got.BitmapsConsistent)
	require.Len(t, got.Chain, 2)
	assert.Equal(t, layerJSON{Path: c.top, Format: "qcow2", VirtualSize: 4 * mib, Depth: 0}, got.Chain[0])
	assert.Equal(t, layerJSON{Path: c.base, Name: "base.qcow2", Format: "qcow2", VirtualSize: 4 * mib, Depth: 1}, got.Chain[1])
	requireSnapshotsMatch(t, want, got.Snapshots)
	require.Len(t, got.Bitmaps, 1)
	assert.Equal(t, bitmapJSON{Name: "b1", Granularity: 64 * kib, Flags: []string{"auto"}, Enabled: true, Usable: true, ChangeID: "qcow2:bitmap:b1"}, got.Bitmaps[0])
	wb := want.FormatSpecific.Data.Bitmaps[0]
	assert.Equal(t, wb.Name, got.Bitmaps[0].Name)
	assert.Equal(t, wb.Granularity, got.Bitmaps[0].Granularity)
	assert.Equal(t, wb.Flags, got.Bitmaps[0].Flags)
}

// TestQemuInfoText checks the lines qemu-img info writes the same way.
func TestQemuInfoText(t *testing.T) {
	c := newQemuChain(t)
	want := string(qemuImg(t, "info", "-f", "qcow2", c.top))
	r := cbtctl(t, "qemu", "info", c.top)
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Empty(t, r.stderr)
	got := r.stdout
	inBitmaps := false
	for l := range strings.Lines(want) {
		if l == "    bitmaps:\n" || inBitmaps && strings.HasPrefix(l, "        ") {
			inBitmaps = true
			continue // qemu-img's bitmap list; cbtctl shows a table
		}
		inBitmaps = false
		if strings.HasPrefix(l, "disk size:") || strings.HasPrefix(l, "    corrupt:") {
			continue // not shown: the allocation of the file, the corrupt bit
		}
		assert.Contains(t, got, l, "qemu-img info line")
	}
	assert.Regexp(t, `(?m)^Bitmaps:\nNAME +GRANULARITY +FLAGS +BASE\nb1 +65536 +auto +usable$`, got)
	assert.Regexp(t, `(?m)^Backing chain:\nDEPTH +FORMAT +VIRTUAL SIZE +PATH +NAME\n0 +qcow2 +4194304 +`+regexp.QuoteMeta(c.top)+` +-\n1 +qcow2 +4194304 +`+regexp.QuoteMeta(c.base)+` +base\.qcow2$`, got)
}

func TestQemuSnapshots(t *testing.T) {
	c := newQemuChain(t)
	// Text: what qemu-img snapshot -l prints, byte for byte, then each
	// snapshot's change ID.
	r := cbtctl(t, "qemu", "snapshots", c.top)
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	text := r.stdout
	table, ids, ok := strings.Cut(text, "Change IDs:\n")
	require.True(t, ok, "the text shows the change IDs: %s", text)
	assert.Equal(t, string(qemuImg(t, "snapshot", "-l", c.top)), table)

	r = cbtctl(t, "qemu", "snapshots", "--format", "json", c.top)
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	var got []snapshotJSON
	decodeStrict(t, r.stdout, &got)
	requireSnapshotsMatch(t, qemuInfoJSON(t, c.top), got)
	// The text's change IDs are the JSON's: the guarded ones
	// (qcow2:snapshot:NAME#SEC.NSEC), one a snapshot, in table order.
	lines := strings.Split(strings.TrimSuffix(ids, "\n"), "\n")
	require.Len(t, lines, 1+len(got), ids)
	assert.Regexp(t, `^ID +TAG +CHANGE ID$`, lines[0])
	for i, s := range got {
		assert.Regexp(t, `^`+regexp.QuoteMeta(s.ID)+` +`+regexp.QuoteMeta(s.Name)+` +`+regexp.QuoteMeta(s.ChangeID)+`$`, lines[1+i])
		assert.Regexp(t, `^qcow2:snapshot:s\d#\d+\.\d+#c[0-9a-f]{16}$`, s.ChangeID)
	}

	// A snapshot's changeId names it for --since.
	r = cbtctl(t, "qemu", "changes", c.top, "--since", got[0].ChangeID, "--at", got[1].ChangeID, "--format", "json")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Equal(t, got[1].ChangeID, decodeOne(t, r.stdout).changeID(t))
}

func TestQemuBitmaps(t *testing.T) {
	c := newQemuChain(t)
	qemuImg(t, "bitmap", "--add", "--disable", "-g", "128k", c.top, "b2")
	r := cbtctl(t, "qemu", "bitmaps", c.top)
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	require.Len(t, lines, 3, r.stdout)
	assert.Regexp(t, `^NAME +GRANULARITY +FLAGS +BASE$`, lines[0])
	assert.Regexp(t, `^b1 +65536 +auto +usable$`, lines[1])
	assert.Regexp(t, `^b2 +131072 +- +unusable: .+$`, lines[2])

	r = cbtctl(t, "qemu", "bitmaps", c.top, "--format=json")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	var got []bitmapJSON
	decodeStrict(t, r.stdout, &got)
	want := qemuInfoJSON(t, c.top).FormatSpecific.Data.Bitmaps
	require.Len(t, got, len(want))
	for i, w := range want {
		assert.Equal(t, w.Name, got[i].Name)
		assert.Equal(t, w.Granularity, got[i].Granularity)
		assert.Equal(t, w.Flags, got[i].Flags)
		assert.Equal(t, "qcow2:bitmap:"+w.Name, got[i].ChangeID)
	}
	assert.True(t, got[0].Enabled && got[0].Usable && !got[0].InUse)
	assert.Empty(t, got[0].Reason)
	assert.False(t, got[1].Enabled || got[1].Usable || got[1].InUse)
	assert.NotEmpty(t, got[1].Reason, "why a disabled bitmap cannot be a base")
}

func TestQemuEmptyImage(t *testing.T) {
	needQemuTools(t)
	img := filepath.Join(t.TempDir(), "empty.qcow2")
	qemuImg(t, "create", "-q", "-f", "qcow2", img, "1M")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"snapshots"}, ""}, // as qemu-img snapshot -l
		{[]string{"snapshots", "--format", "json"}, "[]\n"},
		{[]string{"bitmaps", "--format", "json"}, "[]\n"},
		{[]string{"bitmaps"}, "NAME  GRANULARITY  FLAGS  BASE\n"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := cbtctl(t, append([]string{"qemu", tc.args[0], img}, tc.args[1:]...)...)
			require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
			assert.Equal(t, tc.want, r.stdout)
		})
	}
	r := cbtctl(t, "qemu", "changes", img, "--full", "--format", "json")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	empty := decodeOne(t, r.stdout)
	assert.EqualValues(t, 1*mib, *empty.Capacity)
	assert.Empty(t, empty.Extents, "nothing allocated")

	r = cbtctl(t, "qemu", "info", img, "--format", "json")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	var got infoJSON
	decodeStrict(t, r.stdout, &got)
	assert.Equal(t, []snapshotJSON{}, got.Snapshots)
	assert.Equal(t, []bitmapJSON{}, got.Bitmaps)
	assert.Len(t, got.Chain, 1)
	assert.Contains(t, r.stdout, `"snapshots":[]`)
}

// TestQemuViewErrorMidTable: the tables are printed as they are read, so a
// fault in the middle of one (here a snapshot id or a bitmap name that
// appears twice) ends the output after the entries before it, its line
// ended (the JSON unterminated), and is reported with exit status 1.
func TestQemuViewErrorMidTable(t *testing.T) {
	ids := []string{"1", "2", "3", "2", "5"}
	snaps := craftImage(t, craftedTables{snapshots: len(ids), id: func(i int) string { return ids[i] }, name: func(i int) string { return "s" + ids[i] }})
	bitmaps := craftImage(t, craftedTables{bitmaps: len(ids), name: func(i int) string { return "b" + ids[i] }})
	for _, tc := range []struct {
		args []string
		want string // stdout, a regular expression
	}{
		{[]string{"snapshots", snaps}, `^Snapshot list:\nID .*\n1 +s1 .*\n2 +s2 .*\n3 +s3 .*\n$`},
		{[]string{"snapshots", snaps, "--format", "json"}, `^\[\{"id":"1",.*\},\{"id":"2",.*\},\{"id":"3",.*"\}\n$`},
		{[]string{"info", snaps}, `^image: .*\n(.*\n)*3 +s3 .*\n$`},
		{[]string{"info", snaps, "--format", "json"}, `^\{"path":.*"snapshots":\[\{"id":"1",.*\{"id":"3",.*"\}\n$`},
		{[]string{"bitmaps", bitmaps}, `^NAME +GRANULARITY +FLAGS +BASE\nb1 .*\nb2 .*\nb3 .*\n$`},
		{[]string{"bitmaps", bitmaps, "--format", "json"}, `^\[\{"name":"b1",.*\{"name":"b3",.*"\}\n$`},
		{[]string{"info", bitmaps}, `^image: .*\n(.*\n)*Bitmaps:\nNAME +GRANULARITY +FLAGS +BASE\nb1 .*\nb2 .*\nb3 .*\n$`},
		{[]string{"info", bitmaps, "--format", "json"}, `^\{"path":.*"snapshots":\[\],"bitmaps":\[\{"name":"b1",.*\{"name":"b3",.*"\}\n$`},
	} {
		kind := map[string]string{snaps: "snapshot-table", bitmaps: "bitmap-directory"}[tc.args[1]]
		t.Run(tc.args[0]+"/"+kind+"/"+strings.Join(tc.args[2:], ""), func(t *testing.T) {
			r := cbtctl(t, append([]string{"qemu"}, tc.args...)...)
			assert.Equal(t, exitError, r.code, "stderr: %s", r.stderr)
			assert.Regexp(t, tc.want, r.stdout)
			assert.NotRegexp(t, `[sb]5`, r.stdout, "nothing after the fault")
			assert.Regexp(t, `^cbtctl qemu `+tc.args[0]+`: .*corrupt.*(both|twice)`, r.stderr)
		})
	}
}

// TestQemuViewWriteError: output that cannot be written (a closed pipe) in
// the middle of a table ends the command, reported once with exit status 1.
func TestQemuViewWriteError(t *testing.T) {
	id := func(i int) string { return fmt.Sprint(i + 1) }
	img := craftImage(t, craftedTables{snapshots: 2000, id: id, name: func(i int) string { return "snapshot-" + id(i) }})
	for _, args := range [][]string{{"snapshots"}, {"snapshots", "--format", "json"}, {"info"}, {"info", "--format", "json"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var errOut bytes.Buffer
			code := runContext(t.Context(), append([]string{"qemu", args[0], img}, args[1:]...), failWriter{}, &errOut)
			assert.Equal(t, exitError, code)
			assert.Equal(t, 1, strings.Count(errOut.String(), "writing the output: broken pipe"), errOut.String())
			assert.Contains(t, errOut.String(), "output could not be written")
		})
	}
}
