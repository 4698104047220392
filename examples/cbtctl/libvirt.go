//go:build cgo

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/qemu/libvirt"
)

// libvirtCommand is qemu/KVM guests through libvirt (package qemu/libvirt).
func libvirtCommand() command {
	return command{
		name:     "libvirt",
		synopsis: "running qemu/KVM guests through libvirt (package qemu/libvirt): checkpoints, backups",
		subs: []command{
			{name: "checkpoints", synopsis: "list a domain's checkpoints, parents first", run: runLibvirtCheckpoints},
			{name: "checkpoint", synopsis: "make a checkpoint of a running domain", run: runLibvirtCheckpoint},
			{name: "changes", synopsis: "list what changed on a domain disk since a checkpoint", run: runLibvirtChanges},
		},
	}
}

// libvirtConnectHook opens the connection; tests replace it.
var libvirtConnectHook = func(uri string) (*libvirt.Conn, error) { return libvirt.Connect(uri, nil) }

func libvirtURIFlag(fs *flag.FlagSet) *string {
	def := os.Getenv("LIBVIRT_DEFAULT_URI")
	if def == "" {
		def = "qemu:///system"
	}
	return fs.String("connect", def, "the libvirt `URI` (default $LIBVIRT_DEFAULT_URI or qemu:///system)")
}

func runLibvirtCheckpoints(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("cbtctl libvirt checkpoints", "cbtctl libvirt checkpoints DOMAIN [--connect URI] [--format text|json]",
		`Lists the checkpoints of the domain DOMAIN, parents first, with the change ID
that names each (pass it to "cbtctl libvirt changes --since").`)
	uri := libvirtURIFlag(fs)
	var format formatValue
	fs.Var(&format, "format", "output `FORMAT`: text or json (an array)")
	domain, code, ok := parseOneArg(fs, args, stdout, stderr, "DOMAIN", "a libvirt domain name or UUID")
	if !ok {
		return code
	}
	c, err := libvirtConnectHook(*uri)
	if err != nil {
		return reportError(ctx, stderr, fs.Name(), err, "")
	}
	defer c.Close()
	cps, err := c.Checkpoints(domain)
	if err != nil {
		return reportError(ctx, stderr, fs.Name(), err, "")
	}
	if format.json() {
		type diskJSON struct {
			Target string `json:"target"`
			Bitmap string `json:"bitmap,omitempty"`
		}
		type cpJSON struct {
			Name     string     `json:"name"`
			Parent   string     `json:"parent,omitempty"`
			Created  int64      `json:"creationTime"`
			ChangeID string     `json:"changeId"`
			Disks    []diskJSON `json:"disks"`
		}
		out := make([]cpJSON, 0, len(cps))
		for _, cp := range cps {
			j := cpJSON{Name: cp.Name, Parent: cp.Parent, Created: cp.CreationTime, ChangeID: cp.ChangeID().String(), Disks: []diskJSON{}}
			for _, d := range cp.Disks {
				if d.Checkpoint == "bitmap" {
					j.Disks = append(j.Disks, diskJSON{Target: d.Target, Bitmap: d.Bitmap})
				}
			}
			out = append(out, j)
		}
		return writeJSONTo(ctx, stdout, stderr, fs.Name(), out)
	}
	fmt.Fprintf(stdout, "%-20s %-20s %-12s %s\n", "NAME", "PARENT", "DISKS", "CHANGE ID")
	for _, cp := range cps {
		var disks []string
		for _, d := range cp.Disks {
			if d.Checkpoint == "bitmap" {
				disks = append(disks, d.Target)
			}
		}
		parent := cp.Parent
		if parent == "" {
			parent = "-"
		}
		fmt.Fprintf(stdout, "%-20s %-20s %-12s %s\n", cp.Name, parent, strings.Join(disks, ","), cp.ChangeID())
	}
	return exitOK
}

func writeJSONTo(ctx context.Context, stdout, stderr io.Writer, cmd string, v any) int {
	b, err := json.Marshal(v)
	if err == nil {
		_, err = stdout.Write(append(b, '\n'))
	}
	if err != nil {
		return reportError(ctx, stderr, cmd, writeError(err), "")
	}
	return exitOK
}

func runLibvirtCheckpoint(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("cbtctl libvirt checkpoint", "cbtctl libvirt checkpoint DOMAIN NAME [--connect URI]",
		`Makes the checkpoint NAME of the running domain DOMAIN (its parent is the
domain's latest checkpoint) and prints its change ID. For a backup, prefer
"cbtctl libvirt changes --new-checkpoint", which makes the checkpoint at the
instant of the backup's own point in time.`)
	uri := libvirtURIFlag(fs)
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() != 2 {
		return usageError(fs, stderr, "DOMAIN and NAME are required")
	}
	c, err := libvirtConnectHook(*uri)
	if err != nil {
		return reportError(ctx, stderr, fs.Name(), err, "")
	}
	defer c.Close()
	cp, err := c.CreateCheckpoint(fs.Arg(0), fs.Arg(1), nil)
	if err != nil {
		return reportError(ctx, stderr, fs.Name(), err, "")
	}
	fmt.Fprintln(stdout, cp.ChangeID())
	return exitOK
}

const libvirtChangesAbout = `Lists what changed on disk --disk of the domain DOMAIN since the checkpoint
--since (a change ID "libvirt:checkpoint:NAME#..." a listing or "cbtctl
libvirt checkpoints" printed, or checkpoint:NAME), or, with --full, every
allocated area. A running domain is read through a pull-mode backup
job that is always ended; a shut-off one from the checkpoint's qcow2 bitmap.
--new-checkpoint makes the next checkpoint in the same backup job: store the
change ID the listing prints and pass it with --since next time. Without
--new-checkpoint, a listing of a running domain prints no change ID to
store: the disk is still written.

Exit status 3 (full backup required): the checkpoint is gone, was made again
under the same name, does not track the disk, or its bitmap is missing or
was not saved cleanly.`

func runLibvirtChanges(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("cbtctl libvirt changes",
		"cbtctl libvirt changes DOMAIN --disk TARGET (--since CHANGEID | --full) [--new-checkpoint NAME] [flags]", libvirtChangesAbout)
	uri := libvirtURIFlag(fs)
	target := fs.String("disk", "", "the disk `TARGET` (vda, sdb, ...)")
	newCP := fs.String("new-checkpoint", "", "make this checkpoint `NAME` in the same backup job; the listing's change ID names it")
	var f changesFlags
	f.register(fs)
	f.registerBase(fs, "list what changed since this `CHANGEID` (libvirt:checkpoint:NAME#... or checkpoint:NAME)")
	domain, code, ok := parseOneArg(fs, args, stdout, stderr, "DOMAIN", "a libvirt domain name or UUID")
	if !ok {
		return code
	}
	if *target == "" {
		return usageError(fs, stderr, "--disk is required (the target, e.g. vda; \"virsh domblklist %s\" lists them)", domain)
	}
	if msg := f.checkBase("CHANGEID (libvirt:checkpoint:NAME#... a listing printed, or checkpoint:NAME)"); msg != "" {
		return usageError(fs, stderr, "%s", msg)
	}
	var sinceID cbt.ChangeID
	if f.since.set {
		ref, err := libvirt.ParseCheckpointRef(f.since.s)
		if err != nil {
			return usageError(fs, stderr, "--since %q: %v", f.since.s, err)
		}
		sinceID = ref.ChangeID()
	}
	c, err := libvirtConnectHook(*uri)
	if err != nil {
		return reportError(ctx, stderr, fs.Name(), err, "")
	}
	defer c.Close()
	job := noteLeftover(ctx, "perhaps a backup job on domain %s: end it with virsh domjobabort %s", domain, domain)
	defer job()
	if *newCP != "" {
		cp := noteLeftover(ctx, "perhaps the checkpoint %s of domain %s: list again since its parent, after virsh checkpoint-delete %s %s", *newCP, domain, domain, *newCP)
		defer cp()
	}
	d, err := c.OpenDisk(domain, *target, &libvirt.DiskOptions{NewCheckpoint: *newCP})
	if err != nil {
		return reportError(ctx, stderr, fs.Name(), err, "")
	}
	defer d.Close()
	if *newCP == "" {
		f.noID = func(err error) string {
			if strings.Contains(err.Error(), "NewCheckpoint") {
				return "the running domain's disk is still written, so it names no point to store: list with --new-checkpoint NAME (the backup job makes that checkpoint, and the listing prints its change ID)"
			}
			return ""
		}
	}
	return runChanges(ctx, stdout, stderr, d, sinceID, f)
}
