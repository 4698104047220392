package ovirtfake

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

// Fake is an oVirt engine (REST JSON) and an ovirt-imageio server in one
// httptest server, following the documented JSON and errors:
//
//   - backups go initializing → starting → ready (one step per GET), or to
//     failed when FailNextBackup is set; finalize makes them finalizing, then
//     succeeded on the next GET;
//   - a second backup of a VM while one is not finished is a 409 fault;
//     an unknown from_checkpoint_id is a 409 fault naming the checkpoint;
//   - a backup's disk is "incremental" when its from-checkpoint's bitmap
//     exists, "full" otherwise (LostBitmaps drops them: the unclean-shutdown
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
type Fake struct {
	// T is the test the fake serves (nil for Start).
	T testing.TB
	// Server is the HTTP server: the engine's API is at
	// Server.URL+"/ovirt-engine/api", imageio's tickets at /images/ (and
	// the proxy's at /proxy/images/).
	Server *httptest.Server

	// The mutex guards the fake's state: hold it to set a failure or read
	// a record while requests may run.
	sync.Mutex
	vms       map[string]*fakeVM
	backups   map[string]*fakeBackup
	transfers map[string]*fakeTransfer
	tickets   map[string]*fakeTransfer

	// Failure injection.
	FailNextBackup    bool // the next backup ends failed instead of ready
	FailTransfer      bool // transfers end paused_system instead of transferring
	FailFinalize      bool // finalized backups end failed instead of succeeded
	StuckBackups      bool // backups stay starting
	OldImageio        bool // omit zero/hole (zero context) and zero (dirty context)
	NoDirtyTickets    bool // tickets of incremental backups lack dirty
	NoToCheckpoint    bool // ready backups carry no to_checkpoint_id
	IgnoreBackupID    bool // start backups under an ID of the fake's own
	ShortExtents      bool // extents stop one byte short of the capacity
	Imageio5xx        int  // answer the next N imageio requests 503
	Engine5xx         int  // answer the next N engine GETs 503
	FinalizeBackup5xx int  // answer the next N backup finalizes 503
	// User and Password, when set, are the only credentials the engine
	// takes (basic authentication, or SSO for a token).
	User, Password string
	token          string
	clock          int64 // the engine's clock, ms since the epoch

	// Records.
	BackupFinalizes   []string          // backup IDs, in order
	TransferFinalizes []string          // transfer IDs, in order
	FinalizeOrderBad  bool              // a backup was finalized while its transfer was transferring
	Requests          []string          // "METHOD path"
	Bodies            map[string]string // "METHOD path" → the last body sent
}

// fakeVM is a VM with its one disk.
type fakeVM struct {
	id          string
	disk        string
	capacity    int64
	data        []extent.Extent // written ranges
	checkpoints []*fakeCheckpoint
	active      *fakeBackup
}

// fakeCheckpoint is a checkpoint of a VM with its bitmap.
type fakeCheckpoint struct {
	id      string
	parent  string
	created int64 // creation date, ms since the epoch
	dirty   []extent.Extent
	lost    bool
}

// fakeBackup is a backup of a VM, with the export it froze at start.
type fakeBackup struct {
	id, vm, from, to string
	phase            string
	mode             string
	fail             bool
	data, dirty      []extent.Extent
}

// fakeTransfer is an image transfer and its imageio ticket.
type fakeTransfer struct {
	id, ticket string
	backup     *fakeBackup
	vm         *fakeVM
	phase      string
	dirty      bool
	data       []extent.Extent
}

// New starts a fake for test t, over TLS (a certificate of its own, which
// Server.Client trusts) or plain HTTP; the test's cleanup closes it.
func New(t testing.TB, tls bool) *Fake {
	f := Start(tls)
	f.T = t
	t.Cleanup(f.Server.Close)
	return f
}

// Start starts a fake; the caller closes f.Server.
func Start(tls bool) *Fake {
	f := &Fake{vms: map[string]*fakeVM{}, backups: map[string]*fakeBackup{},
		transfers: map[string]*fakeTransfer{}, tickets: map[string]*fakeTransfer{}}
	f.Server = httptest.NewUnstartedServer(f)
	f.Server.Config.ErrorLog = log.New(io.Discard, "", 0)
	if tls {
		f.Server.StartTLS()
	} else {
		f.Server.Start()
	}
	return f
}

// ids numbers the IDs of every fake: like the engine's UUIDs, an ID is
// never handed out twice, also across fakes (other VMs).
var ids atomic.Int64

// engID returns a fresh UUID-shaped ID.
func (f *Fake) newID(kind byte) string {
	n := ids.Add(1)
	return fmt.Sprintf("%08x-0000-4000-8000-%c%011x", n, kind, n)
}

// AddVM adds a VM with one disk of the given capacity.
func (f *Fake) AddVM(capacity int64) (vm, disk string) {
	f.Lock()
	defer f.Unlock()
	v := &fakeVM{id: f.newID('a'), disk: f.newID('d'), capacity: capacity}
	f.vms[v.id] = v
	return v.id, v.disk
}

// Write records a guest write.
func (f *Fake) Write(vm string, off, length int64) {
	f.Lock()
	defer f.Unlock()
	v := f.vms[vm]
	e := []extent.Extent{{Offset: off, Length: length}}
	v.data = extent.UnionSlices(v.data, e)
	for _, c := range v.checkpoints {
		c.dirty = extent.UnionSlices(c.dirty, e)
	}
}

// LostBitmaps drops every checkpoint's bitmap of the VM.
func (f *Fake) LostBitmaps(vm string) {
	f.Lock()
	defer f.Unlock()
	for _, c := range f.vms[vm].checkpoints {
		c.lost, c.dirty = true, nil
	}
}

// Active reports the backups not finished and the transfers not finalized.
func (f *Fake) Active() (backups, transfers []string) {
	f.Lock()
	defer f.Unlock()
	for id, b := range f.backups {
		if b.phase != "succeeded" && b.phase != "failed" {
			backups = append(backups, id+"("+b.phase+")")
		}
	}
	for id, t := range f.transfers {
		if t.phase == "initializing" || t.phase == "transferring" {
			transfers = append(transfers, id+"("+t.phase+")")
		}
	}
	return backups, transfers
}

func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.Lock()
	defer f.Unlock()
	f.Requests = append(f.Requests, r.Method+" "+r.URL.Path)
	if r.Body != nil {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if f.Bodies == nil {
			f.Bodies = map[string]string{}
		}
		f.Bodies[r.Method+" "+r.URL.Path] = string(body)
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
		if r.Method == http.MethodGet && f.Engine5xx > 0 {
			f.Engine5xx--
			faultReply(w, http.StatusServiceUnavailable, "Service Unavailable", "")
			return
		}
		f.engine(w, r, strings.Split(strings.TrimPrefix(p, "/ovirt-engine/api/"), "/"))
	default:
		http.NotFound(w, r)
	}
}

func (f *Fake) authorized(r *http.Request) bool {
	if f.User == "" {
		return true
	}
	if u, pw, ok := r.BasicAuth(); ok {
		return u == f.User && pw == f.Password
	}
	return f.token != "" && r.Header.Get("Authorization") == "Bearer "+f.token
}

func (f *Fake) sso(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	w.Header().Set("Content-Type", "application/json")
	if r.Form.Get("grant_type") != "password" || r.Form.Get("scope") != "ovirt-app-api" ||
		r.Form.Get("username") != f.User || r.Form.Get("password") != f.Password {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "access_denied",
			"error_description": "Cannot authenticate user '" + r.Form.Get("username") + "': The username or password is incorrect."})
		return
	}
	f.token = "tok-" + f.newID('t')
	_ = json.NewEncoder(w).Encode(map[string]string{"access_token": f.token, "scope": "ovirt-app-api", "token_type": "bearer", "exp": "9999999999999"})
}

// faultReply writes an engine fault, {"reason": ..., "detail": ...}.
func faultReply(w http.ResponseWriter, status int, reason, detail string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"reason": reason, "detail": detail})
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
