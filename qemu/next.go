package qemu

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/internal/qcow2"
)

// NextOptions tune OpenNext, DropPoint and PrunePoints. A nil *NextOptions
// means the defaults.
type NextOptions struct {
	// Snapshot makes an internal snapshot (qemu-img snapshot -c) instead of a
	// persistent dirty bitmap (qemu-img bitmap --add). A bitmap costs qemu a
	// little work per write and no space; a snapshot keeps every cluster it
	// references until it is deleted, and stops `qemu-img resize`.
	Snapshot bool
	// Prefix starts the names of the points made: PREFIX-YYYYMMDDTHHMMSSZ-XXXXXXXX
	// (UTC time, 32 random bits). Default "cbt". PrunePoints removes only
	// points named so. Letters, digits, '-', '_' and '.'; at most 64 bytes.
	Prefix string
	// Granularity is the bitmap's granularity in bytes (a power of two from
	// 512 to 2 GiB); 0 leaves qemu's default (the cluster size, at least 64
	// KiB). A finer one lists less that did not change, for a larger bitmap.
	Granularity int64
	// QemuImg is the qemu-img program to run; "" finds "qemu-img" in PATH.
	// Making a bitmap also runs qemu-io, found beside it (or in PATH).
	QemuImg string
}

// prefixRE is what a prefix may hold.
var prefixRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

func (n *NextOptions) prefix() string {
	if n == nil || n.Prefix == "" {
		return "cbt"
	}
	return n.Prefix
}

func (n *NextOptions) tool() string {
	if n == nil {
		return ""
	}
	return n.QemuImg
}

func (n *NextOptions) check() error {
	if n == nil {
		return nil
	}
	if n.Prefix != "" && !prefixRE.MatchString(n.Prefix) {
		return errf(cbt.ErrInvalidArgument, "NextOptions.Prefix %q: want 1 to 64 letters, digits, '-', '_' or '.'", n.Prefix)
	}
	if g := n.Granularity; g != 0 && (g < 512 || g > 1<<31 || g&(g-1) != 0) {
		return errf(cbt.ErrInvalidArgument, "NextOptions.Granularity %d: want a power of two from 512 to 2 GiB, or 0 for qemu's default", g)
	}
	if n.Snapshot && n.Granularity != 0 {
		return errf(cbt.ErrInvalidArgument, "NextOptions.Granularity is for bitmaps; a snapshot has the image's cluster size")
	}
	return nil
}

// madeNameRE matches the names OpenNext gives, for a prefix.
func madeNameRE(prefix string) *regexp.Regexp {
	return regexp.MustCompile(`^` + regexp.QuoteMeta(prefix) + `-[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$`)
}

// newName returns a name no point of the image had before: the prefix, the
// time and 32 random bits.
func newName(prefix string) (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", errf(cbt.ErrUnsupported, "random name: %v", err)
	}
	return prefix + "-" + time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:]), nil
}

// OpenNext makes the point the next backup starts from and returns the disk
// at it, for a backup of an image no running qemu holds (a VM shut down):
//
//   - by default a persistent dirty bitmap, made with `qemu-img bitmap
//     --add` under a name no bitmap had before (see NextOptions.Prefix). The
//     disk is the image as it is (the active state), and its ChangeID names
//     the new bitmap, guarded by the disk size and the backing files below
//     ("qcow2:bitmap:cbt-20261207T120000Z-1a2b3c4d#s8589934592#c..."): the
//     next backup lists since it;
//   - with NextOptions.Snapshot, an internal snapshot made with `qemu-img
//     snapshot -c`; the disk is at that snapshot, and its ChangeID is the
//     snapshot's guarded change ID.
//
// The point is made before anything is listed, so a write that lands while
// the backup runs is in the new point too and the next backup copies it
// (listed twice, never lost). Its Changes lists since any earlier point, as
// Open's disks do.
//
// The rotation: OpenNext; list since the change ID the last backup stored
// (or a zero one for the first, full backup) and copy what it lists; store
// the disk's ChangeID; Close; then PrunePoints keeping the stored change ID,
// which drops the previous point (and any that a failed run left). Close
// removes the point it made itself when no listing of the disk ran to its
// end, so a backup that failed leaves nothing behind.
//
// Errors: those of OpenImage (cbt.ErrBusy when a running qemu holds the
// image); cbt.ErrInvalidArgument for bad options or what qemu-img refused;
// cbt.ErrUnsupported when qemu-img is not installed, or when the backing
// chain cannot be guarded (a backing file on a block device, unless
// Options.TrustUnguarded). When opening fails after the point was made, the
// point is removed again.
func OpenNext(ctx context.Context, path string, next *NextOptions, opts *Options) (*cbt.Disk, error) {
	fail := func(err error) (*cbt.Disk, error) {
		return nil, &cbt.Error{Op: "open", Disk: path, Err: err}
	}
	if err := next.check(); err != nil {
		return fail(err)
	}
	if opts == nil {
		opts = &Options{}
	}
	// Check the image before making anything: a qcow2 image no process holds,
	// whose chain can be guarded.
	im, err := OpenImage(path, opts)
	if err != nil {
		return nil, err
	}
	_, why := im.c.guardBelow(0)
	abs, size := im.c.path, im.c.top().VirtualSize()
	gran := defaultBitmapGranularity(im.c.q.Header.ClusterSize())
	if next != nil && next.Granularity != 0 {
		gran = next.Granularity
	}
	_ = im.Close()
	if why != "" {
		return fail(errf(cbt.ErrUnsupported, "no change ID could name a point of %s: %s", abs, why))
	}
	name, err := newName(next.prefix())
	if err != nil {
		return fail(err)
	}
	made := &madePoint{path: abs, name: name, snapshot: next != nil && next.Snapshot, tool: next.tool()}
	if err := made.make(ctx, size, gran); err != nil {
		return fail(err)
	}
	d, err := openMade(abs, made, opts)
	if err != nil {
		if derr := made.drop(); derr != nil {
			err = fmt.Errorf("%w; and removing the point made for it failed: %w", err, derr)
		}
		return fail(err)
	}
	return d, nil
}

// openMade opens the disk at a point OpenNext made.
func openMade(path string, made *madePoint, opts *Options) (*cbt.Disk, error) {
	c, err := openChain(path, opts)
	if err != nil {
		return nil, err
	}
	at, err := c.resolveMade(made)
	if err != nil {
		_ = c.release()
		return nil, err
	}
	return cbt.NewDisk(&nextDisk{qdisk: newDisk(c, at), made: made})
}

// resolveMade resolves the point OpenNext made, in a chain opened after it.
func (c *chain) resolveMade(made *madePoint) (*resolved, error) {
	if made.snapshot {
		return c.resolveAt(SnapshotPoint(made.name))
	}
	top := c.top()
	if top.Busy() {
		return nil, errBusyActive(top)
	}
	bms, err := c.bitmapsNamed(made.name)
	if err != nil {
		return nil, wrap(err, "bitmap directory of %s", c.path)
	}
	var b *qcow2.Bitmap
	for i := range bms {
		if bms[i].Name == made.name {
			b = &bms[i]
		}
	}
	if b == nil {
		return nil, errf(cbt.ErrNotFound, "bitmap %q that qemu-img made is not in %s (another program changed the image at the same time?); try again", made.name, c.path)
	}
	if why := c.bitmapUnusable(b); why != "" {
		return nil, errf(cbt.ErrBusy, "bitmap %q just made in %s cannot be used: %s", made.name, c.path, why)
	}
	cg, why := c.guardBelow(0)
	if why != "" {
		return nil, errf(cbt.ErrUnsupported, "%s", why)
	}
	p := BitmapPoint(made.name + "#s" + strconv.FormatInt(top.VirtualSize(), 10) + cg)
	return &resolved{point: Active(), capacity: top.VirtualSize(), id: p.String()}, nil
}
