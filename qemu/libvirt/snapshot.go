//go:build cgo

package libvirt

import (
	"fmt"
	"sort"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/qemu"
)

// Snapshots lists the names of the domain's snapshots (what virsh
// snapshot-list shows), sorted. Internal snapshots of its qcow2 disks are
// read with OpenSnapshotDisk. Errors: ErrNotFound.
func (c *Conn) Snapshots(domain string) ([]string, error) {
	d, err := c.lookup(domain)
	if err != nil {
		return nil, err
	}
	defer d.Free()
	snaps, err := d.ListAllSnapshots(0)
	if err != nil {
		return nil, classify(err, "listing the snapshots of domain "+domain)
	}
	out := make([]string, 0, len(snaps))
	for i := range snaps {
		name, err := snaps[i].GetName()
		_ = snaps[i].Free()
		if err != nil {
			return nil, classify(err, "reading a snapshot of domain "+domain)
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return out, nil
}

// OpenSnapshotDisk returns the disk target of the domain at its internal
// snapshot (a libvirt snapshot of a qcow2 disk taken with snapshot='internal',
// the default for a running domain with vmstate), as a *cbt.Disk of package
// qemu (scheme "qcow2"): Changes(since another snapshot's change ID) diffs the
// two snapshots' tables offline, also while the domain runs (snapshot tables
// are never rewritten in place). Errors: ErrNotFound (no such domain, disk or
// snapshot), ErrUnsupported (not a qcow2 file disk).
func (c *Conn) OpenSnapshotDisk(domain, target, snapshot string) (*cbt.Disk, error) {
	d, err := c.lookup(domain)
	if err != nil {
		return nil, err
	}
	defer d.Free()
	snap, err := d.SnapshotLookupByName(snapshot, 0)
	if err != nil {
		return nil, classify(err, fmt.Sprintf("looking up snapshot %q of domain %s", snapshot, domain))
	}
	_ = snap.Free()
	running, err := d.IsActive()
	if err != nil {
		return nil, classify(err, "reading the state of domain "+domain)
	}
	disks, err := domainDisks(d, domain)
	if err != nil {
		return nil, err
	}
	di, err := findDisk(disks, domain, target)
	if err != nil {
		return nil, err
	}
	if di.Format != "qcow2" || di.Type != "file" && di.Type != "block" {
		return nil, fmt.Errorf("%w: libvirt: disk %s of domain %s is a %s %s disk: internal snapshots live in qcow2 images only",
			cbt.ErrUnsupported, target, domain, di.Type, orUnknown(di.Format))
	}
	return qemu.OpenSnapshot(di.Source, snapshot, &qemu.Options{ForceShare: running, Logger: c.log})
}
