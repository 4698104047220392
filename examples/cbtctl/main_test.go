package main

import (
	"go/parser"
	"go/token"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUsageErrors(t *testing.T) {
	script := writeScript(t, staleOps)
	const memHelp = "cbtctl help mem changes"
	for _, tc := range []struct {
		name string
		args []string
		msg  string
		help string
	}{
		{"no command", nil, "cbtctl: a command is required: want one of mem, qemu, vsphere, libvirt, rhv, oci, scsi, version, help", "cbtctl help"},
		{"unknown command", []string{"hyperv"}, `cbtctl: unknown command "hyperv": want one of mem, qemu,`, "cbtctl help"},
		{"no platform subcommand", []string{"mem"}, "cbtctl mem: a command is required: want one of demo, changes", "cbtctl help mem"},
		{"unknown platform subcommand", []string{"mem", "snapshot"}, `cbtctl mem: unknown command "snapshot": want one of demo, changes`, "cbtctl help mem"},
		{"unknown flag", []string{"mem", "changes", "--script", script, "--bogus"}, "cbtctl mem changes: --bogus: no such flag; the flags are --align, --at, ", memHelp},
		{"flag without value", []string{"mem", "changes", "--script", script, "--full", "--since"}, "--since needs a value: want NAME: ", memHelp},
		{"bad format", []string{"mem", "changes", "--script", script, "--format", "xml"}, `--format "xml": want text or json, not "xml"`, memHelp},
		{"bad progress", []string{"mem", "changes", "--script", script, "--progress=maybe"}, `--progress "maybe": want true, false or auto`, memHelp},
		{"bad size", []string{"mem", "changes", "--script", script, "--align", "4X"}, `--align "4X": want a byte count: digits with an optional binary unit K, M, G, T, P or E`, memHelp},
		{"negative size", []string{"mem", "changes", "--script", script, "--gap", "-1"}, `--gap "-1": want a byte count`, memHelp},
		{"size too large", []string{"mem", "changes", "--script", script, "--gap", "8E"}, `--gap "8E": too large`, memHelp},
		{"missing script", []string{"mem", "changes", "--full"}, "--script FILE is required", memHelp},
		{"absent script", []string{"mem", "changes", "--full", "--script", "/nonexistent/script"}, "--script: cbt: not found: open /nonexistent/script: no such file", memHelp},
		{"directory script", []string{"mem", "changes", "--full", "--script", t.TempDir()}, "is a directory, not a regular file", memHelp},
		{"extra argument", []string{"mem", "changes", "--script", script, "disk.qcow2"}, `unexpected argument "disk.qcow2"`, memHelp},
		{"unknown point", []string{"mem", "changes", "--script", script, "--since", "nope"}, `--since "nope": the script takes no change point of that name`, memHelp},
		{"malformed change ID", []string{"mem", "changes", "--script", script, "--full", "--at", "Mem:x"}, "--at: cbt: invalid argument", memHelp},
		{"bad script", []string{"mem", "changes", "--full", "--script", writeScript(t, []op{{kind: "snapshot"}})}, `script.txt:3: unknown operation "snapshot"`, memHelp},
		{"demo writes", []string{"mem", "demo", "--writes", "0"}, "--writes must be between 1 and 100000", "cbtctl help mem demo"},
		{"demo capacity", []string{"mem", "demo", "--capacity", "64K"}, "--capacity must be at least 1M", "cbtctl help mem demo"},
		{"version argument", []string{"version", "now"}, `unexpected argument "now"`, "cbtctl help version"},
		{"help for nothing", []string{"help", "hyperv"}, `cbtctl: unknown command "hyperv"`, "cbtctl help"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requireUsageError(t, cbtctl(t, tc.args...), tc.msg, tc.help)
		})
	}
}

func TestHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"help"}, usage},
		{[]string{"--help"}, usage},
		{[]string{"-h"}, usage},
		{[]string{"help", "mem"}, "Usage:\n\tcbtctl mem <command> [flags]\n"},
		{[]string{"mem", "help"}, "Usage:\n\tcbtctl mem <command> [flags]\n"},
		{[]string{"mem", "-h"}, "\tdemo       walk through full and incremental backups"},
		{[]string{"help", "mem", "changes"}, "\t--since NAME\n"},
		{[]string{"help", "mem", "changes"}, "\t--full\n"},
		{[]string{"help", "mem", "changes"}, "\nSizes are bytes, with an optional binary unit: K, M, G, T, P or E, each\n"},
		{[]string{"help", "mem", "changes"}, "3 full backup required (run again with --full); 130 or 143 interrupted\n"},
		{[]string{"help"}, "\t130  interrupted by SIGINT (Ctrl-C), 143 by SIGTERM"},
		{[]string{"help"}, "\nSizes are bytes, with an optional binary unit: K, M, G, T, P or E, each\n"},
		{[]string{"mem", "help", "changes"}, "\tpoint NAME              take a change point"},
		{[]string{"mem", "changes", "-h"}, "\t--format FORMAT\n\t\toutput FORMAT: text (aligned columns and a summary) or json (one object) (default text)\n"},
		{[]string{"mem", "demo", "--help"}, "\t--seed SEED\n"},
		{[]string{"help", "version"}, "Usage:\n\tcbtctl version\n"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := cbtctl(t, tc.args...)
			assert.Equal(t, exitOK, r.code)
			assert.Contains(t, r.stdout, tc.want)
			assert.Empty(t, r.stderr, "asked-for help goes to stdout")
		})
	}
}

func TestVersion(t *testing.T) {
	r := cbtctl(t, "version")
	assert.Equal(t, exitOK, r.code)
	assert.Regexp(t, `^cbtctl \S+( revision [0-9a-f]+(\+modified)?)? go\S+ \w+/\w+\n$`, r.stdout)
}

// TestDocShowsUsage keeps the package documentation and the usage the
// command prints the same.
func TestDocShowsUsage(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "doc.go", nil, parser.ParseComments|parser.PackageClauseOnly)
	require.NoError(t, err)
	require.NotNil(t, f.Doc)
	doc := f.Doc.Text()
	var lines []string
	for l := range strings.Lines(usage) {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	// The usage's lines appear in the doc in order, blank lines aside.
	var docLines []string
	for l := range strings.Lines(doc) {
		if strings.TrimSpace(l) != "" {
			docLines = append(docLines, l)
		}
	}
	i := 0
	for _, l := range docLines {
		if i < len(lines) && l == lines[i] {
			i++
		}
	}
	require.Equal(t, len(lines), i, "doc.go lacks usage line %q", lines[min(i, len(lines)-1)])
}

func TestIsTerminal(t *testing.T) {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	defer w.Close()
	assert.False(t, isTerminal(w), "a pipe")
	assert.False(t, isTerminal(&strings.Builder{}), "not a file")
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	require.NoError(t, err)
	defer devNull.Close()
	assert.True(t, isTerminal(devNull), "a character device")
	assert.True(t, isTerminal(&syncWriter{w: devNull}), "the stderr run serializes is still the terminal")
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		defer tty.Close()
		assert.True(t, isTerminal(tty))
	}
	var p progressValue
	assert.False(t, p.enabled(w, w), "auto, no terminal")
	require.NoError(t, p.Set("true"))
	assert.True(t, p.enabled(w, w))
	require.NoError(t, p.Set("auto"))
	assert.Equal(t, "auto", p.String())
}
