package rhv

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/changedblocks/sdk/cbt"
)

// MaxMetadataSize bounds what ParseMetadata accepts: a vdsm record is at most
// 512 bytes (METADATA_SIZE); older file-domain .meta files are no larger.
const MaxMetadataSize = 64 << 10

// metadataRecordSize is vdsm's METADATA_SIZE: the bytes of one record.
const metadataRecordSize = 512

// The keys of a vdsm volume metadata record (lib/vdsm/storage/constants.py).
const (
	mdCap         = "CAP"
	mdSize        = "SIZE" // legacy, 512-byte sectors
	mdCTime       = "CTIME"
	mdDescription = "DESCRIPTION"
	mdDiskType    = "DISKTYPE"
	mdDomain      = "DOMAIN"
	mdFormat      = "FORMAT"
	mdGen         = "GEN"
	mdImage       = "IMAGE"
	mdLegality    = "LEGALITY"
	mdPUUID       = "PUUID"
	mdSeq         = "SEQ"
	mdType        = "TYPE"
	mdVolType     = "VOLTYPE"
	mdNone        = "NONE" // a cleared record
)

// metadataRequired are the keys vdsm's volumemetadata.parse requires, in its
// order (CAP or SIZE stands for the capacity).
var metadataRequired = []string{mdDomain, mdImage, mdPUUID, mdCap, mdFormat, mdType, mdVolType, mdDiskType, mdDescription, mdLegality, mdCTime}

// ParseMetadata parses one vdsm volume metadata record (a file domain's
// <vol>.meta, or a block domain's 512-byte slot) as vdsm's volumemetadata
// does: trailing NUL padding is stripped; lines are KEY=VALUE, split at the
// first "=", key and value trimmed; a line that is not UTF-8 is a problem
// and skipped, a line without "=" ignored; parsing stops at the first line
// starting with "EOF". SIZE (512-byte sectors) gives the capacity when CAP
// (bytes) is absent; a missing GEN or SEQ is 0.
//
// What vdsm would reject is returned as problems, not as an error: a missing
// required key (DOMAIN, IMAGE, PUUID, CAP or SIZE, FORMAT, TYPE, VOLTYPE,
// DISKTYPE, DESCRIPTION, LEGALITY, CTIME), a value that is not an integer,
// and a cleared record (a NONE key). The volume then has Status "INVALID"
// and its Problems; otherwise Status "OK". A missing PUUID sets Parent to
// UnknownParent. Keys the Volume does not model (DOMAIN, DISKTYPE, MTIME,
// POOL_UUID, anything unknown) are kept in Extra. The record holds no volume
// UUID: the caller sets ID (from the file or LV name). MDSlot is -1.
//
// An empty record (all NUL: an unused slot) is one problem, not eleven.
//
// The error is cbt.ErrCorrupt only for input larger than MaxMetadataSize.
func ParseMetadata(data []byte) (Volume, []string, error) {
	if len(data) > MaxMetadataSize {
		return Volume{}, nil, readErrorf(cbt.ErrCorrupt, "volume metadata", "%d bytes, more than the %d a record can hold: not a metadata record", len(data), MaxMetadataSize)
	}
	data = bytes.TrimRight(data, "\x00")
	v := Volume{MDSlot: -1}
	if len(bytes.TrimSpace(data)) == 0 {
		v.Parent, v.Status = UnknownParent, StatusInvalid
		v.Problems = []string{"empty metadata record (all NUL): the slot or file holds no volume"}
		return v, v.Problems, nil
	}
	md, problems := metadataLines(data)
	if val, ok := md[mdNone]; ok {
		v.Parent = UnknownParent
		v.Status = StatusInvalid
		v.Extra = map[string]string{mdNone: val}
		v.Problems = append(problems, "metadata cleared (NONE="+clip(val, 40)+"): the volume was deleted by a vdsm older than 4.20.34")
		return v, v.Problems, nil
	}
	problems = append(problems, metadataMissing(md)...)
	problems = append(problems, metadataNumbers(md, &v)...)
	v.Parent = UnknownParent
	if p, ok := md[mdPUUID]; ok {
		v.Parent = p
	}
	v.Image = md[mdImage]
	v.Format = Format(md[mdFormat])
	v.Type = md[mdType]
	v.Role = Role(md[mdVolType])
	v.Legality = Legality(md[mdLegality])
	v.Description = md[mdDescription]
	v.Extra = metadataExtra(md)
	v.Status = StatusOK
	if len(problems) > 0 {
		v.Status = StatusInvalid
		v.Problems = problems
	}
	return v, problems, nil
}

// metadataMissing returns a problem per required key md lacks (CAP or SIZE
// for the capacity).
func metadataMissing(md map[string]string) []string {
	var problems []string
	for _, key := range metadataRequired {
		if _, ok := md[key]; ok {
			continue
		}
		if key == mdCap {
			if _, ok := md[mdSize]; ok {
				continue
			}
			key = "CAP or SIZE"
		}
		problems = append(problems, "missing metadata key "+key)
	}
	return problems
}

// metadataNumbers sets the numbers of v that md gives (the capacity from
// CAP, else SIZE in sectors; CTIME, GEN, SEQ) and returns a problem per
// value that is not a number in range.
func metadataNumbers(md map[string]string, v *Volume) []string {
	var problems []string
	intKey := func(key string, dst *int64) {
		if s, ok := md[key]; ok {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				problems = append(problems, fmt.Sprintf("metadata key %s=%q is not an integer", key, clip(s, 40)))
				return
			}
			*dst = n
		}
	}
	if _, ok := md[mdCap]; ok {
		intKey(mdCap, &v.Capacity)
	} else if s, ok := md[mdSize]; ok {
		n, err := strconv.ParseInt(s, 10, 64)
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("metadata key SIZE=%q is not an integer", clip(s, 40)))
		case n < 0 || n > math.MaxInt64/512:
			problems = append(problems, fmt.Sprintf("metadata key SIZE=%d is out of range", n))
		default:
			v.Capacity = n * 512
		}
	}
	if v.Capacity < 0 {
		problems = append(problems, fmt.Sprintf("negative capacity %d", v.Capacity))
	}
	intKey(mdCTime, &v.CTime)
	intKey(mdGen, &v.Generation)
	intKey(mdSeq, &v.Sequence)
	return problems
}

// metadataExtra returns the keys of md the Volume does not model (SIZE too
// when CAP gave the capacity), or nil.
func metadataExtra(md map[string]string) map[string]string {
	var extra map[string]string
	_, hasCap := md[mdCap]
	for key, val := range md {
		switch key {
		case mdCap, mdCTime, mdGen, mdSeq, mdPUUID, mdImage, mdFormat, mdType, mdVolType, mdLegality, mdDescription:
			continue
		case mdSize:
			if !hasCap { // SIZE gave the capacity
				continue
			}
		}
		if extra == nil {
			extra = make(map[string]string)
		}
		extra[key] = val
	}
	return extra
}

// metadataLines splits a record into its keys as vdsm's _lines_to_dict
// does, and returns the lines it had to skip as problems.
func metadataLines(data []byte) (map[string]string, []string) {
	md := make(map[string]string)
	var problems []string
	for n := 1; len(data) > 0; n++ {
		var line []byte
		line, data = cutLine(data)
		if !utf8.Valid(line) {
			problems = append(problems, fmt.Sprintf("metadata line %d is not UTF-8", n))
			continue
		}
		if bytes.HasPrefix(line, []byte("EOF")) {
			break
		}
		key, val, ok := strings.Cut(string(line), "=")
		if !ok {
			continue
		}
		md[strings.TrimSpace(key)] = strings.TrimSpace(val)
	}
	return md, problems
}

// cutLine returns the first line of data and the rest, splitting at "\n",
// "\r\n" or "\r" as Python's bytes.splitlines does.
func cutLine(data []byte) (line, rest []byte) {
	i := bytes.IndexAny(data, "\r\n")
	if i < 0 {
		return data, nil
	}
	line, rest = data[:i], data[i+1:]
	if data[i] == '\r' && len(rest) > 0 && rest[0] == '\n' {
		rest = rest[1:]
	}
	return line, rest
}
