package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/vsphere"
)

// cleanupTimeout bounds the removal of a snapshot after an error or Ctrl-C.
const cleanupTimeout = 2 * time.Minute

// cleanupContext returns a context for cleaning up after ctx: not cancelled
// with it (Ctrl-C must not stop the removal of a snapshot), but bounded.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
}

// walker runs the backups of one VM.
type walker struct {
	e     *env
	cfg   config
	w     io.Writer
	vm    types.ManagedObjectReference
	name  string
	disks []vsphere.DiskInfo // the tracked ones
	st    *state
	rnd   *rand.Rand
}

// walk is the whole flow: see the package doc.
func walk(ctx context.Context, e *env, cfg config, w io.Writer) error {
	fmt.Fprintf(w, "server: %s\n", e.where)
	vm, name, err := pickVM(ctx, e.c, cfg.vm)
	if err != nil {
		return err
	}
	info, err := vsphere.ListDisks(ctx, e.c, vm)
	if err != nil {
		return fmt.Errorf("VM %s: %w", name, err)
	}
	fmt.Fprintf(w, "VM %s (%s): %s, hardware version %d, %d disk(s), change tracking %s\n",
		name, vm.Value, info.PowerState, info.HardwareVersion, len(info.Disks), onOff(info.CBTEnabled))
	wk := &walker{e: e, cfg: cfg, w: w, vm: vm, name: name,
		rnd: rand.New(rand.NewPCG(uint64(cfg.seed), 0x76737068))}
	for _, d := range info.Disks {
		if !d.Trackable {
			fmt.Fprintf(w, "  %s (key %d): not trackable (%s, mode %q): a backup copies it whole\n", d.Label, d.Key, d.Backing, d.Mode)
			continue
		}
		wk.disks = append(wk.disks, d)
	}
	if len(wk.disks) == 0 {
		return fmt.Errorf("VM %s has no disk change tracking can cover", name)
	}
	if e.tr != nil {
		// The guest's data before the first backup (vcsim has no guest).
		n, bytes, err := wk.simulateWrites()
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "simulated guest data: %d writes, %s\n", n, size(bytes))
	}
	if err := wk.enable(ctx); err != nil {
		return err
	}
	if wk.st, err = loadState(cfg.state); err != nil {
		return err
	}
	fmt.Fprintf(w, "state file: %s\n", cfg.state)

	if err := wk.backup(ctx, 1); err != nil {
		return err
	}
	if e.tr != nil {
		n, bytes, err := wk.simulateWrites()
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "simulated guest writes: %d writes, %s\n", n, size(bytes))
	} else {
		fmt.Fprintln(w, "(a real VM's guest writes are its own: none are simulated)")
	}
	return wk.backup(ctx, 2)
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// pickVM returns the VM named (or of the managed object ID) want, or the
// first by name when want is empty; templates are left out.
func pickVM(ctx context.Context, c *vim25.Client, want string) (types.ManagedObjectReference, string, error) {
	v, err := view.NewManager(c).CreateContainerView(ctx, c.ServiceContent.RootFolder, []string{"VirtualMachine"}, true)
	if err != nil {
		return types.ManagedObjectReference{}, "", fmt.Errorf("listing VMs: %w", err)
	}
	defer func() {
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		_ = v.Destroy(cctx)
	}()
	var vms []mo.VirtualMachine
	if err := v.Retrieve(ctx, []string{"VirtualMachine"}, []string{"name", "config.template"}, &vms); err != nil {
		return types.ManagedObjectReference{}, "", fmt.Errorf("listing VMs: %w", err)
	}
	vms = slices.DeleteFunc(vms, func(m mo.VirtualMachine) bool { return m.Config != nil && m.Config.Template })
	slices.SortFunc(vms, func(a, b mo.VirtualMachine) int { return strings.Compare(a.Name, b.Name) })
	for _, m := range vms {
		if want == "" || m.Name == want || m.Self.Value == want {
			return m.Self, m.Name, nil
		}
	}
	if want == "" {
		return types.ManagedObjectReference{}, "", errors.New("the server has no VM")
	}
	return types.ManagedObjectReference{}, "", fmt.Errorf("no VM named %q (or of that ID)", want)
}

// enable turns change tracking on and says honestly when it takes effect.
func (wk *walker) enable(ctx context.Context) error {
	r, err := vsphere.EnableCBT(ctx, wk.e.c, wk.vm, &vsphere.EnableOptions{StunWithSnapshot: wk.cfg.stun, AllowUntrackedDisks: true})
	if err != nil {
		return fmt.Errorf("enabling change tracking: %w", err)
	}
	switch {
	case r.WasEnabled:
		fmt.Fprintln(wk.w, "change tracking: was on already")
	case r.Stunned:
		fmt.Fprintln(wk.w, "change tracking: enabled, and in effect now: a temporary snapshot made the stun/unstun cycle (created and removed)")
	case r.StunPending:
		fmt.Fprintln(wk.w, "change tracking: enabled; the VM is powered on, so it takes effect at its next stun/unstun cycle: the backup's snapshot below is one (nothing written before it is tracked; -stun makes the cycle at once)")
	default:
		fmt.Fprintln(wk.w, "change tracking: enabled, in effect now (the VM is powered off)")
	}
	return nil
}

// simulateWrites records random guest writes on every tracked disk.
func (wk *walker) simulateWrites() (n int, bytes int64, err error) {
	for _, d := range wk.disks {
		for range wk.cfg.writes {
			length := (1 + wk.rnd.Int64N(512)) * 512 // up to 256 KiB
			if length > d.Capacity {
				length = d.Capacity
			}
			off := wk.rnd.Int64N(d.Capacity - length + 1)
			if err := wk.e.tr.Write(wk.vm, d.Key, off, length); err != nil {
				return n, bytes, fmt.Errorf("simulated write: %w", err)
			}
			n++
			bytes += length
		}
	}
	return n, bytes, nil
}

// backup is one backup: a snapshot, a listing per disk since the stored
// change ID, the new change IDs stored, the snapshot removed (on every
// path).
func (wk *walker) backup(ctx context.Context, n int) (err error) {
	name := fmt.Sprintf("vsphere-incremental %d %s", n, time.Now().UTC().Format(time.RFC3339))
	snap, err := vsphere.CreateSnapshot(ctx, wk.e.c, wk.vm, name, &vsphere.SnapshotOptions{Description: "taken by vsphere-incremental; removed after the listing"})
	if err != nil {
		err = fmt.Errorf("backup %d: snapshot: %w", n, err)
		if ctx.Err() != nil {
			// Interrupted while the task ran: the snapshot may exist all the same.
			err = errors.Join(err, removeByName(ctx, wk.e.c, wk.vm, name))
		}
		return err
	}
	fmt.Fprintf(wk.w, "backup %d: snapshot %q (%s)\n", n, name, snap.Ref.Value)
	defer func() {
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		if rerr := vsphere.RemoveSnapshot(cctx, wk.e.c, snap.Ref); rerr != nil {
			err = errors.Join(err, fmt.Errorf("backup %d: removing snapshot %q (%s): %w; remove it by hand", n, name, snap.Ref.Value, rerr))
			return
		}
		fmt.Fprintf(wk.w, "backup %d: snapshot %q removed\n", n, name)
	}()
	for _, d := range wk.disks {
		if err := wk.listDisk(ctx, snap, d, name); err != nil {
			return fmt.Errorf("backup %d: %s (key %d): %w", n, d.Label, d.Key, err)
		}
	}
	if err := wk.st.save(wk.cfg.state); err != nil {
		return fmt.Errorf("backup %d: %w", n, err)
	}
	return nil
}

// removeByName removes the snapshot of that name if there is one, with a
// context not cancelled with ctx.
func removeByName(ctx context.Context, c *vim25.Client, vm types.ManagedObjectReference, name string) error {
	cctx, cancel := cleanupContext(ctx)
	defer cancel()
	ref, err := object.NewVirtualMachine(c, vm).FindSnapshot(cctx, name)
	if err != nil {
		return nil // not created
	}
	if err := vsphere.RemoveSnapshot(cctx, c, *ref); err != nil {
		return fmt.Errorf("removing snapshot %q (%s): %w; remove it by hand", name, ref.Value, err)
	}
	return nil
}

// listDisk lists one disk at the snapshot since its stored change ID and
// records the change ID it reached.
func (wk *walker) listDisk(ctx context.Context, snap *vsphere.Snapshot, d vsphere.DiskInfo, snapName string) error {
	disk, err := vsphere.OpenDisk(ctx, wk.e.c, snap.Ref, d.Key, &vsphere.Options{Relogin: wk.e.relogin})
	if err != nil {
		return err
	}
	defer disk.Close()
	var since cbt.ChangeID
	stored := wk.st.changeID(wk.name, d.Key)
	if stored != "" {
		if since, err = cbt.ParseChangeID(stored); err != nil {
			fmt.Fprintf(wk.w, "  %s: the stored change ID cannot be read (%v): full backup\n", d.Label, err)
			since = cbt.ChangeID{}
		}
	}
	l, err := wk.list(ctx, disk, since)
	if errors.Is(err, cbt.ErrChangeIDInvalid) && !since.IsZero() {
		fmt.Fprintf(wk.w, "  %s: full backup required: the stored change ID is no longer valid (tracking was reset, or it is another disk's or another simulator's)\n", d.Label)
		since = cbt.ChangeID{}
		l, err = wk.list(ctx, disk, since)
	}
	whole := false
	if errors.Is(err, cbt.ErrChangeIDInvalid) && since.IsZero() {
		// ESXi answers "*" only when tracking was enabled with no snapshot.
		fmt.Fprintf(wk.w, "  %s: the server cannot tell the areas in use: a full backup copies the whole disk\n", d.Label)
		l, err, whole = listing{n: 1, bytes: disk.Capacity(), extents: []extent.Extent{{Length: disk.Capacity()}}}, nil, true
	}
	if err != nil {
		return err
	}
	kind := "full, everything allocated"
	if !since.IsZero() {
		kind = "incremental since the stored change ID"
	}
	if whole {
		kind = "full, the whole disk"
	}
	id, err := disk.ChangeID()
	if err != nil {
		return err // a snapshot's disk always has one
	}
	fmt.Fprintf(wk.w, "  %s (key %d): capacity %s; %s: %d extents, %s listed; change ID stored: %s\n",
		d.Label, d.Key, size(disk.Capacity()), kind, l.n, size(l.bytes), id)
	if wk.e.tr != nil {
		if err := wk.check(snap, d, since, l.extents); err != nil {
			return err
		}
	}
	wk.st.set(wk.name, wk.vm.Value, d.Key, diskState{Label: d.Label, ChangeID: id.String(), Snapshot: snapName})
	return nil
}

// listing is what a listing found.
type listing struct {
	n, bytes int64
	extents  []extent.Extent // kept on the simulator only, for the check
}

func (wk *walker) list(ctx context.Context, disk *cbt.Disk, since cbt.ChangeID) (listing, error) {
	var l listing
	for e, err := range disk.Changes(ctx, since, nil) {
		if err != nil {
			return l, err
		}
		l.n++
		l.bytes += e.Length
		if wk.e.tr != nil {
			l.extents = append(l.extents, e)
		}
		// A backup application reads [e.Offset, e.End()) of the snapshot's
		// disk here (VDDK, NBD) and writes it to its backup.
	}
	return l, nil
}

// check compares a listing with the writes vcsimcbt recorded (the ground
// truth) and prints the verdict; a written byte that is not listed is an
// error.
func (wk *walker) check(snap *vsphere.Snapshot, d vsphere.DiskInfo, since cbt.ChangeID, got []extent.Extent) error {
	raw := vcsimStar
	if !since.IsZero() {
		id, err := vsphere.ParseChangeID(since.Value())
		if err != nil {
			return err
		}
		raw = id.Raw()
	}
	truth, err := wk.e.tr.Written(wk.vm, d.Key, raw, &snap.Ref)
	if err != nil {
		return fmt.Errorf("ground truth: %w", err)
	}
	var written int64
	for _, e := range truth {
		written += e.Length
	}
	miss := extent.SubtractSlices(truth, got)
	if len(miss) > 0 {
		var missed int64
		for _, e := range miss {
			missed += e.Length
		}
		fmt.Fprintf(wk.w, "  check: FAILED: %s written in %d ranges not listed, first at offset %d\n", size(missed), len(miss), miss[0].Offset)
		return fmt.Errorf("under-report: %s written but not listed", size(missed))
	}
	fmt.Fprintf(wk.w, "  check: OK: every byte written (%s in %d ranges) lies in a listed extent\n", size(written), len(truth))
	return nil
}

// vcsimStar is the change ID of "everything in use".
const vcsimStar = "*"

// size formats a byte count in binary units.
func size(n int64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n)/1024, 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	return fmt.Sprintf("%.4g %ciB", f, units[i])
}
