package ovirtfake

import (
	"encoding/json"
	"net/http"

	"github.com/changedblocks/sdk/extent"
)

func (f *Fake) transferJSON(t *fakeTransfer) map[string]any {
	m := map[string]any{"id": t.id, "phase": t.phase, "direction": "download", "format": "raw",
		"disk": map[string]string{"id": t.vm.disk}, "inactivity_timeout": "60", "shallow": "false"}
	if t.backup != nil {
		m["backup"] = map[string]string{"id": t.backup.id}
	}
	if t.phase == "transferring" {
		m["transfer_url"] = f.Server.URL + "/images/" + t.ticket
		m["proxy_url"] = f.Server.URL + "/proxy/images/" + t.ticket
	}
	return m
}

func (f *Fake) startTransfer(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Direction string `json:"direction"`
		Format    string `json:"format"`
		Disk      *struct {
			ID string `json:"id"`
		} `json:"disk"`
		Backup *struct {
			ID string `json:"id"`
		} `json:"backup"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		faultReply(w, http.StatusBadRequest, "Bad Request", err.Error())
		return
	}
	if in.Direction != "download" || in.Format != "raw" || in.Disk == nil {
		faultReply(w, http.StatusBadRequest, "Bad Request", "want a raw download of a disk")
		return
	}
	var v *fakeVM
	for _, x := range f.vms {
		if x.disk == in.Disk.ID {
			v = x
		}
	}
	if v == nil {
		faultReply(w, http.StatusNotFound, "Not Found", "Entity not found: disk "+in.Disk.ID)
		return
	}
	t := &fakeTransfer{id: f.newID('e'), ticket: f.newID('f'), vm: v, phase: "initializing",
		data: append([]extent.Extent(nil), v.data...)}
	if in.Backup != nil {
		b := f.backups[in.Backup.ID]
		if b == nil {
			faultReply(w, http.StatusNotFound, "Not Found", "Entity not found: backup "+in.Backup.ID)
			return
		}
		if b.phase != "ready" {
			faultReply(w, http.StatusConflict, "Operation Failed", "[Cannot transfer Virtual Disk. The VM backup is not in READY phase.]")
			return
		}
		t.backup, t.data = b, b.data
		t.dirty = b.mode == "incremental" && !f.NoDirtyTickets
	}
	f.transfers[t.id] = t
	f.tickets[t.ticket] = t
	reply(w, http.StatusCreated, f.transferJSON(t))
}

// transferList serves GET /imagetransfers.
func (f *Fake) transferList(w http.ResponseWriter) {
	list := []map[string]any{}
	for _, t := range f.transfers {
		if t.phase != "finished_success" {
			list = append(list, f.transferJSON(t))
		}
	}
	reply(w, http.StatusOK, map[string]any{"image_transfer": list})
}

// transfer serves /imagetransfers/{id}[/finalize].
func (f *Fake) transfer(w http.ResponseWriter, r *http.Request, seg []string, notFound func()) {
	t := f.transfers[seg[1]]
	if t == nil {
		notFound()
		return
	}
	switch {
	case len(seg) == 2 && r.Method == http.MethodGet:
		switch t.phase {
		case "initializing":
			t.phase = "transferring"
			if f.FailTransfer {
				t.phase = "paused_system"
			}
		case "finalizing_success":
			t.phase = "finished_success"
		}
		reply(w, http.StatusOK, f.transferJSON(t))
	case len(seg) == 3 && seg[2] == "finalize" && r.Method == http.MethodPost:
		f.TransferFinalizes = append(f.TransferFinalizes, t.id)
		delete(f.tickets, t.ticket)
		t.phase = "finalizing_success"
		reply(w, http.StatusOK, map[string]any{"status": "complete"})
	default:
		notFound()
	}
}
