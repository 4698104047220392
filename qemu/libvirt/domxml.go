package libvirt

import (
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"

	"github.com/changedblocks/sdk/cbt"
)

// maxXML bounds the XML documents this package decodes (a domain with its
// checkpoints' copies is far smaller).
const maxXML = 16 << 20

// DiskInfo describes one disk of a domain, from its XML.
type DiskInfo struct {
	Target string // target dev: vda, sdb, ...
	Bus    string // virtio, scsi, sata, ...
	Device string // disk, cdrom, lun, floppy
	Type   string // file, block, network, volume
	Format string // driver type: qcow2, raw, ...
	// Source is the file or block device path (empty for network disks).
	Source string
	// Alias is qemu's device alias (e.g. virtio-disk0), when running.
	Alias string
	// Backing lists the files or devices below Source, top first, as
	// libvirt reports them (for a running domain; an external snapshot's
	// overlay is Source, the image it was taken of is in Backing).
	Backing []string
}

// Trackable reports whether libvirt can keep checkpoints for the disk: only
// qcow2 images hold the persistent bitmaps a checkpoint needs.
func (d DiskInfo) Trackable() bool { return d.Format == "qcow2" && d.Device == "disk" }

type xmlDomain struct {
	Name  string    `xml:"name"`
	UUID  string    `xml:"uuid"`
	Disks []xmlDisk `xml:"devices>disk"`
}

type xmlDisk struct {
	Type   string `xml:"type,attr"`
	Device string `xml:"device,attr"`
	Driver struct {
		Type string `xml:"type,attr"`
	} `xml:"driver"`
	Source struct {
		File   string `xml:"file,attr"`
		Dev    string `xml:"dev,attr"`
		Name   string `xml:"name,attr"`
		Volume string `xml:"volume,attr"`
	} `xml:"source"`
	Target struct {
		Dev string `xml:"dev,attr"`
		Bus string `xml:"bus,attr"`
	} `xml:"target"`
	Alias struct {
		Name string `xml:"name,attr"`
	} `xml:"alias"`
	BackingStore *xmlBacking `xml:"backingStore"`
}

type xmlBacking struct {
	Source struct {
		File string `xml:"file,attr"`
		Dev  string `xml:"dev,attr"`
	} `xml:"source"`
	BackingStore *xmlBacking `xml:"backingStore"`
}

// maxBacking bounds the backing chain read from a domain's XML.
const maxBacking = 1024

// backing lists the file or device of each element of a backing chain.
func (b *xmlBacking) chain() []string {
	var out []string
	for ; b != nil && len(out) < maxBacking; b = b.BackingStore {
		switch {
		case b.Source.File != "":
			out = append(out, b.Source.File)
		case b.Source.Dev != "":
			out = append(out, b.Source.Dev)
		}
	}
	return out
}

func decodeXML(doc string, v any, what string) error {
	if len(doc) > maxXML {
		return fmt.Errorf("%w: %s XML of %d bytes is larger than %d", cbt.ErrCorrupt, what, len(doc), maxXML)
	}
	if err := xml.Unmarshal([]byte(doc), v); err != nil {
		return fmt.Errorf("%w: %s XML: %w", cbt.ErrCorrupt, what, err)
	}
	return nil
}

// parseDomainDisks returns the disks of a domain XML, in document order.
func parseDomainDisks(doc string) ([]DiskInfo, error) {
	var d xmlDomain
	if err := decodeXML(doc, &d, "domain"); err != nil {
		return nil, err
	}
	out := make([]DiskInfo, 0, len(d.Disks))
	for _, x := range d.Disks {
		di := DiskInfo{
			Target: x.Target.Dev, Bus: x.Target.Bus, Device: x.Device, Type: x.Type,
			Format: x.Driver.Type, Alias: x.Alias.Name, Backing: x.BackingStore.chain(),
		}
		if di.Device == "" {
			di.Device = "disk"
		}
		switch x.Type {
		case "file", "":
			di.Source = x.Source.File
		case "block":
			di.Source = x.Source.Dev
		case "network":
			di.Source = x.Source.Name
		case "volume":
			di.Source = x.Source.Volume
		}
		out = append(out, di)
	}
	return out, nil
}

// Checkpoint is a libvirt checkpoint of a domain: from its creation on, one
// persistent dirty bitmap per covered disk records the guest's writes.
type Checkpoint struct {
	Name string
	// Domain is the UUID of the checkpoint's domain.
	Domain      string
	Parent      string // "" for the first checkpoint of the chain
	Description string
	// CreationTime is libvirt's creationTime, in seconds since the epoch.
	CreationTime int64
	Disks        []CheckpointDisk
	// XML is the checkpoint's description as libvirt gives it (with the
	// domain's XML), what RedefineCheckpoint takes back.
	XML string
}

// CheckpointDisk says how a checkpoint covers one disk.
type CheckpointDisk struct {
	Target     string
	Checkpoint string // "bitmap" when the disk is tracked, "no" otherwise
	Bitmap     string // the qcow2 bitmap's name (libvirt names it like the checkpoint)
	Size       int64  // bytes changed since the checkpoint, when asked for (-1: unknown)
	// Source is the disk's file or device when the checkpoint was made,
	// from the domain definition libvirt saved with it ("" when the XML
	// holds none).
	Source string
}

// Disk returns how the checkpoint covers the disk target.
func (c Checkpoint) Disk(target string) (CheckpointDisk, bool) {
	for _, d := range c.Disks {
		if d.Target == target {
			return d, true
		}
	}
	return CheckpointDisk{}, false
}

type xmlCheckpoint struct {
	Name         string `xml:"name"`
	Description  string `xml:"description"`
	Parent       string `xml:"parent>name"`
	CreationTime string `xml:"creationTime"`
	Disks        []struct {
		Name       string `xml:"name,attr"`
		Checkpoint string `xml:"checkpoint,attr"`
		Bitmap     string `xml:"bitmap,attr"`
		Size       string `xml:"size,attr"`
	} `xml:"disks>disk"`
	Domain *struct {
		Disks []xmlDisk `xml:"devices>disk"`
	} `xml:"domain"`
}

// ParseCheckpointXML decodes a checkpoint's XML, as Checkpoint.XML holds it
// (for example to order saved checkpoints parents first before redefining
// them). Its Domain is left empty: the XML names the domain by name only.
// Errors: ErrCorrupt.
func ParseCheckpointXML(doc string) (Checkpoint, error) { return parseCheckpoint(doc) }

func parseCheckpoint(doc string) (Checkpoint, error) {
	var x xmlCheckpoint
	if err := decodeXML(doc, &x, "checkpoint"); err != nil {
		return Checkpoint{}, err
	}
	if x.Name == "" {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint XML without a name", cbt.ErrCorrupt)
	}
	c := Checkpoint{Name: x.Name, Parent: x.Parent, Description: x.Description, XML: doc}
	if s := strings.TrimSpace(x.CreationTime); s != "" {
		t, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return Checkpoint{}, fmt.Errorf("%w: checkpoint %q: creationTime %q is not a number", cbt.ErrCorrupt, x.Name, s)
		}
		c.CreationTime = t
	}
	sources := map[string]string{}
	if x.Domain != nil {
		for _, d := range x.Domain.Disks {
			switch {
			case d.Source.File != "":
				sources[d.Target.Dev] = d.Source.File
			case d.Source.Dev != "":
				sources[d.Target.Dev] = d.Source.Dev
			}
		}
	}
	for _, d := range x.Disks {
		cd := CheckpointDisk{Target: d.Name, Checkpoint: d.Checkpoint, Bitmap: d.Bitmap, Size: -1, Source: sources[d.Name]}
		if cd.Checkpoint == "bitmap" && cd.Bitmap == "" {
			cd.Bitmap = x.Name
		}
		if d.Size != "" {
			n, err := strconv.ParseInt(d.Size, 10, 64)
			if err != nil || n < 0 {
				return Checkpoint{}, fmt.Errorf("%w: checkpoint %q disk %q: size %q", cbt.ErrCorrupt, x.Name, d.Name, d.Size)
			}
			cd.Size = n
		}
		c.Disks = append(c.Disks, cd)
	}
	return c, nil
}

// backupDisk is what backup-dumpxml says of one disk of a running job.
type backupDisk struct {
	Name, Backup, ExportName, ExportBitmap, Incremental, BackupMode, Scratch string
}

type xmlBackup struct {
	Mode        string `xml:"mode,attr"`
	Incremental string `xml:"incremental"`
	Server      struct {
		Transport string `xml:"transport,attr"`
		Socket    string `xml:"socket,attr"`
	} `xml:"server"`
	Disks []struct {
		Name         string `xml:"name,attr"`
		Backup       string `xml:"backup,attr"`
		ExportName   string `xml:"exportname,attr"`
		ExportBitmap string `xml:"exportbitmap,attr"`
		Incremental  string `xml:"incremental,attr"`
		BackupMode   string `xml:"backupmode,attr"`
		Scratch      struct {
			File string `xml:"file,attr"`
		} `xml:"scratch"`
	} `xml:"disks>disk"`
}

// parseBackup decodes a running backup job's XML and returns the unix
// socket and the disk target's entry.
func parseBackup(doc, target string) (socket string, d backupDisk, err error) {
	var x xmlBackup
	if err := decodeXML(doc, &x, "backup"); err != nil {
		return "", backupDisk{}, err
	}
	if x.Mode != "pull" {
		return "", backupDisk{}, fmt.Errorf("%w: the domain's backup job is in %q mode, not pull", cbt.ErrBusy, x.Mode)
	}
	for _, e := range x.Disks {
		if e.Name != target {
			continue
		}
		d = backupDisk{Name: e.Name, Backup: e.Backup, ExportName: e.ExportName, ExportBitmap: e.ExportBitmap,
			Incremental: e.Incremental, BackupMode: e.BackupMode, Scratch: e.Scratch.File}
		if d.ExportName == "" {
			d.ExportName = target
		}
		return x.Server.Socket, d, nil
	}
	return "", backupDisk{}, fmt.Errorf("%w: the backup job does not export disk %q", cbt.ErrCorrupt, target)
}

// backupXML is a pull-mode backup of one disk of the domain (the others are
// listed with backup='no', else libvirt would export them too), served on a
// unix socket, with the scratch file given.
func backupXML(incremental, socket, target, scratch string, all []DiskInfo) string {
	var b strings.Builder
	b.WriteString("<domainbackup mode='pull'>")
	if incremental != "" {
		fmt.Fprintf(&b, "<incremental>%s</incremental>", xmlEscape(incremental))
	}
	fmt.Fprintf(&b, "<server transport='unix' socket='%s'/><disks>", xmlEscape(socket))
	for _, d := range all {
		if d.Target == target {
			fmt.Fprintf(&b, "<disk name='%s' backup='yes' type='file'><scratch file='%s'/></disk>", xmlEscape(d.Target), xmlEscape(scratch))
		} else if d.Target != "" && d.Device == "disk" {
			fmt.Fprintf(&b, "<disk name='%s' backup='no'/>", xmlEscape(d.Target))
		}
	}
	b.WriteString("</disks></domainbackup>")
	return b.String()
}

// checkpointXML describes a new checkpoint covering the disks given (nil:
// libvirt's default, every disk that can hold a bitmap).
func checkpointXML(name, description string, disks []DiskInfo) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<domaincheckpoint><name>%s</name>", xmlEscape(name))
	if description != "" {
		fmt.Fprintf(&b, "<description>%s</description>", xmlEscape(description))
	}
	if disks != nil {
		b.WriteString("<disks>")
		for _, d := range disks {
			if d.Device != "disk" || d.Target == "" {
				continue
			}
			mode := "no"
			if d.Trackable() {
				mode = "bitmap"
			}
			fmt.Fprintf(&b, "<disk name='%s' checkpoint='%s'/>", xmlEscape(d.Target), mode)
		}
		b.WriteString("</disks>")
	}
	b.WriteString("</domaincheckpoint>")
	return b.String()
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return strings.ReplaceAll(b.String(), "'", "&#39;")
}
