package ocitest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"

	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/scsi/scsimodel"
)

// The identities the server knows.
const (
	Compartment        = "ocid1.compartment.oc1..c"
	AvailabilityDomain = "Uocm:PHX-AD-1"
	Instance           = "ocid1.instance.oc1.phx.i"
	// DevicePrefix starts the device path DevicePath gives.
	DevicePrefix = "/ocitest/by-path/"
)

// Server is the fake OCI service. Its methods are safe for concurrent use.
type Server struct {
	t   testing.TB
	srv *httptest.Server
	cp  common.ConfigurationProvider
	pub *rsa.PublicKey

	mu          sync.Mutex
	n           int
	history     map[string][]extent.Extent // source volume -> writes in order
	sizeGB      map[string]int64           // source volume -> size
	backups     map[string]*backup
	volumes     map[string]*volume
	attachments map[string]*attachment
	tokens      map[string]string            // retry token -> resource made with it
	faults      map[string][]Fault           // "POST /volumes" -> answers to give first
	calls       []string                     // "POST /volumes", in order
	bodies      map[string][]json.RawMessage // create and attach bodies by route

	provisioningPolls int // reads a new volume stays PROVISIONING (then RESTORING once)
	faulty            bool
	attachingPolls    int
	detachingPolls    int
	deltaOff          bool
}

type backup struct {
	id, volume string
	boot       bool
	seq        int   // writes of the volume it holds
	sizeGB     int64 // the volume's size when taken
	busy       int   // creates it still answers 409 to (and reads CREATING)
	created    time.Time
}

// epoch is the creation time of the first backup; each later one is a
// second later.
var epoch = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)

type volume struct {
	id, state  string
	name       string
	boot       bool
	polls      int
	sizeGB     int64
	delta      []extent.Extent
	attachedBy string
}

type attachment struct {
	id, volume, state string
	polls             int
}

// Fault is an error answer to inject.
type Fault struct {
	Status int    // the HTTP status
	Code   string // the service's error code, such as "TooManyRequests"
	// After serves the request first, then answers the error: the work is
	// done but the client does not learn it (a lost answer).
	After bool
}

// New starts a server, stopped at the end of the test, and makes the RSA
// key its clients sign with. A request whose signature does not verify
// fails the test.
func New(t testing.TB) *Server {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	f := &Server{
		t: t, pub: &key.PublicKey,
		history: map[string][]extent.Extent{}, sizeGB: map[string]int64{},
		backups: map[string]*backup{}, volumes: map[string]*volume{},
		attachments: map[string]*attachment{}, tokens: map[string]string{},
		faults: map[string][]Fault{}, bodies: map[string][]json.RawMessage{},
		provisioningPolls: 2, attachingPolls: 1, detachingPolls: 1,
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	f.cp = common.NewRawConfigurationProvider("ocid1.tenancy.oc1..t", "ocid1.user.oc1..u", "us-phoenix-1", "aa:bb:cc", pemKey, nil)
	return f
}

// ConfigurationProvider returns the credentials of the server's key.
func (f *Server) ConfigurationProvider() common.ConfigurationProvider { return f.cp }

// Point directs SDK clients (their embedded BaseClient) to the server, and
// turns their circuit breaker off: it would answer for the server after a
// few injected 5xx.
func (f *Server) Point(clients ...*common.BaseClient) {
	for _, bc := range clients {
		bc.Host = f.srv.URL
		bc.Configuration.CircuitBreaker = nil
	}
}

func (f *Server) id(kind string) string {
	f.n++
	return fmt.Sprintf("ocid1.%s.oc1.phx.%04d", kind, f.n)
}

// Source makes a source volume of sizeGB and returns its OCID.
func (f *Server) Source(sizeGB int64) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := f.id("volume")
	f.sizeGB[v] = sizeGB
	f.history[v] = nil
	return v
}

// Write records a write to a source volume.
func (f *Server) Write(volume string, e extent.Extent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.history[volume] = append(f.history[volume], e)
}

// Backup takes a backup (a boot volume backup when boot) of a source volume
// and returns its OCID.
func (f *Server) Backup(volume string, boot bool) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	kind := "volumebackup"
	if boot {
		kind = "bootvolumebackup"
	}
	b := &backup{id: f.id(kind), volume: volume, boot: boot, seq: len(f.history[volume]), sizeGB: f.sizeGB[volume]}
	b.created = epoch.Add(time.Duration(f.n) * time.Second)
	f.backups[b.id] = b
	return b.id
}

// Restore makes a new source volume from a backup, as the service does (a
// volume restored from a backup is a new volume, with a new OCID, holding
// the backup's data), and returns its OCID. Its backups are of the new
// volume.
func (f *Server) Restore(backupID string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.backups[backupID]
	v := f.id("volume")
	f.sizeGB[v] = b.sizeGB
	f.history[v] = append([]extent.Extent(nil), f.history[b.volume][:b.seq]...)
	return v
}

// DeleteBackup removes a backup.
func (f *Server) DeleteBackup(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.backups, id)
}

// ResizeBackup changes the volume size a backup records (the volume was
// resized between two backups).
func (f *Server) ResizeBackup(id string, sizeGB int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.backups[id].sizeGB = sizeGB
}

// SetBusy makes a backup answer n more delta creates with 409 (it is not
// AVAILABLE yet).
func (f *Server) SetBusy(id string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.backups[id].busy = n
}

// SetPolls sets how many reads a new volume stays PROVISIONING, an
// attachment ATTACHING and a detachment DETACHING (default 2, 1, 1).
func (f *Server) SetPolls(provisioning, attaching, detaching int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.provisioningPolls, f.attachingPolls, f.detachingPolls = provisioning, attaching, detaching
}

// SetFaulty makes new delta volumes end FAULTY instead of AVAILABLE.
func (f *Server) SetFaulty(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faulty = on
}

// SetDeltaOff answers every delta create with 404, as a tenancy without
// the feature.
func (f *Server) SetDeltaOff(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deltaOff = on
}

// Fault queues answers for a route ("POST /volumes", "GET /volumeAttachments",
// "DELETE /volumes", ...; a list is "LIST /volumes"), given to its next
// requests in order.
func (f *Server) Fault(route string, faults ...Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults[route] = append(f.faults[route], faults...)
}

// Live returns the delta volumes not deleted and the attachments not
// detached.
func (f *Server) Live() (volumes, attachments []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, v := range f.volumes {
		if v.state != "TERMINATED" {
			volumes = append(volumes, id)
		}
	}
	for id, a := range f.attachments {
		if a.state != "DETACHED" {
			attachments = append(attachments, id)
		}
	}
	return volumes, attachments
}

// Volumes returns how many delta volumes were made.
func (f *Server) Volumes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.volumes)
}

// Calls returns the routes requested, in order.
func (f *Server) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// Count returns how many requests a route got.
func (f *Server) Count(route string) int {
	n := 0
	for _, c := range f.Calls() {
		if c == route {
			n++
		}
	}
	return n
}

// Bodies returns the bodies of the creates or attaches a route got.
func (f *Server) Bodies(route string) []json.RawMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]json.RawMessage(nil), f.bodies[route]...)
}

// DevicePath is the device path of an attached delta volume, to return
// from a test's connector; Device opens it.
func DevicePath(volumeID string) string { return DevicePrefix + volumeID }

// Device returns the device model of the delta volume at a DevicePath: a
// thin LUN of 512-byte blocks whose mapped blocks are the delta, widened to
// the change block size. The volume must be AVAILABLE and attached.
func (f *Server) Device(path string) (Device, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := strings.TrimPrefix(path, DevicePrefix)
	v, ok := f.volumes[id]
	if !ok || v.state != "AVAILABLE" || v.attachedBy == "" {
		return nil, fmt.Errorf("ocitest: %s is not an attached delta volume", path)
	}
	lun, err := scsimodel.New(v.sizeGB<<30, 512, v.delta)
	if err != nil {
		return nil, err
	}
	return lun, nil
}

// Device is a SCSI device: the same method set as oci.Device. Device
// returns a *scsimodel.LUN of package internal/scsi/scsimodel.
type Device interface {
	Exec(ctx context.Context, cdb []byte, dataIn []byte) (int, error)
	Close() error
}
