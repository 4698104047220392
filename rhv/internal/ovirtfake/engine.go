package ovirtfake

import (
	"fmt"
	"net/http"
	"strings"
)

// engine serves the REST API below /ovirt-engine/api/, split in seg.
func (f *Fake) engine(w http.ResponseWriter, r *http.Request, seg []string) {
	if ct := r.Header.Get("Content-Type"); r.Method == http.MethodPost && ct != "application/json" {
		faultReply(w, http.StatusUnsupportedMediaType, "Unsupported Media Type", ct)
		return
	}
	if r.Header.Get("Accept") != "application/json" {
		faultReply(w, http.StatusNotAcceptable, "Not Acceptable", "want Accept: application/json")
		return
	}
	notFound := func() {
		faultReply(w, http.StatusNotFound, "Not Found", "Entity not found: "+strings.Join(seg, "/"))
	}
	switch {
	case len(seg) == 3 && seg[0] == "vms" && seg[2] == "backups" && r.Method == http.MethodPost:
		f.startBackup(w, r, seg[1])
	case len(seg) >= 3 && seg[0] == "vms" && seg[2] == "checkpoints" && r.Method == http.MethodGet:
		f.checkpoints(w, seg, notFound)
	case len(seg) >= 4 && seg[0] == "vms" && seg[2] == "backups":
		f.backup(w, r, seg, notFound)
	case len(seg) == 2 && seg[0] == "disks" && r.Method == http.MethodGet:
		f.disk(w, seg[1], notFound)
	case len(seg) == 1 && seg[0] == "imagetransfers" && r.Method == http.MethodPost:
		f.startTransfer(w, r)
	case len(seg) == 1 && seg[0] == "imagetransfers" && r.Method == http.MethodGet:
		f.transferList(w)
	case len(seg) >= 2 && seg[0] == "imagetransfers":
		f.transfer(w, r, seg, notFound)
	default:
		notFound()
	}
}

// disk serves GET /disks/{id}.
func (f *Fake) disk(w http.ResponseWriter, id string, notFound func()) {
	for _, v := range f.vms {
		if v.disk == id {
			reply(w, http.StatusOK, map[string]any{"id": v.disk, "provisioned_size": fmt.Sprint(v.capacity), "format": "cow"})
			return
		}
	}
	notFound()
}
