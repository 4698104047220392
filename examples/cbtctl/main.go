package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the command line args (without the program name) and returns the
// exit status. The first SIGINT or SIGTERM cancels what runs, which then
// cleans up and returns; when it has not returned within the grace period,
// or at a second signal, run returns at once, saying what may be left
// behind (see superviseSignals).
func run(args []string, stdout, stderr io.Writer) int {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	serr := &syncWriter{w: stderr} // the supervisor writes to it while the command does
	return superviseSignals(sigs, serr, func(ctx context.Context) int {
		return runContext(ctx, args, stdout, serr)
	})
}

// runContext is run with the context given.
func runContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return dispatch(ctx, "cbtctl", topCommands(), args, stdout, stderr)
}

// usage is the command's usage; doc.go holds the same text.
const usage = `Usage:
	cbtctl <platform> changes (--since CHANGEID | --full) [flags]
	                                     list what changed on a disk (every platform)
	cbtctl mem demo [flags]              walk through full and incremental backups in memory
	cbtctl mem changes --script FILE (--since NAME|CHANGEID | --full) [flags]
	cbtctl qemu info|snapshots|bitmaps IMAGE [--format text|json] [--force-share]
	cbtctl qemu changes IMAGE (--since POINT|CHANGEID | --full) [--at POINT]
	                    [--force-share] [flags]
	cbtctl vsphere changes --url URL --vm VM [--snapshot NAME] [--disk KEY|LABEL]
	                       (--since CHANGEID | --full) [--insecure] [flags]
	cbtctl libvirt checkpoints DOMAIN [--connect URI] [--format text|json]
	cbtctl libvirt checkpoint DOMAIN NAME [--connect URI]
	cbtctl libvirt changes DOMAIN --disk TARGET (--since CHANGEID | --full)
	                       [--new-checkpoint NAME] [--connect URI] [flags]
	cbtctl rhv chain [--engine FILE] [--rest FILE] [--dump FILE] [--lvs FILE]
	                 [--meta DIR] [--image UUID] [--format text|json]
	cbtctl rhv changes (--meta DIR | --lvs FILE) [--volume UUID]
	                   (--since VOLUME|CHANGEID | --full) [flags]
	cbtctl oci changes --second OCID (--first OCID | --full) --compartment OCID
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

Flags of every changes command (one of --since and --full is required):
	--since CHANGEID     list what changed since this change ID, printed by an
	                     earlier listing: an incremental backup
	--full               list everything allocated: a full backup
	--format text|json   text: aligned columns (offset, length, description) and
	                     a summary line starting with "#"; json: one object,
	                     {"capacity":N,"granularity":N,"changeId":"scheme:value",
	                     "extents":[{"offset":N,"length":N},...]}
	--progress           a progress bar on stderr (default: when stderr is a
	                     terminal and stdout is not)
	--start OFFSET       list from OFFSET on (to resume: the offset an error
	                     message names)
	--length BYTES       list only BYTES from --start
	--align BLOCK        widen extents to whole blocks of BLOCK bytes
	--gap BYTES          merge extents separated by at most BYTES unchanged bytes

Sizes are bytes, with an optional binary unit: K, M, G, T, P or E, each
optionally followed by iB or B (4096, 64K, 64KiB, 1M, 2G; 1K = 1024).

Store the change ID a successful listing prints (text: the summary line;
json: "changeId"), and pass it with --since to the next incremental. A
listing whose point names none (a disk still written, such as a qcow2
image's active state) or that covers part of the disk (--start, --length)
prints none: text says "# no change ID to store: WHY" on its last line,
json has "changeId":null and "noChangeId":"WHY". "granularity" is that of
what was listed: a qcow2 bitmap's when listing since one. When a json
listing fails after it started, the object is closed all the same, with an
"error" member: its extents are correct, its changeId must not be stored.
When writing the output fails, the message names the offset up to which the
output is known to be complete: resume with --start there.

Exit status:
	0    success
	1    any other error, including arguments the platform refuses once it
	     reads the disk (a --since later than --at, say); stderr says what
	     to do next
	2    usage error: one line naming the flag and what it takes, then the
	     command that prints the usage
	3    full backup required: the --since change ID is stale or tracking was
	     reset; run again with --full and store the printed change ID
	130  interrupted by SIGINT (Ctrl-C), 143 by SIGTERM: the command cleaned
	     up (temporary snapshots, volumes, jobs), or, when it did not within
	     seconds or at a second signal, says on stderr what may be left behind
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
		return usageLine(stderr, path, "a command is required: "+commandNames(subs))
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
	return usageLine(stderr, path, fmt.Sprintf("unknown command %q: %s", args[0], commandNames(subs)))
}

// commandNames lists the commands of a group for a usage error.
func commandNames(subs []command) string {
	names := make([]string, 0, len(subs))
	for _, c := range subs {
		names = append(names, c.name)
	}
	return "want one of " + strings.Join(names, ", ")
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
		n, sizes := 0, false
		fs.VisitAll(func(f *flag.Flag) {
			n++
			_, isSize := f.Value.(sizeValue)
			sizes = sizes || isSize
		})
		if n > 0 {
			fmt.Fprint(w, "\nFlags:\n")
			printFlags(w, fs)
		}
		if sizes {
			fmt.Fprint(w, "\nSizes are bytes, with an optional binary unit: K, M, G, T, P or E, each\noptionally followed by iB or B (4096, 64K, 64KiB, 1M, 2G; 1K = 1024).\n")
		}
		if fs.Lookup("full") != nil {
			fmt.Fprint(w, "\nExit status: 0 success; 1 an error (stderr says what to do next); 2 usage\nerror; 3 full backup required (run again with --full); 130 or 143 interrupted\nby SIGINT or SIGTERM.\n")
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
// code: 0 after -h (the usage went to stdout), 2 after a bad flag (one line
// naming the flag and what it accepts went to stderr, then where to read the
// usage).
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
	return usageError(fs, stderr, "%s", flagError(fs, err)), false
}

// The errors of package flag, to say them with the flag's two dashes and
// what it accepts.
var (
	flagUndefined = regexp.MustCompile(`^flag provided but not defined: -+(.*)$`)
	flagNoValue   = regexp.MustCompile(`^flag needs an argument: -+(.*)$`)
	flagBadValue  = regexp.MustCompile(`^invalid (?:boolean )?value ("(?:[^"\\]|\\.)*") for (?:flag )?-+([^:]*): (?:parse error|(.*))$`)
)

// flagError words an error of fs.Parse as one line naming the flag and the
// forms it accepts.
func flagError(fs *flag.FlagSet, err error) string {
	msg := err.Error()
	if m := flagUndefined.FindStringSubmatch(msg); m != nil {
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, "--"+f.Name) })
		if len(names) == 0 {
			return fmt.Sprintf("--%s: no such flag; this command takes none", m[1])
		}
		return fmt.Sprintf("--%s: no such flag; the flags are %s", m[1], strings.Join(names, ", "))
	}
	if m := flagNoValue.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("--%s needs a value: %s", m[1], flagForms(fs, m[1]))
	}
	if m := flagBadValue.FindStringSubmatch(msg); m != nil {
		why := m[3]
		if why == "" || strings.HasPrefix(why, "strconv.") {
			why = flagForms(fs, m[2])
		}
		// A Value's error starts with the value quoted again: say it once.
		why = strings.TrimPrefix(why, m[1]+": ")
		return fmt.Sprintf("--%s %s: %s", m[2], m[1], why)
	}
	return msg
}

// flagForms says what the flag name accepts, from its usage text.
func flagForms(fs *flag.FlagSet, name string) string {
	f := fs.Lookup(name)
	if f == nil {
		return "see its usage"
	}
	arg, text := flag.UnquoteUsage(f)
	if arg == "" {
		return "true or false"
	}
	return "want " + arg + ": " + text
}

// usageError writes a usage error to stderr, one line, then where to read
// the command's usage, and returns 2.
func usageError(fs *flag.FlagSet, stderr io.Writer, format string, args ...any) int {
	return usageLine(stderr, fs.Name(), fmt.Sprintf(format, args...))
}

// usageLine writes the usage error msg of the command path cmd ("cbtctl
// qemu changes") and the line that says where its usage is, and returns 2.
func usageLine(stderr io.Writer, cmd, msg string) int {
	msg = strings.ReplaceAll(strings.TrimSpace(msg), "\n", " ")
	fmt.Fprintf(stderr, "%s: %s\nsee: %s\n", cmd, msg, helpCommand(cmd))
	return exitUsage
}

// helpCommand is the command that prints the usage of the command path cmd.
func helpCommand(cmd string) string {
	if rest, ok := strings.CutPrefix(cmd, "cbtctl "); ok {
		return "cbtctl help " + rest
	}
	return "cbtctl help"
}
