package rhv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/changedblocks/sdk/extent"
)

// engFake is an oVirt engine (REST JSON) and an ovirt-imageio server in one
// httptest server, following the documented JSON and errors:
//
//   - backups go initializing → starting → ready (one step per GET), or to
//     failed when failNextBackup is set; finalize makes them finalizing, then
//     succeeded on the next GET;
//   - a second backup of a VM while one is not finished is a 409 fault;
//     an unknown from_checkpoint_id is a 409 fault naming the checkpoint;
//   - a backup's disk is "incremental" when its from-checkpoint's bitmap
//     exists, "full" otherwise (lostBitmaps drops them: the unclean-shutdown
//     failure);
//   - image transfers go initializing → transferring; finalize removes the
//     ticket and they go finalizing_success → finished_success;
//   - imageio serves OPTIONS and extents for a live ticket, 403 for an
//     unknown one, and 404 "Ticket does not support dirty extents" for a
//     dirty query on a ticket outside an incremental backup.
//
// The disk model: each VM has one disk; writes are byte ranges; every
// checkpoint keeps the ranges written since it was created (a bitmap);
// a backup freezes the allocation and its from-checkpoint's bitmap at start
// (the export is a point in time), and creates its to-checkpoint.
type engFake struct {
	t   testing.TB
	srv *httptest.Server

	mu        sync.Mutex
	vms       map[string]*engFakeVM
	backups   map[string]*engFakeBackup
	transfers map[string]*engFakeTransfer
	tickets   map[string]*engFakeTransfer

	// Failure injection.
	failNextBackup   bool // the next backup ends failed instead of ready
	failTransfer     bool // transfers end paused_system instead of transferring
	failFinalize     bool // finalized backups end failed instead of succeeded
	stuckBackups     bool // backups stay starting
	oldImageio       bool // omit zero/hole (zero context) and zero (dirty context)
	noDirtyTickets   bool // tickets of incremental backups lack dirty
	noToCheckpoint   bool // ready backups carry no to_checkpoint_id
	ignoreBackupID   bool // start backups under an ID of the fake's own
	shortExtents     bool // extents stop one byte short of the capacity
	imageio5xx       int  // answer the next N imageio requests 503
	engine5xx        int  // answer the next N engine GETs 503
	finalizeBackup5x int  // answer the next N backup finalizes 503
	user, password   string
	token            string
	clock            int64 // the engine's clock, ms since the epoch

	// Records.
	backupFinalizes   []string          // backup IDs, in order
	transferFinalizes []string          // transfer IDs, in order
	finalizeOrderBad  bool              // a backup was finalized while its transfer was transferring
	requests          []string          // "METHOD path"
	bodies            map[string]string // "METHOD path" → the last body sent
}

type engFakeVM struct {
	id          string
	disk        string
	capacity    int64
	data        []extent.Extent // written ranges
	checkpoints []*engFakeCheckpoint
	active      *engFakeBackup
}

type engFakeCheckpoint struct {
	id      string
	parent  string
	created int64 // creation date, ms since the epoch
	dirty   []extent.Extent
	lost    bool
}

type engFakeBackup struct {
	id, vm, from, to string
	phase            string
	mode             string
	fail             bool
	data, dirty      []extent.Extent
}

type engFakeTransfer struct {
	id, ticket string
	backup     *engFakeBackup
	vm         *engFakeVM
	phase      string
	dirty      bool
	data       []extent.Extent
}

func newEngFake(t testing.TB, tls bool) *engFake {
	f := engStartFake(tls)
	f.t = t
	t.Cleanup(f.srv.Close)
	return f
}

// engStartFake starts a fake; the caller closes f.srv.
func engStartFake(tls bool) *engFake {
	f := &engFake{vms: map[string]*engFakeVM{}, backups: map[string]*engFakeBackup{},
		transfers: map[string]*engFakeTransfer{}, tickets: map[string]*engFakeTransfer{}}
	f.srv = httptest.NewUnstartedServer(f)
	f.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if tls {
		f.srv.StartTLS()
	} else {
		f.srv.Start()
	}
	return f
}

// engIDs numbers the IDs of every fake: like the engine's UUIDs, an ID is
// never handed out twice, also across fakes (other VMs).
var engIDs atomic.Int64

// engID returns a fresh UUID-shaped ID.
func (f *engFake) engID(kind byte) string {
	n := engIDs.Add(1)
	return fmt.Sprintf("%08x-0000-4000-8000-%c%011x", n, kind, n)
}

// addVM adds a VM with one disk of the given capacity.
func (f *engFake) addVM(capacity int64) (vm, disk string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := &engFakeVM{id: f.engID('a'), disk: f.engID('d'), capacity: capacity}
	f.vms[v.id] = v
	return v.id, v.disk
}

// write records a guest write.
func (f *engFake) write(vm string, off, length int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := f.vms[vm]
	e := []extent.Extent{{Offset: off, Length: length}}
	v.data = extent.UnionSlices(v.data, e)
	for _, c := range v.checkpoints {
		c.dirty = extent.UnionSlices(c.dirty, e)
	}
}

// lostBitmaps drops every checkpoint's bitmap of the VM.
func (f *engFake) lostBitmaps(vm string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.vms[vm].checkpoints {
		c.lost, c.dirty = true, nil
	}
}

// active reports the backups not finished and the transfers not finalized.
func (f *engFake) active() (backups, transfers []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, b := range f.backups {
		if b.phase != BackupSucceeded && b.phase != BackupFailed {
			backups = append(backups, id+"("+b.phase+")")
		}
	}
	for id, t := range f.transfers {
		if t.phase == TransferInitializing || t.phase == TransferTransferring {
			transfers = append(transfers, id+"("+t.phase+")")
		}
	}
	return backups, transfers
}

func (f *engFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	if r.Body != nil {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if f.bodies == nil {
			f.bodies = map[string]string{}
		}
		f.bodies[r.Method+" "+r.URL.Path] = string(body)
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/images/"):
		f.imageio(w, r, strings.TrimPrefix(p, "/images/"))
	case strings.HasPrefix(p, "/proxy/images/"):
		f.imageio(w, r, strings.TrimPrefix(p, "/proxy/images/"))
	case p == "/ovirt-engine/sso/oauth/token":
		f.sso(w, r)
	case strings.HasPrefix(p, "/ovirt-engine/api/"):
		if !f.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Basic realm="RESTAPI"`)
			http.Error(w, "<html><body>Unauthorized</body></html>", http.StatusUnauthorized)
			return
		}
		if r.Method == http.MethodGet && f.engine5xx > 0 {
			f.engine5xx--
			engFaultReply(w, http.StatusServiceUnavailable, "Service Unavailable", "")
			return
		}
		f.engine(w, r, strings.Split(strings.TrimPrefix(p, "/ovirt-engine/api/"), "/"))
	default:
		http.NotFound(w, r)
	}
}

func (f *engFake) authorized(r *http.Request) bool {
	if f.user == "" {
		return true
	}
	if u, pw, ok := r.BasicAuth(); ok {
		return u == f.user && pw == f.password
	}
	return f.token != "" && r.Header.Get("Authorization") == "Bearer "+f.token
}

func (f *engFake) sso(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	w.Header().Set("Content-Type", "application/json")
	if r.Form.Get("grant_type") != "password" || r.Form.Get("scope") != "ovirt-app-api" ||
		r.Form.Get("username") != f.user || r.Form.Get("password") != f.password {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "access_denied",
			"error_description": "Cannot authenticate user '" + r.Form.Get("username") + "': The username or password is incorrect."})
		return
	}
	f.token = "tok-" + f.engID('t')
	_ = json.NewEncoder(w).Encode(map[string]string{"access_token": f.token, "scope": "ovirt-app-api", "token_type": "bearer", "exp": "9999999999999"})
}

// engFaultReply writes an engine fault, {"reason": ..., "detail": ...}.
func engFaultReply(w http.ResponseWriter, status int, reason, detail string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"reason": reason, "detail": detail})
}

func engReply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *engFake) engine(w http.ResponseWriter, r *http.Request, seg []string) {
	if ct := r.Header.Get("Content-Type"); r.Method == http.MethodPost && ct != "application/json" {
		engFaultReply(w, http.StatusUnsupportedMediaType, "Unsupported Media Type", ct)
		return
	}
	if r.Header.Get("Accept") != "application/json" {
		engFaultReply(w, http.StatusNotAcceptable, "Not Acceptable", "want Accept: application/json")
		return
	}
	notFound := func() {
		engFaultReply(w, http.StatusNotFound, "Not Found", "Entity not found: "+strings.Join(seg, "/"))
	}
	switch {
	case len(seg) == 3 && seg[0] == "vms" && seg[2] == "backups" && r.Method == http.MethodPost:
		f.startBackup(w, r, seg[1])
	case len(seg) >= 3 && seg[0] == "vms" && seg[2] == "checkpoints" && r.Method == http.MethodGet:
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
			engReply(w, http.StatusOK, map[string]any{"checkpoint": list})
			return
		}
		for _, c := range v.checkpoints {
			if len(seg) == 4 && c.id == seg[3] {
				engReply(w, http.StatusOK, f.checkpointJSON(v, c))
				return
			}
		}
		notFound()
	case len(seg) >= 4 && seg[0] == "vms" && seg[2] == "backups":
		b := f.backups[seg[3]]
		if b == nil || b.vm != seg[1] {
			notFound()
			return
		}
		switch {
		case len(seg) == 4 && r.Method == http.MethodGet:
			f.advanceBackup(b)
			engReply(w, http.StatusOK, f.backupJSON(b))
		case len(seg) == 5 && seg[4] == "disks" && r.Method == http.MethodGet:
			v := f.vms[b.vm]
			engReply(w, http.StatusOK, map[string]any{"disk": []map[string]any{{"id": v.disk, "backup_mode": b.mode,
				"provisioned_size": fmt.Sprint(v.capacity), "format": "cow", "backup": "incremental", "href": "/ovirt-engine/api/disks/" + v.disk}}})
		case len(seg) == 5 && seg[4] == "finalize" && r.Method == http.MethodPost:
			if f.finalizeBackup5x > 0 {
				f.finalizeBackup5x--
				engFaultReply(w, http.StatusInternalServerError, "Internal Server Error", "")
				return
			}
			f.backupFinalizes = append(f.backupFinalizes, b.id)
			if b.phase == BackupSucceeded || b.phase == BackupFailed || b.phase == BackupFinalizing {
				engFaultReply(w, http.StatusConflict, "Operation Failed", "[Cannot stop VM backup. The backup is not in a phase that allows it.]")
				return
			}
			for _, t := range f.transfers {
				if t.backup == b && t.phase == TransferTransferring {
					f.finalizeOrderBad = true
				}
			}
			b.phase = BackupFinalizing
			engReply(w, http.StatusOK, map[string]any{"status": "complete"})
		default:
			notFound()
		}
	case len(seg) == 2 && seg[0] == "disks" && r.Method == http.MethodGet:
		for _, v := range f.vms {
			if v.disk == seg[1] {
				engReply(w, http.StatusOK, map[string]any{"id": v.disk, "provisioned_size": fmt.Sprint(v.capacity), "format": "cow"})
				return
			}
		}
		notFound()
	case len(seg) == 1 && seg[0] == "imagetransfers" && r.Method == http.MethodPost:
		f.startTransfer(w, r)
	case len(seg) == 1 && seg[0] == "imagetransfers" && r.Method == http.MethodGet:
		list := []map[string]any{}
		for _, t := range f.transfers {
			if t.phase != TransferFinishedSuccess {
				list = append(list, f.transferJSON(t))
			}
		}
		engReply(w, http.StatusOK, map[string]any{"image_transfer": list})
	case len(seg) >= 2 && seg[0] == "imagetransfers":
		t := f.transfers[seg[1]]
		if t == nil {
			notFound()
			return
		}
		switch {
		case len(seg) == 2 && r.Method == http.MethodGet:
			switch t.phase {
			case TransferInitializing:
				t.phase = TransferTransferring
				if f.failTransfer {
					t.phase = TransferPausedSystem
				}
			case TransferFinalizingSuccess:
				t.phase = TransferFinishedSuccess
			}
			engReply(w, http.StatusOK, f.transferJSON(t))
		case len(seg) == 3 && seg[2] == "finalize" && r.Method == http.MethodPost:
			f.transferFinalizes = append(f.transferFinalizes, t.id)
			delete(f.tickets, t.ticket)
			t.phase = TransferFinalizingSuccess
			engReply(w, http.StatusOK, map[string]any{"status": "complete"})
		default:
			notFound()
		}
	default:
		notFound()
	}
}

func (f *engFake) checkpointJSON(v *engFakeVM, c *engFakeCheckpoint) map[string]any {
	m := map[string]any{"id": c.id, "creation_date": fmt.Sprint(c.created), "state": "created",
		"vm": map[string]string{"id": v.id}, "href": "/ovirt-engine/api/vms/" + v.id + "/checkpoints/" + c.id}
	if c.parent != "" {
		m["parent_id"] = c.parent
	}
	return m
}

// now advances the engine's clock and returns it.
func (f *engFake) now() int64 {
	if f.clock == 0 {
		f.clock = 1764500000000
	}
	f.clock += 1000
	return f.clock
}

// newCheckpoint appends a checkpoint to the VM's line, as a backup that
// reached starting makes it.
func (f *engFake) newCheckpoint(v *engFakeVM, id string) *engFakeCheckpoint {
	c := &engFakeCheckpoint{id: id, created: f.now()}
	if n := len(v.checkpoints); n > 0 {
		c.parent = v.checkpoints[n-1].id
	}
	v.checkpoints = append(v.checkpoints, c)
	return c
}

// removeCheckpoint removes a checkpoint of the VM, as DELETE
// /vms/{vm}/checkpoints/{id} does (the engine removes the oldest; the fake
// any); the next one becomes the root.
func (f *engFake) removeCheckpoint(vm, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
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

// addCheckpoint makes a checkpoint at the end of the VM's line, as another
// client's backup would, and returns its ID.
func (f *engFake) addCheckpoint(vm string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.newCheckpoint(f.vms[vm], f.engID('c')).id
}

func (f *engFake) backupJSON(b *engFakeBackup) map[string]any {
	v := f.vms[b.vm]
	m := map[string]any{"id": b.id, "phase": b.phase, "href": "/ovirt-engine/api/vms/" + b.vm + "/backups/" + b.id,
		"vm": map[string]string{"id": b.vm}, "disks": map[string]any{"disk": []map[string]string{{"id": v.disk}}},
		"creation_date": "1764500000000"}
	if b.from != "" {
		m["from_checkpoint_id"] = b.from
	}
	if (b.phase == BackupReady || b.phase == BackupFinalizing || b.phase == BackupSucceeded) && !f.noToCheckpoint {
		m["to_checkpoint_id"] = b.to
	}
	return m
}

func (f *engFake) transferJSON(t *engFakeTransfer) map[string]any {
	m := map[string]any{"id": t.id, "phase": t.phase, "direction": "download", "format": "raw",
		"disk": map[string]string{"id": t.vm.disk}, "inactivity_timeout": "60", "shallow": "false"}
	if t.backup != nil {
		m["backup"] = map[string]string{"id": t.backup.id}
	}
	if t.phase == TransferTransferring {
		m["transfer_url"] = f.srv.URL + "/images/" + t.ticket
		m["proxy_url"] = f.srv.URL + "/proxy/images/" + t.ticket
	}
	return m
}

func (f *engFake) startBackup(w http.ResponseWriter, r *http.Request, vmID string) {
	v := f.vms[vmID]
	if v == nil {
		engFaultReply(w, http.StatusNotFound, "Not Found", "Entity not found: "+vmID)
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
		engFaultReply(w, http.StatusBadRequest, "Bad Request", err.Error())
		return
	}
	if len(in.Disks.Disk) != 1 || in.Disks.Disk[0].ID != v.disk {
		engFaultReply(w, http.StatusBadRequest, "Operation Failed", "[Cannot backup VM. The following disks are not attached to the VM.]")
		return
	}
	if v.active != nil {
		engFaultReply(w, http.StatusConflict, "Operation Failed", "[Cannot backup VM. The VM is during a backup operation.]")
		return
	}
	var from *engFakeCheckpoint
	if in.FromCheckpointID != "" {
		for _, c := range v.checkpoints {
			if c.id == in.FromCheckpointID {
				from = c
			}
		}
		if from == nil {
			engFaultReply(w, http.StatusConflict, "Operation Failed", "[Cannot backup VM. Checkpoint "+in.FromCheckpointID+" does not exist.]")
			return
		}
	}
	id := in.ID
	if id == "" || f.ignoreBackupID {
		id = f.engID('b')
	}
	if f.backups[id] != nil {
		engFaultReply(w, http.StatusConflict, "Operation Failed", "[Cannot backup VM. A backup with ID "+id+" already exists.]")
		return
	}
	to := in.ToCheckpointID // a client may choose the new checkpoint's ID
	if to == "" {
		to = f.engID('c')
	}
	for _, c := range v.checkpoints {
		if c.id == to {
			engFaultReply(w, http.StatusConflict, "Operation Failed", "[Cannot backup VM. Checkpoint "+to+" already exists.]")
			return
		}
	}
	b := &engFakeBackup{id: id, vm: v.id, from: in.FromCheckpointID, to: to, phase: BackupInitializing,
		mode: BackupModeFull, fail: f.failNextBackup, data: append([]extent.Extent(nil), v.data...)}
	f.failNextBackup = false
	if from != nil && !from.lost {
		b.mode, b.dirty = BackupModeIncremental, append([]extent.Extent(nil), from.dirty...)
	}
	if !b.fail {
		f.newCheckpoint(v, b.to)
	}
	v.active = b
	f.backups[id] = b
	engReply(w, http.StatusCreated, f.backupJSON(b))
}

// advanceBackup moves a backup one phase on per read.
func (f *engFake) advanceBackup(b *engFakeBackup) {
	switch b.phase {
	case BackupInitializing:
		b.phase = BackupStarting
	case BackupStarting:
		if f.stuckBackups {
			return
		}
		b.phase = BackupReady
		if b.fail {
			b.phase = BackupFailed
			f.vms[b.vm].active = nil
		}
	case BackupFinalizing:
		b.phase = BackupSucceeded
		if f.failFinalize {
			b.phase = BackupFailed
		}
		f.vms[b.vm].active = nil
	}
}

func (f *engFake) startTransfer(w http.ResponseWriter, r *http.Request) {
	var in ImageTransfer
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		engFaultReply(w, http.StatusBadRequest, "Bad Request", err.Error())
		return
	}
	if in.Direction != "download" || in.Format != "raw" || in.Disk == nil {
		engFaultReply(w, http.StatusBadRequest, "Bad Request", "want a raw download of a disk")
		return
	}
	var v *engFakeVM
	for _, x := range f.vms {
		if x.disk == in.Disk.ID {
			v = x
		}
	}
	if v == nil {
		engFaultReply(w, http.StatusNotFound, "Not Found", "Entity not found: disk "+in.Disk.ID)
		return
	}
	t := &engFakeTransfer{id: f.engID('e'), ticket: f.engID('f'), vm: v, phase: TransferInitializing,
		data: append([]extent.Extent(nil), v.data...)}
	if in.Backup != nil {
		b := f.backups[in.Backup.ID]
		if b == nil {
			engFaultReply(w, http.StatusNotFound, "Not Found", "Entity not found: backup "+in.Backup.ID)
			return
		}
		if b.phase != BackupReady {
			engFaultReply(w, http.StatusConflict, "Operation Failed", "[Cannot transfer Virtual Disk. The VM backup is not in READY phase.]")
			return
		}
		t.backup, t.data = b, b.data
		t.dirty = b.mode == BackupModeIncremental && !f.noDirtyTickets
	}
	f.transfers[t.id] = t
	f.tickets[t.ticket] = t
	engReply(w, http.StatusCreated, f.transferJSON(t))
}

// imageio serves /images/{ticket}[/extents] as ovirt-imageio does.
func (f *engFake) imageio(w http.ResponseWriter, r *http.Request, rest string) {
	if f.imageio5xx > 0 {
		f.imageio5xx--
		http.Error(w, "Internal server error", http.StatusServiceUnavailable)
		return
	}
	ticket, sub, _ := strings.Cut(rest, "/")
	t := f.tickets[ticket]
	if t == nil {
		http.Error(w, "You are not allowed to access this resource: No such ticket "+ticket, http.StatusForbidden)
		return
	}
	switch {
	case sub == "" && r.Method == http.MethodOptions:
		w.Header().Set("Allow", "OPTIONS,GET")
		engReply(w, http.StatusOK, map[string]any{"features": []string{"checksum", "extents"}, "max_readers": 8, "max_writers": 8})
	case sub == "extents" && r.Method == http.MethodGet:
		c := r.URL.Query().Get("context")
		if c == "" {
			c = ContextZero
		}
		switch c {
		case ContextZero:
			engReply(w, http.StatusOK, f.extentsJSON(t, t.data, false))
		case ContextDirty:
			if !t.dirty {
				http.Error(w, "Ticket does not support dirty extents", http.StatusNotFound)
				return
			}
			engReply(w, http.StatusOK, f.extentsJSON(t, t.backup.dirty, true))
		default:
			http.Error(w, "Invalid context: "+c, http.StatusBadRequest)
		}
	default:
		http.Error(w, "Method not allowed", http.StatusMethodNotAllowed)
	}
}

// extentsJSON lists the whole image as contiguous items, set where marked.
func (f *engFake) extentsJSON(t *engFakeTransfer, marked []extent.Extent, dirty bool) []map[string]any {
	capacity := t.vm.capacity
	if f.shortExtents {
		capacity--
	}
	var out []map[string]any
	item := func(start, length int64, set bool) {
		if length <= 0 {
			return
		}
		m := map[string]any{"start": start, "length": length}
		switch {
		case dirty:
			m["dirty"] = set
			if !f.oldImageio {
				m["zero"] = false
			}
		case !f.oldImageio:
			m["zero"], m["hole"] = !set, false
		default:
			if !set {
				m["zero"] = true
			} else {
				m["zero"] = false
			}
		}
		out = append(out, m)
	}
	pos := int64(0)
	for _, e := range marked {
		if e.Offset >= capacity {
			break
		}
		item(pos, e.Offset-pos, false)
		end := min(e.End(), capacity)
		item(e.Offset, end-e.Offset, true)
		pos = end
	}
	item(pos, capacity-pos, false)
	if out == nil {
		out = []map[string]any{}
	}
	return out
}
