package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// How long a command may take to clean up and return after the first
// signal: a command that only reads ends at once; one that holds something
// outside the process (a temporary vSphere snapshot, an OCI delta volume, a
// libvirt backup job) gets longer to release it.
var (
	signalGrace        = 5 * time.Second
	signalGraceCleanup = 30 * time.Second
)

// signalError is the cause of a context cancelled by a signal.
type signalError struct{ sig os.Signal }

func (e *signalError) Error() string { return e.sig.String() + " signal received" }

// status is the exit status of a program a signal ended: 128 plus the
// signal's number, as the shell reports it (130 for SIGINT, 143 for SIGTERM).
func (e *signalError) status() int {
	if s, ok := e.sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return exitError
}

// superviseSignals runs cmd with a context that the first signal from sigs
// cancels (its cause a *signalError), and returns cmd's exit status. When
// cmd has not returned within the grace period after that signal, or a
// second signal comes, it returns 128+signal at once, after writing to
// stderr what cmd may leave behind (what it noted with noteLeftover); cmd
// then goes on running until the program exits.
func superviseSignals(sigs <-chan os.Signal, stderr io.Writer, cmd func(context.Context) int) int {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	left := &leftovers{notes: map[int]string{}}
	ctx = context.WithValue(ctx, leftoversKey{}, left)
	done := make(chan int, 1)
	go func() { done <- cmd(ctx) }()

	var sig os.Signal
	select {
	case code := <-done:
		return code
	case sig = <-sigs:
	}
	first := &signalError{sig}
	cancel(first)
	grace := signalGrace
	if notes := left.list(); len(notes) > 0 {
		grace = signalGraceCleanup
		fmt.Fprintf(stderr, "cbtctl: %s: stopping and cleaning up (%s); a second signal exits at once, leaving it behind\n",
			first, strings.Join(notes, "; "))
	} else {
		fmt.Fprintf(stderr, "cbtctl: %s: stopping; a second signal exits at once\n", first)
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	var why string
	select {
	case code := <-done:
		return code
	case sig2 := <-sigs:
		why = fmt.Sprintf("a second signal (%s)", sig2)
	case <-timer.C:
		why = fmt.Sprintf("the command did not end within %v of the %s", grace, first)
	}
	if notes := left.list(); len(notes) > 0 {
		fmt.Fprintf(stderr, "cbtctl: exiting on %s before the cleanup ended; may be left behind: %s\n", why, strings.Join(notes, "; "))
	} else {
		fmt.Fprintf(stderr, "cbtctl: exiting on %s; the command only read, nothing is left behind; the output is incomplete: store no change ID\n", why)
	}
	return first.status()
}

// leftovers is what a running command holds outside the process, to name
// when the program exits before the command released it.
type leftovers struct {
	mu    sync.Mutex
	next  int
	notes map[int]string
}

type leftoversKey struct{}

func (l *leftovers) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	keys := make([]int, 0, len(l.notes))
	for k := range l.notes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, l.notes[k])
	}
	return out
}

// noteLeftover records, until done is called, that the command holds what
// the note describes outside the process (and how to remove it by hand),
// for the message of a program that exits before the command released it.
// Without a supervisor in ctx it records nothing.
func noteLeftover(ctx context.Context, format string, args ...any) (done func()) {
	l, _ := ctx.Value(leftoversKey{}).(*leftovers)
	if l == nil {
		return func() {}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	k := l.next
	l.next++
	l.notes[k] = fmt.Sprintf(format, args...)
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		delete(l.notes, k)
	}
}

// syncWriter serializes the writes to w of several goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
