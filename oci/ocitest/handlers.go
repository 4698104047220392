package ocitest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"time"

	"github.com/changedblocks/sdk/extent"
)

var routeID = regexp.MustCompile(`^/20160918/(volumes|bootVolumes|volumeBackups|bootVolumeBackups|volumeAttachments)(?:/([^/]+))?$`)

func (f *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if err := f.verify(r, body); err != nil {
		f.t.Errorf("fake OCI: %s %s: %v", r.Method, r.URL.Path, err)
		writeErr(w, 401, "NotAuthenticated", err.Error())
		return
	}
	m := routeID.FindStringSubmatch(r.URL.Path)
	if m == nil {
		writeErr(w, 404, "NotAuthorizedOrNotFound", "no route "+r.URL.Path)
		return
	}
	route := r.Method + " /" + m[1]
	if m[2] == "" && r.Method == http.MethodGet {
		route = "LIST /" + m[1]
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, route)
	if q := f.faults[route]; len(q) > 0 {
		f.faults[route] = q[1:]
		if q[0].After {
			f.route(httptest.NewRecorder(), r, route, m, body)
		}
		writeErr(w, q[0].Status, q[0].Code, "injected")
		return
	}
	f.route(w, r, route, m, body)
}

func (f *Server) route(w http.ResponseWriter, r *http.Request, route string, m []string, body []byte) {
	id := m[2]
	switch route {
	case "LIST /volumes", "LIST /bootVolumes":
		q := r.URL.Query()
		items := []map[string]any{}
		for _, v := range f.volumes {
			if v.boot != (m[1] == "bootVolumes") || q.Get("compartmentId") != Compartment || q.Get("availabilityDomain") != AvailabilityDomain {
				continue
			}
			if name := q.Get("displayName"); name == "" || name == v.name {
				items = append(items, f.volumeJSON(v))
			}
		}
		writeJSON(w, 200, items)
	case "LIST /volumeAttachments":
		q := r.URL.Query()
		items := []map[string]any{}
		for _, a := range f.attachments {
			if q.Get("compartmentId") == Compartment && (q.Get("volumeId") == "" || q.Get("volumeId") == a.volume) {
				items = append(items, f.attachmentJSON(a))
			}
		}
		writeJSON(w, 200, items)
	case "GET /volumeBackups", "GET /bootVolumeBackups":
		f.getBackup(w, id)
	case "POST /volumes", "POST /bootVolumes":
		f.bodies[route] = append(f.bodies[route], body)
		f.create(w, r, body, m[1] == "bootVolumes")
	case "GET /volumes", "GET /bootVolumes":
		f.getVolume(w, id)
	case "DELETE /volumes", "DELETE /bootVolumes":
		v, ok := f.volumes[id]
		switch {
		case !ok || v.state == "TERMINATED":
			writeErr(w, 404, "NotAuthorizedOrNotFound", "no volume "+id)
		case v.attachedBy != "":
			writeErr(w, 409, "Conflict", "volume is attached")
		default:
			v.state = "TERMINATED"
			w.WriteHeader(204)
		}
	case "POST /volumeAttachments":
		f.bodies[route] = append(f.bodies[route], body)
		f.attach(w, r, body)
	case "GET /volumeAttachments":
		a, ok := f.attachments[id]
		if !ok {
			writeErr(w, 404, "NotAuthorizedOrNotFound", "no attachment "+id)
			return
		}
		switch {
		case a.state == "ATTACHING" && a.polls <= 0:
			a.state = "ATTACHED"
		case a.state == "DETACHING" && a.polls <= 0:
			a.state = "DETACHED"
			f.volumes[a.volume].attachedBy = ""
		}
		a.polls--
		writeJSON(w, 200, f.attachmentJSON(a))
	case "DELETE /volumeAttachments":
		a, ok := f.attachments[id]
		if !ok || a.state == "DETACHED" {
			writeErr(w, 404, "NotAuthorizedOrNotFound", "no attachment "+id)
			return
		}
		a.state, a.polls = "DETACHING", f.detachingPolls
		w.WriteHeader(202)
	default:
		writeErr(w, 404, "NotAuthorizedOrNotFound", "no route "+route)
	}
}

func (f *Server) getBackup(w http.ResponseWriter, id string) {
	b, ok := f.backups[id]
	if !ok {
		writeErr(w, 404, "NotAuthorizedOrNotFound", "no backup "+id)
		return
	}
	state := "AVAILABLE"
	if b.busy > 0 {
		state = "CREATING"
	}
	source := "volumeId"
	if b.boot {
		source = "bootVolumeId"
	}
	writeJSON(w, 200, map[string]any{
		"id": b.id, "compartmentId": Compartment, "displayName": "b", "lifecycleState": state,
		"timeCreated": b.created.UTC().Format(time.RFC3339), "type": "INCREMENTAL", "sizeInGBs": b.sizeGB,
		source: b.volume,
	})
}

func (f *Server) create(w http.ResponseWriter, r *http.Request, body []byte, boot bool) {
	var req struct {
		CompartmentID      string `json:"compartmentId"`
		AvailabilityDomain string `json:"availabilityDomain"`
		DisplayName        string `json:"displayName"`
		SourceDetails      struct {
			Type      string `json:"type"`
			First     string `json:"firstBackupId"`
			Second    string `json:"secondBackupId"`
			BlockSize int64  `json:"changeBlockSizeInBytes"`
		} `json:"sourceDetails"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeErr(w, 400, "InvalidParameter", err.Error())
		return
	}
	token := r.Header.Get("opc-retry-token")
	if token == "" {
		writeErr(w, 400, "InvalidParameter", "no retry token")
		return
	}
	if id, ok := f.tokens[token]; ok {
		writeJSON(w, 200, f.volumeJSON(f.volumes[id]))
		return
	}
	sd := req.SourceDetails
	wantType := "volumeBackupDelta"
	if boot {
		wantType = "bootVolumeBackupDelta"
	}
	bs := sd.BlockSize
	if bs == 0 {
		bs = 4096
	}
	switch {
	case req.CompartmentID == "" || req.AvailabilityDomain == "":
		writeErr(w, 400, "MissingParameter", "compartmentId and availabilityDomain are required")
		return
	case sd.Type != wantType:
		writeErr(w, 400, "InvalidParameter", "sourceDetails.type "+sd.Type)
		return
	case bs < 4096 || bs > 1<<20 || bs&(bs-1) != 0:
		writeErr(w, 400, "InvalidParameter", "changeBlockSizeInBytes")
		return
	case f.deltaOff:
		writeErr(w, 404, "NotAuthorizedOrNotFound", "delta restore is not enabled")
		return
	}
	b1, ok1 := f.backups[sd.First]
	b2, ok2 := f.backups[sd.Second]
	switch {
	case !ok1 || !ok2 || b1.boot != boot || b2.boot != boot:
		writeErr(w, 404, "NotAuthorizedOrNotFound", "backup not found")
		return
	case b1.volume != b2.volume || b1.sizeGB != b2.sizeGB:
		writeErr(w, 403, "NotAuthorized", "the backups are not of the same volume and size")
		return
	case b1.busy > 0 || b2.busy > 0:
		for _, b := range []*backup{b1, b2} {
			if b.busy > 0 {
				b.busy--
			}
		}
		writeErr(w, 409, "Conflict", "a backup is not AVAILABLE")
		return
	}
	lo, hi := min(b1.seq, b2.seq), max(b1.seq, b2.seq)
	delta := extent.AlignSlice(extent.Normalize(append([]extent.Extent(nil), f.history[b1.volume][lo:hi]...)), bs, b2.sizeGB<<30)
	v := &volume{id: f.id("volume"), name: req.DisplayName, state: "PROVISIONING", boot: boot, polls: f.provisioningPolls, sizeGB: b2.sizeGB, delta: delta}
	if boot {
		v.id = strings.Replace(v.id, "ocid1.volume.", "ocid1.bootvolume.", 1)
	}
	f.volumes[v.id] = v
	f.tokens[token] = v.id
	writeJSON(w, 200, f.volumeJSON(v))
}

func (f *Server) getVolume(w http.ResponseWriter, id string) {
	v, ok := f.volumes[id]
	if !ok || v.state == "TERMINATED" {
		writeErr(w, 404, "NotAuthorizedOrNotFound", "no volume "+id)
		return
	}
	if v.state == "PROVISIONING" || v.state == "RESTORING" {
		switch {
		case v.polls > 0:
			v.polls--
		case v.state == "PROVISIONING":
			v.state = "RESTORING"
		case f.faulty:
			v.state = "FAULTY"
		default:
			v.state = "AVAILABLE"
		}
	}
	writeJSON(w, 200, f.volumeJSON(v))
}

func (f *Server) volumeJSON(v *volume) map[string]any {
	return map[string]any{
		"id": v.id, "compartmentId": Compartment, "availabilityDomain": AvailabilityDomain, "displayName": v.name,
		"lifecycleState": v.state, "sizeInGBs": v.sizeGB, "sizeInMBs": v.sizeGB << 10, "timeCreated": "2026-11-30T10:00:00Z",
	}
}

func (f *Server) attach(w http.ResponseWriter, r *http.Request, body []byte) {
	var req struct {
		Type       string `json:"type"`
		InstanceID string `json:"instanceId"`
		VolumeID   string `json:"volumeId"`
		ReadOnly   bool   `json:"isReadOnly"`
		UseChap    bool   `json:"useChap"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Type != "iscsi" || req.InstanceID == "" {
		writeErr(w, 400, "InvalidParameter", "want an iscsi attachment with an instance")
		return
	}
	if req.InstanceID != Instance {
		writeErr(w, 404, "NotAuthorizedOrNotFound", "no instance "+req.InstanceID)
		return
	}
	if id, ok := f.tokens[r.Header.Get("opc-retry-token")]; ok {
		writeJSON(w, 200, f.attachmentJSON(f.attachments[id]))
		return
	}
	v, ok := f.volumes[req.VolumeID]
	switch {
	case !ok || v.state == "TERMINATED":
		writeErr(w, 404, "NotAuthorizedOrNotFound", "no volume "+req.VolumeID)
		return
	case v.state != "AVAILABLE" || v.attachedBy != "":
		writeErr(w, 409, "Conflict", "volume is "+v.state)
		return
	}
	a := &attachment{id: f.id("volumeattachment"), volume: v.id, state: "ATTACHING", polls: f.attachingPolls}
	v.attachedBy = a.id
	f.attachments[a.id] = a
	f.tokens[r.Header.Get("opc-retry-token")] = a.id
	writeJSON(w, 200, f.attachmentJSON(a))
}

func (f *Server) attachmentJSON(a *attachment) map[string]any {
	return map[string]any{
		"attachmentType": "iscsi", "id": a.id, "availabilityDomain": AvailabilityDomain, "compartmentId": Compartment,
		"instanceId": Instance, "volumeId": a.volume, "lifecycleState": a.state, "timeCreated": "2026-11-30T10:00:00Z",
		"iqn": "iqn.2015-12.com.oracleiaas:" + a.volume, "ipv4": "169.254.2.2", "port": 3260,
		"chapUsername": a.volume, "chapSecret": "s3cret-" + a.id, "isReadOnly": true,
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("opc-request-id", "req-1")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"code": code, "message": msg})
}
