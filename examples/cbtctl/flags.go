package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/changedblocks/sdk/cbt"
)

// changesFlags are the flags every platform's changes subcommand shares.
// A platform registers them with register and adds its own (how to reach
// the disk, --since), then hands them to runChanges.
type changesFlags struct {
	cmd      string    // the command path for messages, e.g. "cbtctl mem changes"
	since    optString // --since, when the platform registers it with registerBase
	full     bool      // --full: list everything allocated, a full backup
	format   formatValue
	progress progressValue
	start    int64
	length   int64
	align    int64
	gap      int64
	// hint, when set by the platform, gives its own advice for an error
	// ("" for the generic advice of classify).
	hint func(error) string
	// noID, when set by the platform, says in the command line's words why
	// the point listed hands out no change ID, given the SDK's reason (an
	// error wrapping cbt.ErrUnsupported); nil uses cliWords on the reason.
	noID func(reason error) string
	// granularity, when not 0, is the granularity of what is listed, when it
	// is not the disk's (a qcow2 bitmap's, listing since one).
	granularity int64
}

// registerBase adds --since (with the platform's usage text) and --full to
// fs. A changes command needs exactly one of them: checkBase says so.
func (c *changesFlags) registerBase(fs *flag.FlagSet, sinceUsage string) {
	fs.Var(&c.since, "since", sinceUsage)
	fs.BoolVar(&c.full, "full", false, "list everything allocated: what a full backup copies (instead of --since)")
}

// checkBase returns the usage error of --since and --full, "" when they are
// right: exactly one of them, and --since not empty. sinceForms names what
// --since takes.
func (c *changesFlags) checkBase(sinceForms string) string {
	return checkBase(c.since, c.full, "--since", sinceForms)
}

// checkBase is changesFlags.checkBase for a base flag of another name
// (oci's --first).
func checkBase(since optString, full bool, name, forms string) string {
	switch {
	case since.set && since.s == "":
		return fmt.Sprintf("%s is empty: give %s, or --full for a full backup (everything allocated)", name, forms)
	case since.set && full:
		return fmt.Sprintf("%s and --full exclude each other: give %s for an incremental, or --full for a full backup", name, forms)
	case !since.set && !full:
		return fmt.Sprintf("give %s %s for an incremental, or --full for a full backup (everything allocated)", name, forms)
	}
	return ""
}

// optString is a string flag that remembers whether it was given, so that
// an empty value can be told from none.
type optString struct {
	s   string
	set bool
}

func (o *optString) String() string {
	if o == nil {
		return ""
	}
	return o.s
}

func (o *optString) Set(s string) error {
	o.s, o.set = s, true
	return nil
}

// register adds the output flags (--format, --progress) and the listing
// flags (--start, --length, --align, --gap) to fs.
func (c *changesFlags) register(fs *flag.FlagSet) {
	c.registerOutput(fs)
	c.registerListing(fs)
}

// registerOutput adds --format and --progress to fs.
func (c *changesFlags) registerOutput(fs *flag.FlagSet) {
	c.cmd = fs.Name()
	fs.Var(&c.format, "format", "output `FORMAT`: text (aligned columns and a summary) or json (one object)")
	fs.Var(&c.progress, "progress", "draw a progress bar on stderr: true, false, or auto (when stderr is a terminal and stdout is not)")
}

// registerListing adds --start, --length, --align and --gap to fs.
func (c *changesFlags) registerListing(fs *flag.FlagSet) {
	fs.Var(sizeValue{&c.start}, "start", "list from this `OFFSET` on; to resume, the offset an error message names")
	fs.Var(sizeValue{&c.length}, "length", "list only this many `BYTES` from --start (0: up to the capacity)")
	fs.Var(sizeValue{&c.align}, "align", "widen extents to multiples of this `BLOCK` size")
	fs.Var(sizeValue{&c.gap}, "gap", "merge extents separated by at most this many unchanged `BYTES`")
}

// options returns the cbt options the flags ask for.
func (c *changesFlags) options() *cbt.ChangesOptions {
	return &cbt.ChangesOptions{StartOffset: c.start, Length: c.length, Alignment: c.align, CoalesceGap: c.gap}
}

// formatValue is the --format flag: "text" (the default) or "json".
type formatValue string

func (f *formatValue) String() string {
	if f == nil || *f == "" {
		return "text"
	}
	return string(*f)
}

func (f *formatValue) Set(s string) error {
	switch s {
	case "text", "json":
		*f = formatValue(s)
		return nil
	}
	return fmt.Errorf("want text or json, not %q", s)
}

func (f *formatValue) json() bool { return *f == "json" }

// progressValue is the --progress flag: unset means automatic.
type progressValue struct {
	set, on bool
}

func (p *progressValue) IsBoolFlag() bool { return true }

func (p *progressValue) String() string {
	switch {
	case p == nil || !p.set:
		return "auto"
	case p.on:
		return "true"
	}
	return "false"
}

func (p *progressValue) Set(s string) error {
	if s == "auto" {
		*p = progressValue{}
		return nil
	}
	on, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("want true, false or auto, not %q", s)
	}
	p.set, p.on = true, on
	return nil
}

// enabled reports whether to draw the bar. Automatically, it is drawn when
// stderr is a terminal and stdout is not: when both are the same screen, the
// listing scrolling by is its own progress, and a bar redrawn in between its
// lines would garble them.
func (p *progressValue) enabled(stdout, stderr io.Writer) bool {
	if p.set {
		return p.on
	}
	return isTerminal(stderr) && !isTerminal(stdout)
}

// isTerminal reports whether w is a character device such as a terminal. It
// needs no terminal library; /dev/null is a character device too, which
// does no harm: what is drawn there is thrown away.
func isTerminal(w io.Writer) bool {
	if s, ok := w.(*syncWriter); ok {
		w = s.w
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// sizeValue is a flag holding a byte count: a non-negative decimal integer
// with an optional binary unit: K, M, G, T, P or E, each
// optionally followed by "iB" or "B" (64K = 64KiB = 64KB = 65536).
type sizeValue struct{ p *int64 }

func (v sizeValue) String() string {
	if v.p == nil {
		return "0"
	}
	return formatSize(*v.p)
}

// formatSize formats n as parseSize reads it, in the largest unit that
// divides it: 65536 is "64K".
func formatSize(n int64) string {
	i := 0
	for i < 6 && n != 0 && n%1024 == 0 {
		n /= 1024
		i++
	}
	s := strconv.FormatInt(n, 10)
	if i > 0 {
		s += "KMGTPE"[i-1 : i]
	}
	return s
}

func (v sizeValue) Set(s string) error {
	n, err := parseSize(s)
	if err != nil {
		return err
	}
	*v.p = n
	return nil
}

// sizeForms is what a size flag accepts, for its usage error.
const sizeForms = "want a byte count: digits with an optional binary unit K, M, G, T, P or E, each optionally followed by iB or B (4096, 64K, 64KiB, 1M, 2G: 64K = 65536)"

var errBadSize = errors.New(sizeForms)

// parseSize parses a size as sizeValue describes it.
func parseSize(s string) (int64, error) {
	num, shift := s, 0
	upper := strings.ToUpper(s)
	for _, suffix := range []string{"IB", "B"} {
		if rest, ok := strings.CutSuffix(upper, suffix); ok && rest != "" && strings.ContainsAny(rest[len(rest)-1:], "KMGTPE") {
			upper, num = rest, num[:len(rest)]
			break
		}
	}
	if upper != "" {
		if i := strings.IndexByte("KMGTPE", upper[len(upper)-1]); i >= 0 {
			shift = 10 * (i + 1)
			num = num[:len(num)-1]
		}
	}
	if num == "" || num[0] < '0' || num[0] > '9' {
		return 0, fmt.Errorf("%q: %w", s, errBadSize)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Errorf("%q: too large: at most 8E-1 (9223372036854775807)", s)
		}
		return 0, fmt.Errorf("%q: %w", s, errBadSize)
	}
	if n > math.MaxInt64>>shift {
		return 0, fmt.Errorf("%q: too large: at most 8E-1 (9223372036854775807)", s)
	}
	return n << shift, nil
}
