//go:build cgo

package libvirt

import (
	"fmt"

	golibvirt "libvirt.org/go/libvirt"

	"github.com/changedblocks/sdk/cbt"
)

// Checkpoints lists the checkpoints of the domain, parents before their
// children (so the first is the root of the chain). Errors: ErrNotFound.
func (c *Conn) Checkpoints(domain string) ([]Checkpoint, error) {
	d, err := c.lookup(domain)
	if err != nil {
		return nil, err
	}
	defer d.Free()
	cps, err := d.ListAllCheckpoints(golibvirt.DOMAIN_CHECKPOINT_LIST_TOPOLOGICAL)
	if err != nil {
		return nil, classify(err, "listing the checkpoints of domain "+domain)
	}
	defer func() {
		for i := range cps {
			_ = cps[i].Free()
		}
	}()
	uuid, err := d.GetUUIDString()
	if err != nil {
		return nil, classify(err, "reading the UUID of domain "+domain)
	}
	out := make([]Checkpoint, 0, len(cps))
	for i := range cps {
		doc, err := cps[i].GetXMLDesc(golibvirt.DOMAIN_CHECKPOINT_XML_NO_DOMAIN)
		if err != nil {
			if isCode(err, golibvirt.ERR_NO_DOMAIN_CHECKPOINT) {
				continue // deleted while listing
			}
			return nil, classify(err, "reading a checkpoint of domain "+domain)
		}
		cp, err := parseCheckpoint(doc)
		if err != nil {
			return nil, fmt.Errorf("libvirt: domain %s: %w", domain, err)
		}
		cp.Domain = uuid
		out = append(out, cp)
	}
	return out, nil
}

// Checkpoint describes the checkpoint name of the domain, with its full XML
// (the domain's definition included: what RedefineCheckpoint needs to bring
// it back on a transient domain). withSize asks libvirt for the bytes
// changed since the checkpoint, per disk (the domain must run). Errors:
// ErrNotFound.
func (c *Conn) Checkpoint(domain, name string, withSize bool) (Checkpoint, error) {
	d, err := c.lookup(domain)
	if err != nil {
		return Checkpoint{}, err
	}
	defer d.Free()
	return checkpointOf(d, domain, name, withSize)
}

func checkpointOf(d *golibvirt.Domain, domain, name string, withSize bool) (Checkpoint, error) {
	cp, err := d.CheckpointLookupByName(name, 0)
	if err != nil {
		return Checkpoint{}, classify(err, fmt.Sprintf("looking up checkpoint %q of domain %s", name, domain))
	}
	defer cp.Free()
	var flags golibvirt.DomainCheckpointXMLFlags
	if withSize {
		flags |= golibvirt.DOMAIN_CHECKPOINT_XML_SIZE
	}
	doc, err := cp.GetXMLDesc(flags)
	if err != nil {
		return Checkpoint{}, classify(err, fmt.Sprintf("reading checkpoint %q of domain %s", name, domain))
	}
	out, err := parseCheckpoint(doc)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("libvirt: domain %s: %w", domain, err)
	}
	if out.Domain, err = d.GetUUIDString(); err != nil {
		return Checkpoint{}, classify(err, "reading the UUID of domain "+domain)
	}
	return out, nil
}

// CheckpointOptions tune CreateCheckpoint; nil means the defaults.
type CheckpointOptions struct {
	// Description is stored with the checkpoint.
	Description string
	// Disks are the targets the checkpoint covers; nil means every qcow2
	// disk of the domain (the others cannot hold a bitmap).
	Disks []string
	// Quiesce freezes the guest's file systems while the checkpoint is made
	// (needs the qemu guest agent).
	Quiesce bool
}

// CreateCheckpoint makes a checkpoint of the running domain: from now on,
// one persistent bitmap per covered disk records the guest's writes. The
// new checkpoint's parent is the domain's latest checkpoint, so successive
// calls make a chain. Its description ends with a guard this package
// writes ("cbt-guard:NONCE"), which its change ID carries besides the
// creation time: a checkpoint deleted and made again under the same name,
// even within the same second, is told apart. Errors: ErrNotFound, ErrInvalidArgument (the domain is
// shut off: libvirt makes checkpoints of running domains only; or the name
// is taken), ErrUnsupported (no qcow2 disk), ErrBusy.
func (c *Conn) CreateCheckpoint(domain, name string, opts *CheckpointOptions) (Checkpoint, error) {
	var o CheckpointOptions
	if opts != nil {
		o = *opts
	}
	if name == "" {
		return Checkpoint{}, fmt.Errorf("%w: libvirt: a checkpoint needs a name", cbt.ErrInvalidArgument)
	}
	d, err := c.lookup(domain)
	if err != nil {
		return Checkpoint{}, err
	}
	defer d.Free()
	disks, err := domainDisks(d, domain)
	if err != nil {
		return Checkpoint{}, err
	}
	covered, err := coveredDisks(disks, domain, o.Disks)
	if err != nil {
		return Checkpoint{}, err
	}
	var flags golibvirt.DomainCheckpointCreateFlags
	if o.Quiesce {
		flags |= golibvirt.DOMAIN_CHECKPOINT_CREATE_QUIESCE
	}
	// The nonce in the description tells this checkpoint from one made
	// again under its name in the same second (creationTime counts whole
	// seconds): its change ID carries both.
	desc := guardTag + newNonce()
	if o.Description != "" {
		desc = o.Description + "; " + desc
	}
	cp, err := d.CreateCheckpointXML(checkpointXML(name, desc, covered), flags)
	if err != nil {
		return Checkpoint{}, classify(err, fmt.Sprintf("creating checkpoint %q of domain %s", name, domain))
	}
	_ = cp.Free()
	c.log.Debug("libvirt: checkpoint created", "domain", domain, "checkpoint", name)
	return checkpointOf(d, domain, name, false)
}

// coveredDisks returns the disks a new checkpoint lists: want's targets
// tracked, the other disks "no"; want nil means every qcow2 disk.
func coveredDisks(disks []DiskInfo, domain string, want []string) ([]DiskInfo, error) {
	out := make([]DiskInfo, 0, len(disks))
	tracked := 0
	for _, d := range disks {
		if d.Device != "disk" {
			continue
		}
		if want != nil && !contains(want, d.Target) {
			d.Format = "" // listed with checkpoint='no'
		}
		if d.Trackable() {
			tracked++
		}
		out = append(out, d)
	}
	for _, t := range want {
		d, err := findDisk(disks, domain, t)
		if err != nil {
			return nil, err
		}
		if !d.Trackable() {
			return nil, fmt.Errorf("%w: libvirt: disk %s of domain %s is %s, not a qcow2 disk: only qcow2 images hold checkpoint bitmaps; back it up in full each time, or convert it to qcow2",
				cbt.ErrUnsupported, t, domain, orUnknown(d.Format))
		}
	}
	if tracked == 0 {
		return nil, fmt.Errorf("%w: libvirt: domain %s has no qcow2 disk: only qcow2 images hold checkpoint bitmaps", cbt.ErrUnsupported, domain)
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func orUnknown(s string) string {
	if s == "" {
		return "of unknown format"
	}
	return s
}

// DeleteOptions tune DeleteCheckpoint; nil means the defaults.
type DeleteOptions struct {
	// MetadataOnly removes libvirt's record and leaves the qcow2 bitmaps
	// alone: for a checkpoint whose bitmaps are already gone or broken
	// (libvirt refuses the normal delete then).
	MetadataOnly bool
	// Children deletes the checkpoint's descendants too.
	Children bool
}

// DeleteCheckpoint deletes the checkpoint name of the domain. Its changes
// are merged into its parent's bitmap, so the parent still covers them.
// Errors: ErrNotFound, ErrChangeIDInvalid (its bitmap is broken: retry with
// MetadataOnly), ErrBusy.
func (c *Conn) DeleteCheckpoint(domain, name string, opts *DeleteOptions) error {
	var o DeleteOptions
	if opts != nil {
		o = *opts
	}
	d, err := c.lookup(domain)
	if err != nil {
		return err
	}
	defer d.Free()
	cp, err := d.CheckpointLookupByName(name, 0)
	if err != nil {
		return classify(err, fmt.Sprintf("looking up checkpoint %q of domain %s", name, domain))
	}
	defer cp.Free()
	var flags golibvirt.DomainCheckpointDeleteFlags
	if o.MetadataOnly {
		flags |= golibvirt.DOMAIN_CHECKPOINT_DELETE_METADATA_ONLY
	}
	if o.Children {
		flags |= golibvirt.DOMAIN_CHECKPOINT_DELETE_CHILDREN
	}
	if err := cp.Delete(flags); err != nil {
		return classify(err, fmt.Sprintf("deleting checkpoint %q of domain %s", name, domain))
	}
	c.log.Debug("libvirt: checkpoint deleted", "domain", domain, "checkpoint", name, "metadataOnly", o.MetadataOnly)
	return nil
}

// RedefineCheckpoint brings back a checkpoint from the XML Checkpoint
// returned (a transient domain forgets its checkpoints when it stops; a
// backup product saves their XML and redefines them, parents first). On a
// running domain libvirt checks that the disks' bitmaps exist and are sound
// (REDEFINE_VALIDATE); it cannot on a shut-off one, whose listings then
// check the bitmaps in the images themselves.
// Errors: ErrChangeIDInvalid (the bitmaps are missing or inconsistent: take a
// full backup), ErrInvalidArgument (malformed XML), ErrNotFound.
func (c *Conn) RedefineCheckpoint(domain, checkpointXML string) (Checkpoint, error) {
	parsed, err := parseCheckpoint(checkpointXML)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%w: libvirt: %w", cbt.ErrInvalidArgument, err)
	}
	d, err := c.lookup(domain)
	if err != nil {
		return Checkpoint{}, err
	}
	defer d.Free()
	running, err := d.IsActive()
	if err != nil {
		return Checkpoint{}, classify(err, "reading the state of domain "+domain)
	}
	flags := golibvirt.DOMAIN_CHECKPOINT_CREATE_REDEFINE
	if running {
		flags |= golibvirt.DOMAIN_CHECKPOINT_CREATE_REDEFINE_VALIDATE
	}
	cp, err := d.CreateCheckpointXML(checkpointXML, flags)
	if err != nil {
		return Checkpoint{}, invalidBitmap(classify(err, fmt.Sprintf("redefining checkpoint %q of domain %s", parsed.Name, domain)))
	}
	_ = cp.Free()
	return checkpointOf(d, domain, parsed.Name, false)
}

// ValidateCheckpoint checks that the bitmaps of the checkpoint are present
// and sound in the running domain's images, by redefining it onto itself
// with REDEFINE_VALIDATE. Errors: ErrChangeIDInvalid (take a full backup),
// ErrNotFound.
func (c *Conn) ValidateCheckpoint(domain, name string) error {
	d, err := c.lookup(domain)
	if err != nil {
		return err
	}
	defer d.Free()
	return validateCheckpoint(d, domain, name)
}

func validateCheckpoint(d *golibvirt.Domain, domain, name string) error {
	cp, err := d.CheckpointLookupByName(name, 0)
	if err != nil {
		return classify(err, fmt.Sprintf("looking up checkpoint %q of domain %s", name, domain))
	}
	defer cp.Free()
	doc, err := cp.GetXMLDesc(0)
	if err != nil {
		return classify(err, fmt.Sprintf("reading checkpoint %q of domain %s", name, domain))
	}
	again, err := d.CreateCheckpointXML(doc,
		golibvirt.DOMAIN_CHECKPOINT_CREATE_REDEFINE|golibvirt.DOMAIN_CHECKPOINT_CREATE_REDEFINE_VALIDATE)
	if err != nil {
		return invalidBitmap(classify(err, fmt.Sprintf("validating checkpoint %q of domain %s", name, domain)))
	}
	_ = again.Free()
	return nil
}

// invalidBitmap turns a validation failure about the bitmaps (libvirt says
// "missing or broken bitmap", or an operation failure naming a bitmap) into
// ErrChangeIDInvalid.
func invalidBitmap(err error) error {
	if err == nil || isChangeIDInvalid(err) {
		return err
	}
	if isCode(err, golibvirt.ERR_CHECKPOINT_INCONSISTENT) || mentionsBitmap(err) {
		return fmt.Errorf("%w: %w (take a full backup, then delete the broken checkpoint with MetadataOnly)", cbt.ErrChangeIDInvalid, err)
	}
	return err
}
