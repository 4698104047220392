package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal cancels the run (its snapshots are still removed);
	// the default is restored then, so that a second one ends it at once.
	context.AfterFunc(ctx, stop)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit statuses.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// config is the command line.
type config struct {
	url      string // empty: the in-process simulator
	insecure bool
	vm       string
	state    string
	seed     int64
	writes   int
	stun     bool
}

func parseArgs(args []string, stdout, stderr io.Writer) (config, int, bool) {
	var cfg config
	fs := flag.NewFlagSet("vsphere-incremental", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.url, "url", "", "vCenter or ESXi `URL` (https://host/sdk); empty: an in-process simulator with vcsimcbt")
	fs.BoolVar(&cfg.insecure, "insecure", false, "do not check the server's certificate (with -url)")
	fs.StringVar(&cfg.vm, "vm", "", "the VM: its `NAME` or managed object ID (vm-42); default: the first by name")
	fs.StringVar(&cfg.state, "state", "", "the state `FILE` holding the stored change IDs (default: in the temporary directory on the simulator, ./vsphere-incremental-state.json with -url)")
	fs.Int64Var(&cfg.seed, "seed", 1, "seed of the simulated guest writes (simulator only)")
	fs.IntVar(&cfg.writes, "writes", 16, "how many guest writes to simulate per disk (simulator only)")
	fs.BoolVar(&cfg.stun, "stun", false, "when enabling tracking on a powered-on VM, make the stun/unstun cycle at once with a temporary snapshot")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage:\n\tvsphere-incremental [flags]\n\nA full then an incremental backup of a VM's disks through changed-block\ntracking, on an in-process simulator or (-url) a real vCenter.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return cfg, exitOK, false
		}
		return cfg, exitUsage, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "vsphere-incremental: unexpected argument %q\n", fs.Arg(0))
		return cfg, exitUsage, false
	}
	if cfg.writes < 0 {
		fmt.Fprintln(stderr, "vsphere-incremental: -writes must not be negative")
		return cfg, exitUsage, false
	}
	if cfg.url == "" && cfg.insecure {
		fmt.Fprintln(stderr, "vsphere-incremental: -insecure goes with -url (the simulator's certificate is checked)")
		return cfg, exitUsage, false
	}
	if cfg.state == "" {
		if cfg.url == "" {
			cfg.state = filepath.Join(os.TempDir(), "vsphere-incremental-state.json")
		} else {
			cfg.state = "vsphere-incremental-state.json"
		}
	}
	return cfg, exitOK, true
}

// run runs the program with the command line args and returns the exit
// status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, code, ok := parseArgs(args, stdout, stderr)
	if !ok {
		return code
	}
	var (
		e   *env
		err error
	)
	if cfg.url == "" {
		e, err = startSimulator(ctx)
	} else {
		e, err = connect(ctx, cfg.url, cfg.insecure)
	}
	if err != nil {
		fmt.Fprintf(stderr, "vsphere-incremental: %v\n", err)
		return exitError
	}
	defer e.close()
	return runWith(ctx, e, cfg, stdout, stderr)
}

// runWith runs the backups on a connected environment.
func runWith(ctx context.Context, e *env, cfg config, stdout, stderr io.Writer) int {
	if err := walk(ctx, e, cfg, stdout); err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			fmt.Fprintf(stderr, "vsphere-incremental: interrupted: %v\n", err)
			return exitError
		}
		fmt.Fprintf(stderr, "vsphere-incremental: %v\n", err)
		return exitError
	}
	return exitOK
}
