package rhv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/changedblocks/sdk/cbt"
)

// MaxRESTSize bounds the JSON ReadREST and ReadDump read: 64 MiB, some
// hundred thousand disk snapshots.
const MaxRESTSize = 64 << 20

// restRef is a link to another object: {"id": "...", "href": "..."}.
type restRef struct {
	ID string `json:"id"`
}

// restNumber is a number oVirt's JSON writes as a string ("1073741824"),
// accepted as a plain number too.
type restNumber struct {
	n   int64
	set bool
}

func (r *restNumber) UnmarshalJSON(b []byte) error {
	s := string(bytes.TrimSpace(b))
	if s == "null" {
		return nil
	}
	if uq, err := strconv.Unquote(s); err == nil {
		s = uq
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("%q is not an integer", clip(s, 40))
	}
	r.n, r.set = n, true
	return nil
}

// restDiskSnapshot is one disk_snapshot of the oVirt REST API (JSON).
type restDiskSnapshot struct {
	ID              string          `json:"id"`
	Disk            *restRef        `json:"disk"`
	Parent          *restRef        `json:"parent"`
	Snapshot        *restRef        `json:"snapshot"`
	ImageID         string          `json:"image_id"`
	Format          string          `json:"format"`
	Status          string          `json:"status"`
	Description     string          `json:"description"`
	ProvisionedSize restNumber      `json:"provisioned_size"`
	Sparse          json.RawMessage `json:"sparse"`
	Href            string          `json:"href"`
}

// restDiskSnapshots is the answer of GET .../disksnapshots.
type restDiskSnapshots struct {
	DiskSnapshot []restDiskSnapshot `json:"disk_snapshot"`
}

// ReadREST reads volumes from the oVirt REST API's disk snapshots in JSON
// (Accept: application/json): the list GET /ovirt-engine/api/disks/{disk}/
// disksnapshots or /storagedomains/{sd}/disksnapshots returns,
// {"disk_snapshot":[...]}, or one disk snapshot object. A disk snapshot's
// id is the volume's ID, disk.id its Image (else the disk of its href,
// .../disks/DISK/disksnapshots/ID) and parent.id its Parent; the
// API omits parent for the base volume, which gets BlankUUID. format
// (cow, raw) gives Format, provisioned_size (a string in oVirt's JSON, or a
// number) Capacity, status (ok, illegal, locked) Status in upper case and
// Legality (ILLEGAL for illegal, else LEGAL), sparse (true, false) Type.
// The VM snapshot's id is kept in Extra["snapshot"]. The engine lists the
// active volume only with include_active=true (4.4.3+) and a template's
// volume only with include_template=true (4.4.8+).
//
// Errors: cbt.ErrCorrupt for input that is not such JSON (XML is named as
// such), a disk snapshot without an id, or more than MaxRESTSize bytes;
// errors of r are wrapped in cbt.ErrCorrupt.
func ReadREST(r io.Reader) ([]Volume, error) {
	data, err := readAllLimited(r, MaxRESTSize, "REST disk snapshots")
	if err != nil {
		return nil, err
	}
	trimmed := bytes.TrimSpace(data)
	if bytes.HasPrefix(trimmed, []byte("<")) {
		return nil, readErrorf(cbt.ErrCorrupt, "REST disk snapshots", "this is XML: request the disk snapshots with the header Accept: application/json")
	}
	var list restDiskSnapshots
	if bytes.Contains(trimmed, []byte(`"disk_snapshot"`)) {
		if err := json.Unmarshal(trimmed, &list); err != nil {
			return nil, fmt.Errorf("%w: rhv: REST disk snapshots: %w", cbt.ErrCorrupt, err)
		}
	} else {
		var one restDiskSnapshot
		if err := json.Unmarshal(trimmed, &one); err != nil {
			return nil, fmt.Errorf("%w: rhv: REST disk snapshots: %w", cbt.ErrCorrupt, err)
		}
		if one.ID == "" && len(trimmed) > 2 {
			return nil, readErrorf(cbt.ErrCorrupt, "REST disk snapshots", "neither a disk_snapshot list nor a disk snapshot: give the JSON of GET .../disksnapshots")
		}
		if one.ID != "" {
			list.DiskSnapshot = []restDiskSnapshot{one}
		}
	}
	vols := make([]Volume, 0, len(list.DiskSnapshot))
	for i, ds := range list.DiskSnapshot {
		if ds.ID == "" {
			return nil, readErrorf(cbt.ErrCorrupt, "REST disk snapshots", "disk snapshot %d has no id", i)
		}
		vols = append(vols, restVolume(ds))
	}
	return vols, nil
}

// restVolume makes the volume of one disk snapshot.
func restVolume(ds restDiskSnapshot) Volume {
	v := Volume{ID: ds.ID, Parent: BlankUUID, MDSlot: -1, Description: ds.Description}
	if ds.Disk != nil {
		v.Image = ds.Disk.ID
	}
	if v.Image == "" {
		v.Image = diskFromHref(ds.Href)
	}
	if ds.Parent != nil {
		v.Parent = ds.Parent.ID
		if v.Parent == "" {
			v.Parent = UnknownParent
		}
	}
	v.Format = Format(strings.ToUpper(ds.Format))
	if ds.ProvisionedSize.set {
		v.Capacity = ds.ProvisionedSize.n
	}
	if ds.Status != "" {
		v.Status = strings.ToUpper(ds.Status)
		v.Legality = LegalityLegal
		if v.Status == "ILLEGAL" {
			v.Legality = LegalityIllegal
		}
	}
	switch strings.Trim(string(ds.Sparse), `"`) {
	case "true":
		v.Type = "SPARSE"
	case "false":
		v.Type = "PREALLOCATED"
	}
	if ds.Snapshot != nil && ds.Snapshot.ID != "" {
		v.Extra = map[string]string{"snapshot": ds.Snapshot.ID}
	}
	return v
}

// diskFromHref returns the disk id of a disk snapshot's href,
// /ovirt-engine/api/disks/<disk>/disksnapshots/<id>, or "".
func diskFromHref(href string) string {
	_, rest, ok := strings.Cut(href, "/disks/")
	if !ok {
		return ""
	}
	disk, rest, ok := strings.Cut(rest, "/")
	if !ok || !strings.HasPrefix(rest, "disksnapshots/") {
		return ""
	}
	return disk
}

// readAllLimited reads r whole, failing with cbt.ErrCorrupt past limit
// bytes.
func readAllLimited(r io.Reader, limit int64, what string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: rhv: reading %s: %w", cbt.ErrCorrupt, what, err)
	}
	if int64(len(data)) > limit {
		return nil, readErrorf(cbt.ErrCorrupt, what, "more than %d bytes", limit)
	}
	return data, nil
}
