package ovirtfake

import (
	"fmt"
	"net/http"
)

func (f *Fake) checkpointJSON(v *fakeVM, c *fakeCheckpoint) map[string]any {
	m := map[string]any{"id": c.id, "creation_date": fmt.Sprint(c.created), "state": "created",
		"vm": map[string]string{"id": v.id}, "href": "/ovirt-engine/api/vms/" + v.id + "/checkpoints/" + c.id}
	if c.parent != "" {
		m["parent_id"] = c.parent
	}
	return m
}

// now advances the engine's clock and returns it.
func (f *Fake) now() int64 {
	if f.clock == 0 {
		f.clock = 1764500000000
	}
	f.clock += 1000
	return f.clock
}

// newCheckpoint appends a checkpoint to the VM's line, as a backup that
// reached starting makes it.
func (f *Fake) newCheckpoint(v *fakeVM, id string) *fakeCheckpoint {
	c := &fakeCheckpoint{id: id, created: f.now()}
	if n := len(v.checkpoints); n > 0 {
		c.parent = v.checkpoints[n-1].id
	}
	v.checkpoints = append(v.checkpoints, c)
	return c
}

// RemoveCheckpoint removes a checkpoint of the VM, as DELETE
// /vms/{vm}/checkpoints/{id} does (the engine removes the oldest; the fake
// any); the next one becomes the root.
func (f *Fake) RemoveCheckpoint(vm, id string) {
	f.Lock()
	defer f.Unlock()
	v := f.vms[vm]
	for i, c := range v.checkpoints {
		if c.id == id {
			v.checkpoints = append(v.checkpoints[:i:i], v.checkpoints[i+1:]...)
			if i < len(v.checkpoints) {
				v.checkpoints[i].parent = c.parent
			}
			return
		}
	}
}

// AddCheckpoint makes a checkpoint at the end of the VM's line, as another
// client's backup would, and returns its ID.
func (f *Fake) AddCheckpoint(vm string) string {
	f.Lock()
	defer f.Unlock()
	return f.newCheckpoint(f.vms[vm], f.newID('c')).id
}

// checkpoints serves GET /vms/{vm}/checkpoints[/{id}].
func (f *Fake) checkpoints(w http.ResponseWriter, seg []string, notFound func()) {
	v := f.vms[seg[1]]
	if v == nil {
		notFound()
		return
	}
	if len(seg) == 3 {
		list := []map[string]any{}
		for _, c := range v.checkpoints {
			list = append(list, f.checkpointJSON(v, c))
		}
		reply(w, http.StatusOK, map[string]any{"checkpoint": list})
		return
	}
	for _, c := range v.checkpoints {
		if len(seg) == 4 && c.id == seg[3] {
			reply(w, http.StatusOK, f.checkpointJSON(v, c))
			return
		}
	}
	notFound()
}
