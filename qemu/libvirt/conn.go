//go:build cgo

package libvirt

import (
	"fmt"
	"log/slog"
	"sort"
	"sync"

	golibvirt "libvirt.org/go/libvirt"

	"github.com/changedblocks/sdk/cbt"
)

// Conn is a connection to libvirt. It is safe for concurrent use.
type Conn struct {
	uri string
	log *slog.Logger

	mu     sync.Mutex
	c      *golibvirt.Connect
	closed bool
}

// Options tune Connect; nil means the defaults.
type Options struct {
	// Logger receives debug records (jobs begun and ended, files removed);
	// nil is silent.
	Logger *slog.Logger
}

// Connect opens the libvirt URI (qemu:///system, qemu+ssh://host/system,
// ...). Errors: ErrBusy when libvirtd does not answer, ErrInvalidArgument
// for an access refused, ErrUnsupported for a URI no driver serves.
func Connect(uri string, opts *Options) (*Conn, error) {
	c, err := golibvirt.NewConnect(uri)
	if err != nil {
		return nil, classify(err, "connecting to "+uri)
	}
	conn := &Conn{uri: uri, c: c, log: slog.New(slog.DiscardHandler)}
	if opts != nil && opts.Logger != nil {
		conn.log = opts.Logger
	}
	return conn, nil
}

// URI is the URI the connection was opened with.
func (c *Conn) URI() string { return c.uri }

// Close closes the connection. Disks opened from it must be closed first.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	if _, err := c.c.Close(); err != nil {
		return classify(err, "closing the connection")
	}
	return nil
}

func (c *Conn) conn() (*golibvirt.Connect, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, fmt.Errorf("libvirt: %w", cbt.ErrClosed)
	}
	return c.c, nil
}

// DomainInfo describes a domain.
type DomainInfo struct {
	Name       string
	UUID       string
	Running    bool // running or paused: checkpoints and backups work
	Persistent bool // transient domains lose their checkpoint metadata when they stop
}

// Domains lists the domains, by name.
func (c *Conn) Domains() ([]DomainInfo, error) {
	lc, err := c.conn()
	if err != nil {
		return nil, err
	}
	doms, err := lc.ListAllDomains(0)
	if err != nil {
		return nil, classify(err, "listing domains")
	}
	defer freeDomains(doms)
	out := make([]DomainInfo, 0, len(doms))
	for i := range doms {
		info, err := domainInfo(&doms[i])
		if err != nil {
			if isCode(err, golibvirt.ERR_NO_DOMAIN) {
				continue // gone while listing
			}
			return nil, err
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func freeDomains(doms []golibvirt.Domain) {
	for i := range doms {
		_ = doms[i].Free()
	}
}

func domainInfo(d *golibvirt.Domain) (DomainInfo, error) {
	var info DomainInfo
	var err error
	if info.Name, err = d.GetName(); err != nil {
		return info, classify(err, "reading a domain's name")
	}
	if info.UUID, err = d.GetUUIDString(); err != nil {
		return info, classify(err, "reading the UUID of domain "+info.Name)
	}
	if info.Running, err = d.IsActive(); err != nil {
		return info, classify(err, "reading the state of domain "+info.Name)
	}
	if info.Persistent, err = d.IsPersistent(); err != nil {
		return info, classify(err, "reading domain "+info.Name)
	}
	return info, nil
}

// lookup finds a domain by name or UUID; the caller frees it.
func (c *Conn) lookup(name string) (*golibvirt.Domain, error) {
	lc, err := c.conn()
	if err != nil {
		return nil, err
	}
	d, err := lc.LookupDomainByName(name)
	if err != nil && isCode(err, golibvirt.ERR_NO_DOMAIN) {
		if d2, err2 := lc.LookupDomainByUUIDString(name); err2 == nil {
			return d2, nil
		}
	}
	if err != nil {
		return nil, classify(err, "looking up domain "+name)
	}
	return d, nil
}

// Domain describes the domain name (or UUID). Errors: ErrNotFound.
func (c *Conn) Domain(name string) (DomainInfo, error) {
	d, err := c.lookup(name)
	if err != nil {
		return DomainInfo{}, err
	}
	defer d.Free()
	return domainInfo(d)
}

// Disks lists the disks of the domain name, in the order of its XML: the
// live definition when it runs, else the persistent one. Errors:
// ErrNotFound.
func (c *Conn) Disks(name string) ([]DiskInfo, error) {
	d, err := c.lookup(name)
	if err != nil {
		return nil, err
	}
	defer d.Free()
	return domainDisks(d, name)
}

func domainDisks(d *golibvirt.Domain, name string) ([]DiskInfo, error) {
	doc, err := d.GetXMLDesc(0)
	if err != nil {
		return nil, classify(err, "reading the XML of domain "+name)
	}
	disks, err := parseDomainDisks(doc)
	if err != nil {
		return nil, fmt.Errorf("libvirt: domain %s: %w", name, err)
	}
	return disks, nil
}

// findDisk returns the disk target of the list.
func findDisk(disks []DiskInfo, domain, target string) (DiskInfo, error) {
	var names []string
	for _, d := range disks {
		if d.Target == target {
			return d, nil
		}
		names = append(names, d.Target)
	}
	return DiskInfo{}, fmt.Errorf("%w: libvirt: domain %s has no disk %q (it has %v)", cbt.ErrNotFound, domain, target, names)
}
