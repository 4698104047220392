// Package ocitest is a fake of the OCI Block Storage and Compute APIs that
// package oci calls, as an httptest server for the real oci-go-sdk clients,
// with the delta volumes' device model, for tests of programs built on
// package oci.
//
// The server checks every request's signature (RSA-SHA256 over the signed
// headers, and the body hash) against the key it generated, whose
// credentials ConfigurationProvider returns; Point directs SDK clients to it.
// It keeps source volumes with their writes, backups of them
// (Source, Write, Backup; each backup a second later than the one before,
// naming its volume; Restore makes a new volume from a backup), and the
// delta volumes and iSCSI attachments its
// clients make, with the documented states: a delta volume goes
// PROVISIONING, RESTORING, then AVAILABLE (or FAULTY, SetFaulty); an
// attachment ATTACHING, ATTACHED, then DETACHING, DETACHED. It answers a
// delta create as the service does: 400 for a malformed request, 403 for
// backups of different volumes or sizes, 404 for a missing backup (or
// always, SetDeltaOff), 409 while a backup is not AVAILABLE (SetBusy); a
// retry token returns the volume made with it. Fault injects any answer on
// any route, also after the work is done (a lost answer). Live lists what
// is left.
//
// Device gives the block device of an attached delta volume: a thin LUN
// whose mapped blocks are the delta, answering READ CAPACITY(16) and GET
// LBA STATUS with the bytes a real target sends.
package ocitest
