// Command testsummary reads `go test -json` on its standard input and prints
// what a person reads of a test run: each package's result line, the whole
// output of every test that failed, and at the end every test that was
// skipped with its reason (a missing tool says what installs it), then one
// line "N passed, N failed, N skipped". It exits 1 when a test or a
// package failed (a build failure included), else 0.
//
//	go test -json ./... | go run ./scripts/testsummary
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action     string
	Package    string
	ImportPath string // build events
	Test       string
	Output     string
}

type summary struct {
	out                  io.Writer
	outputs              map[string]*strings.Builder // per package/test, until its end
	skips                []string
	passed, failed, skip int
	pkgFailed            bool
}

func main() {
	s := &summary{out: os.Stdout, outputs: map[string]*strings.Builder{}}
	if err := s.read(os.Stdin); err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(2)
	}
	s.finish()
	if s.failed > 0 || s.pkgFailed {
		os.Exit(1)
	}
}

func (s *summary) read(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil || e.Action == "" {
			// Not JSON (go vet output, a panic before test2json): pass it on.
			fmt.Fprintln(s.out, string(line))
			continue
		}
		s.handle(e)
	}
	return sc.Err()
}

func (s *summary) handle(e event) {
	key := e.Package + "\x00" + e.Test
	switch e.Action {
	case "output", "build-output":
		if e.Test == "" && e.Action == "output" && isResultLine(e.Output) {
			fmt.Fprint(s.out, e.Output)
			return
		}
		if e.Action == "build-output" {
			key = e.ImportPath + "\x00"
		}
		b := s.outputs[key]
		if b == nil {
			b = &strings.Builder{}
			s.outputs[key] = b
		}
		if b.Len() < 1<<20 {
			b.WriteString(e.Output)
		}
	case "pass":
		if e.Test != "" {
			s.passed++
		}
		delete(s.outputs, key)
	case "skip":
		if e.Test != "" {
			s.skip++
			s.skips = append(s.skips, fmt.Sprintf("%s %s: %s", e.Package, e.Test, skipReason(s.outputs[key])))
		}
		delete(s.outputs, key)
	case "fail", "build-fail":
		if e.Test != "" {
			s.failed++
		} else {
			s.pkgFailed = true
		}
		if e.Action == "build-fail" {
			key = e.ImportPath + "\x00"
		}
		if b := s.outputs[key]; b != nil && (e.Test != "" || e.Action == "build-fail") {
			fmt.Fprint(s.out, b.String())
		}
		delete(s.outputs, key)
	}
}

// isResultLine reports whether a package-level output line is its result:
// "ok  pkg 1.2s", "FAIL pkg ...", "?   pkg [no test files]".
func isResultLine(s string) bool {
	return strings.HasPrefix(s, "ok  ") || strings.HasPrefix(s, "FAIL\t") || strings.HasPrefix(s, "FAIL ") || strings.HasPrefix(s, "?   ")
}

// skipReason is the last line a skipped test logged (its t.Skip message).
func skipReason(b *strings.Builder) string {
	if b == nil {
		return "(no reason given)"
	}
	var last string
	for _, l := range strings.Split(b.String(), "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "=== ") && !strings.HasPrefix(l, "--- SKIP") {
			last = l
		}
	}
	if last == "" {
		return "(no reason given)"
	}
	return last
}

func (s *summary) finish() {
	if len(s.skips) > 0 {
		sort.Strings(s.skips)
		fmt.Fprintf(s.out, "\n%d tests skipped:\n", len(s.skips))
		for _, l := range s.skips {
			fmt.Fprintln(s.out, "  "+l)
		}
		fmt.Fprintln(s.out, "(a tool that is missing says what installs it; as root, bash .ci/install.sh installs them all and bash .ci/libvirtd.sh starts libvirtd)")
	}
	fmt.Fprintf(s.out, "\n%d passed, %d failed, %d skipped\n", s.passed, s.failed, s.skip)
}
