//go:build cgo

package libvirt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"sync"
	"time"

	golibvirt "libvirt.org/go/libvirt"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/driver"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/internal/nbd"
)

// NBD block status flags.
const (
	stateHole  = 1 << 0 // base:allocation
	stateZero  = 1 << 1 // base:allocation
	stateDirty = 1 << 0 // qemu:dirty-bitmap:*
)

// liveListing is a run on a running domain: a pull-mode backup job, its
// private directory, and the NBD connections to its export.
type liveListing struct {
	d      *disk
	dir    string
	socket string
	export string
	pg     *pager

	// made names the checkpoint this job made (NewCheckpoint), "" if none:
	// End deletes it again when the listing did not run to its end, so that
	// the caller, who stores no change ID then, can list again under the
	// same name (its bitmap merges into its parent's: nothing is lost).
	made string

	mu      sync.Mutex
	readers []*nbd.Conn
	ended   bool
}

func (d *disk) beginLive(ctx context.Context, dom *golibvirt.Domain, req driver.Request, since *Checkpoint) (_ driver.Listing, rerr error) {
	disks, err := domainDisks(dom, d.domain)
	if err != nil {
		return nil, err
	}
	dir, err := d.makeJobDir()
	if err != nil {
		return nil, err
	}
	l := &liveListing{d: d, dir: dir, socket: filepath.Join(dir, "nbd.sock")}
	jobStarted := false
	defer func() {
		if rerr != nil {
			if jobStarted {
				rerr = errors.Join(rerr, l.End(false))
			} else if err := os.RemoveAll(dir); err != nil {
				rerr = errors.Join(rerr, fmt.Errorf("libvirt: removing %s: %w", dir, err))
			}
		}
	}()
	incremental := ""
	if since != nil {
		incremental = since.Name
	}
	bxml := backupXML(incremental, l.socket, d.target, filepath.Join(dir, "scratch-"+d.target+".qcow2"), disks)
	newCP, makeCP := d.newCheckpoint()
	cpxml, err := d.checkpointFor(req, disks)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if makeCP {
		l.made = newCP.Name // End deletes it unless the listing completes
	}
	jobStarted, err = l.startJob(dom, bxml, cpxml, since)
	if err != nil {
		return nil, err
	}
	d.opts.Logger.Debug("libvirt: backup job begun", "domain", d.domain, "disk", d.target, "incremental", incremental, "checkpoint", newCP.Name, "dir", dir)
	if d.at {
		// The job's point in time is now; it stands for At only if no
		// write reached the disk since At. The bitmap's count includes
		// the writes after the job began: a superset, so this is safe.
		if err := d.checkAt(dom); err != nil {
			return nil, err
		}
	}
	dial, meta, err := l.openExport(ctx, dom, since)
	if err != nil {
		return nil, err
	}
	l.pg = newPager(l.changed(ctx, dial, meta, since != nil, req.Offset, req.End))
	return l, nil
}

// makeJobDir makes the job's private directory (mode 0700, given to
// Options.DirOwner), where the NBD socket and the scratch file go.
func (d *disk) makeJobDir() (_ string, rerr error) {
	dir, err := os.MkdirTemp(d.opts.SocketDir, "cbt-libvirt-")
	if err != nil {
		return "", fmt.Errorf("libvirt: making the job's private directory: %w", err)
	}
	defer func() {
		if rerr != nil {
			if err := os.RemoveAll(dir); err != nil {
				rerr = errors.Join(rerr, fmt.Errorf("libvirt: removing %s: %w", dir, err))
			}
		}
	}()
	if err := os.Chmod(dir, 0o700); err != nil {
		return "", fmt.Errorf("libvirt: %w", err)
	}
	if o := d.opts.DirOwner; o != nil {
		if err := os.Chown(dir, o.UID, o.GID); err != nil {
			return "", fmt.Errorf("libvirt: giving the job's directory to %d:%d: %w", o.UID, o.GID, err)
		}
	}
	return dir, nil
}

// checkpointFor returns the checkpoint XML of the checkpoint a listing of
// req makes (NewCheckpoint), or "" when it makes none.
func (d *disk) checkpointFor(req driver.Request, disks []DiskInfo) (string, error) {
	newCP, makeCP := d.newCheckpoint()
	if !makeCP {
		return "", nil
	}
	if req.Offset != 0 || req.End != d.capacity {
		// The checkpoint marks the point the whole listing reached: made by
		// a listing of part of the disk (a resume), it would hide the writes
		// to the rest made between the earlier job and this one.
		return "", fmt.Errorf("%w: libvirt: a listing that makes checkpoint %q must cover the whole disk, not [%d, %d): list again from offset 0, or resume without NewCheckpoint (since the same base) and make the next checkpoint in a later whole listing",
			cbt.ErrInvalidArgument, newCP.Name, req.Offset, req.End)
	}
	desc := guardTag + newCP.Nonce
	if d.opts.CheckpointDescription != "" {
		desc = d.opts.CheckpointDescription + "; " + desc
	}
	cov, err := coveredDisks(disks, d.domain, nil)
	if err != nil {
		return "", err
	}
	return checkpointXML(newCP.Name, desc, cov), nil
}

// startJob begins the pull-mode backup job. started tells whether a job of
// this listing runs, which may be so after an error too: then End must take
// it down.
func (l *liveListing) startJob(dom *golibvirt.Domain, bxml, cpxml string, since *Checkpoint) (started bool, _ error) {
	d := l.d
	err := dom.BackupBegin(bxml, cpxml, 0)
	if err == nil {
		return true, nil
	}
	what := fmt.Sprintf("starting a backup job of disk %s of domain %s", d.target, d.domain)
	if since != nil {
		what += " since checkpoint " + since.Name
	}
	// The answer may be lost after libvirtd started the job (a remote
	// connection that dropped): if a job serves our socket, it is ours
	// and End takes it down with its checkpoint.
	if doc, xerr := dom.BackupGetXMLDesc(0); xerr == nil {
		if sock, _, perr := parseBackup(doc, d.target); perr == nil && sock == l.socket {
			started = true
		}
	}
	return started, invalidBitmap(classify(err, what))
}

// openExport checks that the running job is this listing's and of the kind
// asked for, and that its NBD export has the disk's size; it returns how to
// dial the export and the metadata context that holds the changes.
func (l *liveListing) openExport(ctx context.Context, dom *golibvirt.Domain, since *Checkpoint) (nbd.DialFunc, string, error) {
	d := l.d
	doc, err := dom.BackupGetXMLDesc(0)
	if err != nil {
		return nil, "", classify(err, "reading the backup job of domain "+d.domain)
	}
	sock, bd, err := parseBackup(doc, d.target)
	if err != nil {
		return nil, "", fmt.Errorf("libvirt: domain %s: %w", d.domain, err)
	}
	if sock != l.socket {
		return nil, "", fmt.Errorf("%w: libvirt: domain %s runs another backup job (socket %s)", cbt.ErrBusy, d.domain, sock)
	}
	if since != nil && bd.BackupMode != "" && bd.BackupMode != "incremental" {
		return nil, "", fmt.Errorf("%w: libvirt: the job on disk %s is a %s backup, not incremental since %s: take a full backup",
			cbt.ErrChangeIDInvalid, d.target, bd.BackupMode, since.Name)
	}
	l.export = bd.ExportName
	meta := "base:allocation"
	if since != nil {
		bitmap := bd.ExportBitmap
		if bitmap == "" {
			bitmap = "backup-" + d.target
		}
		meta = "qemu:dirty-bitmap:" + bitmap
	}
	contexts := []string{meta}
	if since != nil && d.opts.IntersectAllocation {
		contexts = append(contexts, "base:allocation")
	}
	dial := func(ctx context.Context) (*nbd.Conn, error) {
		return nbd.Dial(ctx, "unix", l.socket, &nbd.Options{Export: l.export, MetaContexts: contexts})
	}
	// Check the export once before listing: its size must be the disk's.
	probe, err := dial(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("%w: libvirt: connecting to the backup export of disk %s: %w", cbt.ErrBusy, d.target, err)
	}
	size := probe.Size()
	_ = probe.Close()
	if int64(size) != d.capacity {
		return nil, "", fmt.Errorf("%w: libvirt: disk %s of domain %s is %d bytes now, %d when opened: open it again",
			cbt.ErrBusy, d.target, d.domain, size, d.capacity)
	}
	if d.opts.OnExport != nil {
		d.opts.OnExport(&exportReader{l: l, dial: func(ctx context.Context) (*nbd.Conn, error) {
			return nbd.Dial(ctx, "unix", l.socket, &nbd.Options{Export: l.export})
		}, ctx: ctx})
	}
	return dial, meta, nil
}

// changed streams the changed areas of [off, end): the dirty extents of an
// incremental (optionally less the holes), or the allocated ones of a full.
func (l *liveListing) changed(ctx context.Context, dial nbd.DialFunc, meta string, incremental bool, off, end int64) iter.Seq2[extent.Extent, error] {
	walk := func(mctx string, want func(uint32) bool) iter.Seq2[extent.Extent, error] {
		return func(yield func(extent.Extent, error) bool) {
			for e, err := range nbd.Walk(ctx, dial, mctx, uint64(off), uint64(end-off), nil) {
				if err != nil {
					if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
						yield(extent.Extent{}, err)
						return
					}
					yield(extent.Extent{}, fmt.Errorf("libvirt: reading %s of disk %s over NBD: %w", mctx, l.d.target, nbdClass(err)))
					return
				}
				if want(e.Flags) && !yield(extent.Extent{Offset: int64(e.Offset), Length: int64(e.Length)}, nil) {
					return
				}
			}
		}
	}
	allocated := func(f uint32) bool { return f&(stateHole|stateZero) != stateHole|stateZero }
	if !incremental {
		return coalesced(walk(meta, allocated))
	}
	dirty := walk(meta, func(f uint32) bool { return f&stateDirty != 0 })
	if !l.d.opts.IntersectAllocation {
		return coalesced(dirty)
	}
	return func(yield func(extent.Extent, error) bool) {
		var err1, err2 error
		for e := range extent.Intersect(seqOf(coalesced(dirty), &err1), seqOf(coalesced(walk("base:allocation", allocated)), &err2)) {
			if !yield(e, nil) {
				return
			}
		}
		if err := errors.Join(err1, err2); err != nil {
			yield(extent.Extent{}, err)
		}
	}
}

// coalesced merges adjacent extents of a stream (extent.Coalesce), passing
// its error on after the extents before it.
func coalesced(seq iter.Seq2[extent.Extent, error]) iter.Seq2[extent.Extent, error] {
	return func(yield func(extent.Extent, error) bool) {
		var err error
		for e := range extent.Coalesce(seqOf(seq, &err), 0) {
			if !yield(e, nil) {
				return
			}
		}
		if err != nil {
			yield(extent.Extent{}, err)
		}
	}
}

func nbdClass(err error) error {
	var oe *nbd.OptionError
	switch {
	case errors.Is(err, nbd.ErrUnsupported), errors.As(err, &oe):
		return fmt.Errorf("%w: %w (the export does not offer what the listing needs)", cbt.ErrUnsupported, err)
	case errors.Is(err, nbd.ErrProtocol):
		return fmt.Errorf("%w: %w", cbt.ErrCorrupt, err)
	}
	// Dropped connections, dial errors after the retries, server errors: the
	// job or qemu went away, or the host is short of something.
	return fmt.Errorf("%w: %w (the backup job ended or qemu stopped: list again)", cbt.ErrBusy, err)
}

func (l *liveListing) ChangedExtents(ctx context.Context, req driver.Request, buf []extent.Extent) ([]extent.Extent, int64, error) {
	return l.pg.page(ctx, req.Offset, req.End, buf)
}

// End stops the NBD reads, aborts the job, waits until libvirt has ended it
// and removes the private directory, within EndTimeout; after an incomplete
// listing it deletes the checkpoint the job made.
func (l *liveListing) End(complete bool) error {
	l.mu.Lock()
	if l.ended {
		l.mu.Unlock()
		return nil
	}
	l.ended = true
	readers := l.readers
	l.readers = nil
	l.mu.Unlock()

	var errs []error
	if l.pg != nil {
		l.pg.close()
	}
	for _, r := range readers {
		_ = r.Close()
	}
	deadline := time.Now().Add(l.d.opts.EndTimeout)
	if err := l.abortJob(deadline); err != nil {
		errs = append(errs, err)
	}
	if err := os.RemoveAll(l.dir); err != nil {
		errs = append(errs, fmt.Errorf("libvirt: removing the job's directory: %w", err))
	}
	if l.made != "" && !complete {
		if err := l.d.conn.DeleteCheckpoint(l.d.domain, l.made, nil); err != nil && !errors.Is(err, cbt.ErrNotFound) {
			errs = append(errs, fmt.Errorf("libvirt: the listing did not finish; deleting the checkpoint %q it made: %w (delete it, virsh checkpoint-delete %s %s, before listing again with the same NewCheckpoint)", l.made, err, l.d.domain, l.made))
		} else {
			l.d.opts.Logger.Debug("libvirt: incomplete listing: its checkpoint deleted", "domain", l.d.domain, "checkpoint", l.made)
		}
	}
	l.d.opts.Logger.Debug("libvirt: backup job ended", "domain", l.d.domain, "disk", l.d.target, "dir", l.dir, "err", errors.Join(errs...))
	return errors.Join(errs...)
}

// abortJob ends our backup job and waits until the domain has no job left.
func (l *liveListing) abortJob(deadline time.Time) error {
	dom, err := l.d.conn.lookup(l.d.domain)
	if err != nil {
		if errors.Is(err, cbt.ErrNotFound) {
			return nil // the domain is gone, and its job with it
		}
		return fmt.Errorf("libvirt: ending the backup job: %w", err)
	}
	defer dom.Free()
	// Make sure the job is ours before aborting: the socket names it.
	if doc, err := dom.BackupGetXMLDesc(0); err == nil {
		if sock, _, err := parseBackup(doc, l.d.target); err == nil && sock != l.socket {
			return nil // another job: ours is over
		}
	} else if isCode(err, golibvirt.ERR_NO_DOMAIN_BACKUP) || isCode(err, golibvirt.ERR_OPERATION_INVALID) {
		return nil // no backup job: ours is over (or the domain stopped)
	}
	if err := dom.AbortJob(); err != nil && !isCode(err, golibvirt.ERR_OPERATION_INVALID) && !isCode(err, golibvirt.ERR_NO_DOMAIN_BACKUP) {
		return classify(err, fmt.Sprintf("aborting the backup job of domain %s (end it with virsh domjobabort)", l.d.domain))
	}
	for {
		info, err := dom.GetJobInfo()
		if err != nil || info.Type == golibvirt.DOMAIN_JOB_NONE {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: libvirt: the backup job of domain %s did not end within the timeout (check virsh domjobinfo)", cbt.ErrBusy, l.d.domain)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// exportReader reads the job's export, on a connection of its own.
type exportReader struct {
	l    *liveListing
	dial nbd.DialFunc
	ctx  context.Context
	mu   sync.Mutex
	c    *nbd.Conn
}

// ReadAt reads the disk's data at the job's point in time.
func (r *exportReader) ReadAt(p []byte, off int64) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.l.mu.Lock()
	ended := r.l.ended
	r.l.mu.Unlock()
	if ended {
		return 0, fmt.Errorf("libvirt: reading disk %s: %w: the listing (and its backup job) ended", r.l.d.target, cbt.ErrClosed)
	}
	if off < 0 || off >= r.l.d.capacity {
		if off == r.l.d.capacity {
			return 0, io.EOF
		}
		return 0, fmt.Errorf("%w: libvirt: read at %d outside the disk", cbt.ErrInvalidArgument, off)
	}
	if r.c == nil {
		c, err := r.dial(r.ctx)
		if err != nil {
			return 0, fmt.Errorf("libvirt: connecting to the backup export: %w", nbdClass(err))
		}
		r.l.mu.Lock()
		if r.l.ended { // the listing ended while we dialed
			r.l.mu.Unlock()
			_ = c.Close()
			return 0, fmt.Errorf("libvirt: reading disk %s: %w: the listing (and its backup job) ended", r.l.d.target, cbt.ErrClosed)
		}
		r.l.readers = append(r.l.readers, c)
		r.l.mu.Unlock()
		r.c = c
	}
	n := len(p)
	var short error
	if rem := r.l.d.capacity - off; int64(n) > rem {
		n, short = int(rem), io.EOF
	}
	if err := r.c.ReadAt(r.ctx, p[:n], uint64(off)); err != nil {
		return 0, fmt.Errorf("libvirt: reading disk %s: %w", r.l.d.target, nbdClass(err))
	}
	return n, short
}
