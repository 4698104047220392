package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the command line args (without the program name) and returns the
// exit status. SIGINT and SIGTERM cancel what runs; a second one ends the
// program at once.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, stop) // restores the default: the next signal kills
	return runContext(ctx, args, stdout, stderr)
}

// runContext is run with the context given.
func runContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return dispatch(ctx, "cbtctl", topCommands(), args, stdout, stderr)
}

// usage is the command's usage; doc.go holds the same text.
const usage = `Usage:
	cbtctl <platform> changes [flags]    list what changed on a disk (every platform)
	cbtctl mem demo [flags]              walk through full and incremental backups in memory
	cbtctl mem changes --script FILE [--since NAME|CHANGEID] [flags]
	cbtctl qemu info|snapshots|bitmaps IMAGE [--format text|json] [--force-share]
	cbtctl qemu changes IMAGE [--since POINT|CHANGEID] [--at POINT] [--force-share] [flags]
	cbtctl vsphere changes --url URL --vm VM [--snapshot NAME] [--disk KEY|LABEL]
	                       [--since CHANGEID] [--insecure] [flags]
	cbtctl libvirt checkpoints DOMAIN [--connect URI] [--format text|json]
	cbtctl libvirt checkpoint DOMAIN NAME [--connect URI]
	cbtctl libvirt changes DOMAIN --disk TARGET [--since CHANGEID]
	                       [--new-checkpoint NAME] [--connect URI] [flags]
	cbtctl rhv chain [--engine FILE] [--rest FILE] [--dump FILE] [--lvs FILE]
	                 [--meta DIR] [--image UUID] [--format text|json]
	cbtctl rhv changes (--meta DIR | --lvs FILE) [--volume UUID]
	                   [--since VOLUME|CHANGEID] [flags]
	cbtctl oci changes --second OCID [--first OCID] --compartment OCID
	                   --availability-domain AD --instance OCID [--block-size N] [flags]
	cbtctl scsi lba-status DEVICE [--form auto|32|16] [flags]
	cbtctl version                       print the version
	cbtctl help [command...]             print the usage of a command

Platforms:
	mem      an in-memory volume (package cbt/memcbt): a demo and scripted volumes
	qemu     qcow2 images offline (package qemu): internal snapshots, persistent
	         dirty bitmaps, backing chains; a POINT is active, snapshot:NAME_OR_ID,
	         bitmap:NAME (--since only) or layer:PATH
	vsphere  VMware vSphere VM disks (package vsphere): QueryChangedDiskAreas at
	         a snapshot (--snapshot, or a temporary one); credentials in the URL
	         or GOVC_USERNAME, GOVC_PASSWORD
	libvirt  running qemu/KVM guests (package qemu/libvirt): checkpoints and
	         pull-mode backup jobs; shut-off domains through their qcow2 bitmaps
	rhv      RHV / oVirt disks (package rhv): volume chains read from the engine,
	         LV tags, .meta files or vdsm-tool dumps, validated; the changes of
	         the COW layers above a snapshot's volume
	oci      OCI block volumes (package oci): the blocks changed between two
	         volume backups, from a backup-delta volume scanned and deleted
	scsi     a SCSI block device already attached (GET LBA STATUS over SG_IO)

Flags of every changes command:
	--since CHANGEID     list what changed since this change ID, printed by an
	                     earlier listing; without it, list everything allocated
	                     (what a full backup copies)
	--format text|json   text: aligned columns (offset, length, description) and
	                     a summary line starting with "#"; json: one object,
	                     {"capacity":N,"granularity":N,"changeId":"scheme:value",
	                     "extents":[{"offset":N,"length":N},...]}
	--progress           a progress bar on stderr (default: when stderr is a
	                     terminal and stdout is not)
	--start OFFSET       list from OFFSET on (to resume: the end of the last extent)
	--length BYTES       list only BYTES from --start
	--align BLOCK        widen extents to whole blocks of BLOCK bytes
	--gap BYTES          merge extents separated by at most BYTES unchanged bytes

Sizes take binary units: 4096, 64K, 1M, 2G. Store the change ID a successful
listing prints (text: the summary line; json: "changeId"), and pass it with
--since to the next incremental. When a json listing fails after it started,
the object is closed all the same, with an "error" member: its extents are
correct, its changeId must not be stored.

Exit status:
	0  success
	1  any other error; stderr says what to do next
	2  usage error
	3  full backup required: the --since change ID is stale or tracking was
	   reset; run again without --since and store the printed change ID
`

// command is a node of the command tree: a leaf runs, a group dispatches.
type command struct {
	name     string
	synopsis string // for the group's list
	run      func(ctx context.Context, args []string, stdout, stderr io.Writer) int
	subs     []command
}

// topCommands returns the command tree's top level. A platform adds its
// group here.
func topCommands() []command {
	return []command{
		memCommand(),
		qemuCommand(),
		vsphereCommand(),
		libvirtCommand(),
		rhvCommand(),
		ociCommand(),
		scsiCommand(),
		{name: "version", synopsis: "print the version", run: runVersion},
		{name: "help", synopsis: "print the usage of a command", run: runHelp},
	}
}

// dispatch runs the command args name among subs; path names the group.
func dispatch(ctx context.Context, path string, subs []command, args []string, stdout, stderr io.Writer) int {
	groupUsage := func(w io.Writer) {
		if path == "cbtctl" {
			fmt.Fprint(w, usage)
			return
		}
		printGroupUsage(w, path, subs)
	}
	if len(args) == 0 {
		fmt.Fprintf(stderr, "%s: a command is required\n\n", path)
		groupUsage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		groupUsage(stdout)
		return exitOK
	case "help":
		if path != "cbtctl" { // "cbtctl mem help demo" is "cbtctl help mem demo"
			if len(args) == 1 {
				groupUsage(stdout)
				return exitOK
			}
			return dispatch(ctx, path, subs, append(args[1:len(args):len(args)], "-h"), stdout, stderr)
		}
	}
	for _, c := range subs {
		if c.name != args[0] {
			continue
		}
		if c.run != nil {
			return c.run(ctx, args[1:], stdout, stderr)
		}
		return dispatch(ctx, path+" "+c.name, c.subs, args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "%s: unknown command %q\n\n", path, args[0])
	groupUsage(stderr)
	return exitUsage
}

func printGroupUsage(w io.Writer, path string, subs []command) {
	fmt.Fprintf(w, "Usage:\n\t%s <command> [flags]\n\nCommands:\n", path)
	for _, c := range subs {
		fmt.Fprintf(w, "\t%-10s %s\n", c.name, c.synopsis)
	}
	fmt.Fprintf(w, "\nRun \"cbtctl help %s <command>\" for a command's flags.\n", strings.TrimPrefix(path, "cbtctl "))
}

// runHelp prints the usage of the command its arguments name, on stdout.
func runHelp(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	return dispatch(ctx, "cbtctl", topCommands(), append(args[:len(args):len(args)], "-h"), stdout, stderr)
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("cbtctl version", "cbtctl version", "Prints the version of cbtctl, the revision it was built from, and the Go version.")
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return usageError(fs, stderr, "unexpected argument %q", fs.Arg(0))
	}
	fmt.Fprintln(stdout, version())
	return exitOK
}

// version describes the build: module version, VCS revision, Go version.
func version() string {
	v, rev := "(devel)", ""
	if info, ok := debug.ReadBuildInfo(); ok {
		if info.Main.Version != "" {
			v = info.Main.Version
		}
		var modified bool
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value[:min(len(s.Value), 12)]
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if rev != "" && modified {
			rev += "+modified"
		}
	}
	s := "cbtctl " + v
	if rev != "" {
		s += " revision " + rev
	}
	return s + " " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
}

// newFlagSet returns a flag set for a leaf command whose usage shows the
// synopsis, the description and the flags.
func newFlagSet(name, synopsis, description string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage:\n\t%s\n\n%s\n", synopsis, description)
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprint(w, "\nFlags:\n")
			printFlags(w, fs)
		}
	}
	return fs
}

// printFlags lists the flags of fs with two dashes, as the usage shows them.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		arg, text := flag.UnquoteUsage(f)
		if arg != "" {
			arg = " " + arg
		}
		def := ""
		switch f.DefValue {
		case "", "0", "false":
		default:
			def = " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(w, "\t--%s%s\n\t\t%s%s\n", f.Name, arg, text, def)
	})
}

// parseFlags parses args with fs. When ok is false the command must return
// code: 0 after -h (the usage went to stdout), 2 after a bad flag (the error
// and the usage went to stderr).
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (code int, ok bool) {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	switch {
	case err == nil:
		fs.SetOutput(stderr)
		return exitOK, true
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		fs.Usage()
		return exitOK, false
	}
	return usageError(fs, stderr, "%v", err), false
}

// usageError writes a usage error and the usage to stderr and returns 2.
func usageError(fs *flag.FlagSet, stderr io.Writer, format string, args ...any) int {
	fmt.Fprintf(stderr, "%s: %s\n\n", fs.Name(), fmt.Sprintf(format, args...))
	fs.SetOutput(stderr)
	fs.Usage()
	return exitUsage
}
