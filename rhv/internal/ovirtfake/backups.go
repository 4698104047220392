package ovirtfake

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/changedblocks/sdk/extent"
)

func (f *Fake) backupJSON(b *fakeBackup) map[string]any {
	v := f.vms[b.vm]
	m := map[string]any{"id": b.id, "phase": b.phase, "href": "/ovirt-engine/api/vms/" + b.vm + "/backups/" + b.id,
		"vm": map[string]string{"id": b.vm}, "disks": map[string]any{"disk": []map[string]string{{"id": v.disk}}},
		"creation_date": "1764500000000"}
	if b.from != "" {
		m["from_checkpoint_id"] = b.from
	}
	if (b.phase == "ready" || b.phase == "finalizing" || b.phase == "succeeded") && !f.NoToCheckpoint {
		m["to_checkpoint_id"] = b.to
	}
	return m
}

func (f *Fake) startBackup(w http.ResponseWriter, r *http.Request, vmID string) {
	v := f.vms[vmID]
	if v == nil {
		faultReply(w, http.StatusNotFound, "Not Found", "Entity not found: "+vmID)
		return
	}
	var in struct {
		ID               string `json:"id"`
		FromCheckpointID string `json:"from_checkpoint_id"`
		ToCheckpointID   string `json:"to_checkpoint_id"`
		Disks            struct {
			Disk []struct {
				ID string `json:"id"`
			} `json:"disk"`
		} `json:"disks"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		faultReply(w, http.StatusBadRequest, "Bad Request", err.Error())
		return
	}
	if len(in.Disks.Disk) != 1 || in.Disks.Disk[0].ID != v.disk {
		faultReply(w, http.StatusBadRequest, "Operation Failed", "[Cannot backup VM. The following disks are not attached to the VM.]")
		return
	}
	if v.active != nil {
		faultReply(w, http.StatusConflict, "Operation Failed", "[Cannot backup VM. The VM is during a backup operation.]")
		return
	}
	var from *fakeCheckpoint
	if in.FromCheckpointID != "" {
		for _, c := range v.checkpoints {
			if c.id == in.FromCheckpointID {
				from = c
			}
		}
		if from == nil {
			faultReply(w, http.StatusConflict, "Operation Failed", "[Cannot backup VM. Checkpoint "+in.FromCheckpointID+" does not exist.]")
			return
		}
	}
	id := in.ID
	if id == "" || f.IgnoreBackupID {
		id = f.newID('b')
	}
	if f.backups[id] != nil {
		faultReply(w, http.StatusConflict, "Operation Failed", "[Cannot backup VM. A backup with ID "+id+" already exists.]")
		return
	}
	to := in.ToCheckpointID // a client may choose the new checkpoint's ID
	if to == "" {
		to = f.newID('c')
	}
	for _, c := range v.checkpoints {
		if c.id == to {
			faultReply(w, http.StatusConflict, "Operation Failed", "[Cannot backup VM. Checkpoint "+to+" already exists.]")
			return
		}
	}
	b := &fakeBackup{id: id, vm: v.id, from: in.FromCheckpointID, to: to, phase: "initializing",
		mode: "full", fail: f.FailNextBackup, data: append([]extent.Extent(nil), v.data...)}
	f.FailNextBackup = false
	if from != nil && !from.lost {
		b.mode, b.dirty = "incremental", append([]extent.Extent(nil), from.dirty...)
	}
	if !b.fail {
		f.newCheckpoint(v, b.to)
	}
	v.active = b
	f.backups[id] = b
	reply(w, http.StatusCreated, f.backupJSON(b))
}

// advanceBackup moves a backup one phase on per read.
func (f *Fake) advanceBackup(b *fakeBackup) {
	switch b.phase {
	case "initializing":
		b.phase = "starting"
	case "starting":
		if f.StuckBackups {
			return
		}
		b.phase = "ready"
		if b.fail {
			b.phase = "failed"
			f.vms[b.vm].active = nil
		}
	case "finalizing":
		b.phase = "succeeded"
		if f.FailFinalize {
			b.phase = "failed"
		}
		f.vms[b.vm].active = nil
	}
}

// backup serves /vms/{vm}/backups/{id}[/disks|/finalize].
func (f *Fake) backup(w http.ResponseWriter, r *http.Request, seg []string, notFound func()) {
	b := f.backups[seg[3]]
	if b == nil || b.vm != seg[1] {
		notFound()
		return
	}
	switch {
	case len(seg) == 4 && r.Method == http.MethodGet:
		f.advanceBackup(b)
		reply(w, http.StatusOK, f.backupJSON(b))
	case len(seg) == 5 && seg[4] == "disks" && r.Method == http.MethodGet:
		v := f.vms[b.vm]
		reply(w, http.StatusOK, map[string]any{"disk": []map[string]any{{"id": v.disk, "backup_mode": b.mode,
			"provisioned_size": fmt.Sprint(v.capacity), "format": "cow", "backup": "incremental", "href": "/ovirt-engine/api/disks/" + v.disk}}})
	case len(seg) == 5 && seg[4] == "finalize" && r.Method == http.MethodPost:
		f.finalizeBackup(w, b)
	default:
		notFound()
	}
}

// finalizeBackup serves POST /vms/{vm}/backups/{id}/finalize.
func (f *Fake) finalizeBackup(w http.ResponseWriter, b *fakeBackup) {
	if f.FinalizeBackup5xx > 0 {
		f.FinalizeBackup5xx--
		faultReply(w, http.StatusInternalServerError, "Internal Server Error", "")
		return
	}
	f.BackupFinalizes = append(f.BackupFinalizes, b.id)
	if b.phase == "succeeded" || b.phase == "failed" || b.phase == "finalizing" {
		faultReply(w, http.StatusConflict, "Operation Failed", "[Cannot stop VM backup. The backup is not in a phase that allows it.]")
		return
	}
	for _, t := range f.transfers {
		if t.backup == b && t.phase == "transferring" {
			f.FinalizeOrderBad = true
		}
	}
	b.phase = "finalizing"
	reply(w, http.StatusOK, map[string]any{"status": "complete"})
}
