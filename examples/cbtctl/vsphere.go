package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/vsphere"
)

// vsphereCommand is the vSphere platform: package vsphere, over govmomi.
func vsphereCommand() command {
	return command{
		name:     "vsphere",
		synopsis: "VMware vSphere VM disks (package vsphere): QueryChangedDiskAreas at a snapshot",
		subs: []command{
			{name: "changes", synopsis: "list what changed on a VM's disk at a snapshot", run: runVsphereChanges},
		},
	}
}

// vsphereClientHook, when not nil, is called with the logged-in client
// before it is used. It exists for the tests only, which set it to a
// vcsimcbt Tracker's Install: vcsim has no change tracking, and vcsimcbt
// answers QueryChangedDiskAreas in a wrapper around the client's
// RoundTripper, so the client cbtctl builds from --url must be wrapped. It is
// nil in the program.
var vsphereClientHook func(*vim25.Client)

// vsphereCleanupTimeout bounds the removal of a temporary snapshot.
const vsphereCleanupTimeout = 2 * time.Minute

const vsphereChangesAbout = `Lists what changed on a disk of the VM --vm at a snapshot since the change
ID --since, or, with --full, the areas in use: what a full backup copies,
through QueryChangedDiskAreas.

The server is --url (default $GOVC_URL): https://host/sdk or host. The user
name and password come from the URL or from GOVC_USERNAME and GOVC_PASSWORD;
they are never printed. The server's certificate is checked unless --insecure.

--snapshot names an existing snapshot of the VM; without it, a temporary
snapshot is taken, listed and removed (also after an error or Ctrl-C). Change
tracking must be on (config.changeTrackingEnabled) and in effect at the
snapshot: a snapshot's disk that carries no change ID gives an error.
--disk is the disk's device key (2000) or label ("Hard disk 1"); it may be
left out when the VM has one disk.

The change ID printed is the snapshot's disk's, vsphere:<uuid>/<n>#<capacity>:
store it, and pass it with --since to the next incremental (a plain changeId
"<uuid>/<n>" stored by another tool is accepted too).

Exit status 3 (full backup required): the --since change ID is of another
tracking generation (tracking was reset) or another disk, the disk's
capacity changed since, or the server refuses it; with --full, the server
cannot tell the areas in use (tracking was enabled while the VM had
snapshots): copy the whole disk.`

// runVsphereChanges is "cbtctl vsphere changes". Not split further: flags,
// login and disk lookup read in the order the usage text gives them.
func runVsphereChanges(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	fs := newFlagSet("cbtctl vsphere changes",
		"cbtctl vsphere changes --url URL --vm VM [--snapshot NAME] [--disk KEY|LABEL] (--since CHANGEID | --full) [--insecure] [flags]",
		vsphereChangesAbout)
	rawURL := fs.String("url", os.Getenv("GOVC_URL"), "the vCenter or ESXi `URL` (default $GOVC_URL)")
	vmName := fs.String("vm", "", "the `VM`: its name or managed object ID (vm-42)")
	snapName := fs.String("snapshot", "", "list at this existing snapshot (`NAME`); default: a temporary snapshot, removed after the listing")
	diskArg := fs.String("disk", "", "the disk: its device `KEY` or LABEL (default: the VM's only disk)")
	insecure := fs.Bool("insecure", false, "do not check the server's certificate")
	var f changesFlags
	f.register(fs)
	f.registerBase(fs, "list what changed since `CHANGEID` vsphere:<uuid>/<n>..., printed by an earlier listing")
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	switch {
	case fs.NArg() > 0:
		return usageError(fs, stderr, "unexpected argument %q", fs.Arg(0))
	case *rawURL == "":
		return usageError(fs, stderr, "--url is required (or GOVC_URL)")
	case *vmName == "":
		return usageError(fs, stderr, "--vm is required: the VM's name or managed object ID")
	}
	if msg := f.checkBase("CHANGEID (vsphere:<uuid>/<n>... a listing printed)"); msg != "" {
		return usageError(fs, stderr, "%s", msg)
	}
	sinceID, err := vsphereSince(f.since.s)
	if err != nil {
		return usageError(fs, stderr, "--since %q: %v", f.since.s, err)
	}
	f.hint = func(err error) string { return vsphereHint(err, sinceID.IsZero()) }
	fail := func(err error) int { return reportErrorHint(ctx, stderr, fs.Name(), err, "", f.hint) }

	server, user, err := vsphereServer(*rawURL)
	if err != nil {
		return usageError(fs, stderr, "%v", err)
	}
	c, login, err := vsphereConnect(ctx, server, user, *insecure)
	if err != nil {
		return fail(err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), vsphereCleanupTimeout)
		defer cancel()
		_ = session.NewManager(c).Logout(cctx)
	}()
	vm, err := vsphereFindVM(ctx, c, *vmName)
	if err != nil {
		return fail(err)
	}
	info, err := vsphere.ListDisks(ctx, c, vm)
	if err != nil {
		return fail(err)
	}
	key, err := vsphereDisk(info, *diskArg)
	if err != nil {
		return usageError(fs, stderr, "%v", err)
	}

	var snap types.ManagedObjectReference
	if *snapName != "" {
		ref, err := object.NewVirtualMachine(c, vm).FindSnapshot(ctx, *snapName)
		if err != nil {
			return fail(fmt.Errorf("%w: VM %s: snapshot %q: %v", cbt.ErrNotFound, *vmName, *snapName, err))
		}
		snap = *ref
	} else {
		ref, remove, err := vsphereTempSnapshot(ctx, c, vm, *vmName, fs.Name(), stderr)
		if err != nil {
			return fail(err)
		}
		snap = ref
		defer func() {
			if !remove() && code == exitOK {
				code = exitError
			}
		}()
	}
	disk, err := vsphere.OpenDisk(ctx, c, snap, key, &vsphere.Options{Relogin: login})
	if err != nil {
		return fail(err)
	}
	defer disk.Close()
	return runChanges(ctx, stdout, stderr, disk, sinceID, f)
}

// vsphereTempSnapshot takes the temporary snapshot of VM vm (named vmName)
// that a listing without --snapshot runs at. remove removes it and reports
// on stderr (as prog) when that fails, returning false then; an interrupt
// while the snapshot was being taken removes it here.
func vsphereTempSnapshot(ctx context.Context, c *vim25.Client, vm types.ManagedObjectReference, vmName, prog string, stderr io.Writer) (types.ManagedObjectReference, func() bool, error) {
	name := "cbtctl " + time.Now().UTC().Format(time.RFC3339)
	creating := noteLeftover(ctx, "perhaps the temporary snapshot %q of VM %s, being taken: remove it in vSphere", name, vmName)
	s, err := vsphere.CreateSnapshot(ctx, c, vm, name, &vsphere.SnapshotOptions{Description: "temporary snapshot of cbtctl vsphere changes"})
	if err != nil {
		if ctx.Err() != nil {
			// Interrupted while the task ran: the snapshot may exist all the same.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), vsphereCleanupTimeout)
			defer cancel()
			if ref, ferr := object.NewVirtualMachine(c, vm).FindSnapshot(cctx, name); ferr == nil {
				if rerr := vsphere.RemoveSnapshot(cctx, c, *ref); rerr != nil {
					fmt.Fprintf(stderr, "%s: removing the temporary snapshot %q (%s): %v; remove it by hand\n", prog, name, ref.Value, rerr)
				}
			}
		}
		creating()
		return types.ManagedObjectReference{}, nil, err
	}
	creating()
	snap := s.Ref
	left := noteLeftover(ctx, "the temporary snapshot %q (%s) of VM %s: remove it in vSphere", name, snap.Value, vmName)
	remove := func() bool {
		defer left()
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), vsphereCleanupTimeout)
		defer cancel()
		if err := vsphere.RemoveSnapshot(cctx, c, snap); err != nil {
			fmt.Fprintf(stderr, "%s: removing the temporary snapshot %q (%s): %v; remove it by hand\n", prog, name, snap.Value, err)
			return false
		}
		return true
	}
	return snap, remove, nil
}

// vsphereSince parses --since: a change ID "vsphere:..." or a plain
// vSphere changeId.
func vsphereSince(s string) (cbt.ChangeID, error) {
	if s == "" {
		return cbt.ChangeID{}, nil
	}
	if id, err := cbt.ParseChangeID(s); err == nil {
		if id.Scheme() != vsphere.Scheme {
			return cbt.ChangeID{}, fmt.Errorf("%q is a change ID of scheme %q, not %q", s, id.Scheme(), vsphere.Scheme)
		}
		if _, err := vsphere.ParseChangeID(id.Value()); err != nil {
			return cbt.ChangeID{}, err
		}
		return id, nil
	}
	id, err := vsphere.ParseChangeID(s)
	if err != nil {
		return cbt.ChangeID{}, fmt.Errorf("want a change ID vsphere:<uuid>/<n> that a listing printed: %w", err)
	}
	return id.CBT(), nil
}

// vsphereServer reads --url: the server's URL without credentials, and the
// credentials, from the URL or from GOVC_USERNAME and GOVC_PASSWORD. Its
// errors are usage errors, and never show the password.
func vsphereServer(rawURL string) (*url.URL, *url.Userinfo, error) {
	u, err := soap.ParseURL(rawURL)
	if err != nil || u == nil || u.Host == "" {
		return nil, nil, errors.New("--url: want https://host/sdk or host (with user:password@ before the host, or GOVC_USERNAME and GOVC_PASSWORD)")
	}
	user := u.User
	if user == nil || user.Username() == "" {
		name := os.Getenv("GOVC_USERNAME")
		if name == "" {
			return nil, nil, errors.New("--url: no user name: put it in --url (https://user:password@host/sdk) or in GOVC_USERNAME and GOVC_PASSWORD")
		}
		user = url.UserPassword(name, os.Getenv("GOVC_PASSWORD"))
	}
	bare := *u
	bare.User = nil
	return &bare, user, nil
}

// vsphereConnect logs in to the server bare as user, checking its
// certificate unless insecure. The credentials never show in errors. login
// logs the client in again (for an expired session).
func vsphereConnect(ctx context.Context, bare *url.URL, user *url.Userinfo, insecure bool) (*vim25.Client, func(context.Context) error, error) {
	c, err := vim25.NewClient(ctx, soap.NewClient(bare, insecure))
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to %s: %w", bare.Host, err)
	}
	if vsphereClientHook != nil {
		vsphereClientHook(c)
	}
	login := func(ctx context.Context) error { return session.NewManager(c).Login(ctx, user) }
	if err := login(ctx); err != nil {
		return nil, nil, fmt.Errorf("logging in to %s: %w", bare.Host, err)
	}
	return c, login, nil
}

// vsphereFindVM finds a VM by name or managed object ID.
func vsphereFindVM(ctx context.Context, c *vim25.Client, want string) (types.ManagedObjectReference, error) {
	v, err := view.NewManager(c).CreateContainerView(ctx, c.ServiceContent.RootFolder, []string{"VirtualMachine"}, true)
	if err != nil {
		return types.ManagedObjectReference{}, fmt.Errorf("listing VMs: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), vsphereCleanupTimeout)
		defer cancel()
		_ = v.Destroy(cctx)
	}()
	var vms []mo.VirtualMachine
	if err := v.Retrieve(ctx, []string{"VirtualMachine"}, []string{"name"}, &vms); err != nil {
		return types.ManagedObjectReference{}, fmt.Errorf("listing VMs: %w", err)
	}
	var found []types.ManagedObjectReference
	for _, m := range vms {
		if m.Self.Value == want {
			return m.Self, nil
		}
		if m.Name == want {
			found = append(found, m.Self)
		}
	}
	switch len(found) {
	case 0:
		return types.ManagedObjectReference{}, fmt.Errorf("%w: no VM named %q (or of that ID)", cbt.ErrNotFound, want)
	case 1:
		return found[0], nil
	}
	return types.ManagedObjectReference{}, fmt.Errorf("%w: %d VMs are named %q: pass the managed object ID (%s, ...)", cbt.ErrInvalidArgument, len(found), want, found[0].Value)
}

// vsphereDisk returns the device key --disk names (a key or a label), or
// the VM's only disk when it is empty.
func vsphereDisk(info *vsphere.VMInfo, arg string) (int32, error) {
	var names []string
	for _, d := range info.Disks {
		names = append(names, fmt.Sprintf("%d (%s)", d.Key, d.Label))
		if arg != "" && (strconv.Itoa(int(d.Key)) == arg || d.Label == arg) {
			return d.Key, nil
		}
	}
	slices.Sort(names)
	switch {
	case len(info.Disks) == 0:
		return 0, fmt.Errorf("VM %s has no disk", info.Name)
	case arg == "" && len(info.Disks) == 1:
		return info.Disks[0].Key, nil
	case arg == "":
		return 0, fmt.Errorf("--disk is required: VM %s has the disks %s", info.Name, strings.Join(names, ", "))
	}
	return 0, fmt.Errorf("--disk %q: VM %s has no such disk; its disks: %s", arg, info.Name, strings.Join(names, ", "))
}

// vsphereHint is the advice for errors that mean something particular on
// vSphere; "" leaves the generic advice.
func vsphereHint(err error, full bool) string {
	var ue *url.Error
	switch {
	case errors.As(err, &ue) && strings.Contains(err.Error(), "certificate"):
		return "the server's certificate is not trusted: install its CA in the system's trust store, or pass --insecure (no check: only on a network you trust)"
	case errors.Is(err, cbt.ErrChangeIDInvalid) && !errors.Is(err, cbt.ErrNotFound) && full:
		return "full backup required: the server cannot tell the areas in use (tracking was enabled while the VM had snapshots): copy the whole disk, and store the printed change ID"
	case errors.Is(err, cbt.ErrChangeIDInvalid) && !errors.Is(err, cbt.ErrNotFound):
		return "full backup required: the --since change ID is of another tracking generation (tracking was reset) or another disk, or the disk was resized; take a full backup: run again with --full instead of --since and store the printed change ID"
	case errors.Is(err, cbt.ErrNotEnabled):
		return "change tracking is off or was not yet in effect at the snapshot: enable it (config.changeTrackingEnabled), take a new snapshot (the stun/unstun cycle that makes it take effect) and a full backup from it"
	case errors.Is(err, cbt.ErrNotFound):
		return "check --vm, --snapshot and --disk: the VM, snapshot or disk does not exist (anymore)"
	}
	return ""
}
