//go:build unix

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// interruptOnWrite sends SIGINT to the process when output first reaches
// it, as a user pressing Ctrl-C in the middle of a listing does, and gives
// the signal time to arrive.
type interruptOnWrite struct {
	bytes.Buffer
	t    *testing.T
	sent bool
}

func (w *interruptOnWrite) Write(p []byte) (int, error) {
	if !w.sent {
		w.sent = true
		seen := make(chan os.Signal, 1)
		signal.Notify(seen, os.Interrupt)
		defer signal.Stop(seen)
		require.NoError(w.t, syscall.Kill(os.Getpid(), syscall.SIGINT))
		select {
		case <-seen:
		case <-time.After(10 * time.Second):
			w.t.Error("SIGINT did not arrive")
		}
		// The signal reaches every channel registered for it; leave
		// signal.NotifyContext's goroutine time to cancel.
		time.Sleep(200 * time.Millisecond)
	}
	return w.Buffer.Write(p)
}

func TestCtrlC(t *testing.T) {
	var ops []op
	for i := range int64(3000) {
		ops = append(ops, op{kind: "write", off: i * 16384, len: 512})
	}
	ops = append(ops, op{kind: "point", name: "a"})
	script := writeScript(t, ops)

	out := &interruptOnWrite{t: t}
	var errOut bytes.Buffer
	code := run([]string{"mem", "changes", "--script", script, "--granularity", "4K", "--format", "json", "--full"}, out, &errOut)
	assert.Equal(t, 130, code, "128 + SIGINT")
	c := decodeOne(t, out.String())
	require.NotNil(t, c.Error)
	assert.Equal(t, "interrupted: interrupt signal received", *c.Error)
	assert.Less(t, len(c.Extents), 3000)
	assert.Contains(t, errOut.String(), "cbtctl mem changes: interrupted: interrupt signal received\n")
	assert.Contains(t, errOut.String(), "to continue after them, run again with --start ")
}

// cbtctlBinary builds the command once for the tests that run it as a
// process of its own, and returns its path.
var cbtctlBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "cbtctl-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "cbtctl")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v: %s", err, out)
	}
	return bin, nil
})

// process is the built command running.
type process struct {
	cmd    *exec.Cmd
	stderr *lockedBuffer
	exited chan struct{}
	code   int
}

// lockedBuffer is a buffer a process writes while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startCbtctl starts the built command with args, stdin from stdin.
func startCbtctl(t *testing.T, stdin io.Reader, args ...string) *process {
	t.Helper()
	bin, err := cbtctlBinary()
	require.NoError(t, err)
	p := &process{cmd: exec.Command(bin, args...), stderr: &lockedBuffer{}, exited: make(chan struct{})}
	p.cmd.Stdin = stdin
	p.cmd.Stdout = io.Discard
	p.cmd.Stderr = p.stderr
	require.NoError(t, p.cmd.Start())
	go func() {
		_ = p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

// hangGuard bounds how long a test waits for a process that should end by
// itself within seconds: not a timing assertion, a report instead of a hang.
const hangGuard = 60 * time.Second

// wait waits for the process to exit and returns its status.
func (p *process) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.exited:
		return p.code
	case <-time.After(hangGuard):
		t.Fatalf("cbtctl %v did not exit: the signal was swallowed; stderr: %s", p.cmd.Args[1:], p.stderr.String())
	}
	return -1
}

// waitFor waits until cond holds, or the process exits or hangs.
func (p *process) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(hangGuard)
	for !cond() {
		select {
		case <-p.exited:
			t.Fatalf("cbtctl exited (status %d) before %s; stderr: %s", p.code, what, p.stderr.String())
		case <-deadline:
			t.Fatalf("no %s; stderr: %s", what, p.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// readingStdin reports whether a thread of the process is blocked in
// read(0, ...): /proc/PID/task/TID/syscall starts with the number of read
// (0 on amd64, 63 on arm64) and the descriptor.
func (p *process) readingStdin() bool {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/syscall", p.cmd.Process.Pid))
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		s := string(b)
		if strings.HasPrefix(s, "0 0x0 ") && runtime.GOARCH == "amd64" || strings.HasPrefix(s, "63 0x0 ") && runtime.GOARCH == "arm64" {
			return true
		}
	}
	return false
}

// blockedOnStdin starts cbtctl reading an lvs listing from stdin, a pipe no
// one writes to or closes: a read no context can end.
func blockedOnStdin(t *testing.T) *process {
	t.Helper()
	if runtime.GOOS != "linux" || (runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64") {
		t.Skip("reads /proc/PID/task/*/syscall of linux/amd64 or arm64")
	}
	r, w, err := os.Pipe()
	require.NoError(t, err)
	t.Cleanup(func() { r.Close(); w.Close() })
	p := startCbtctl(t, r, "rhv", "changes", "--lvs", "-", "--full")
	p.waitFor(t, "read of stdin", p.readingStdin)
	return p
}

// TestSignalEndsBlockedCommand: a command blocked where no context reaches
// (a read of stdin) still ends after the first SIGINT, within the grace
// period, with 130 and a message saying why and that nothing is left.
func TestSignalEndsBlockedCommand(t *testing.T) {
	p := blockedOnStdin(t)
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGINT))
	code := p.wait(t)
	assert.Equal(t, 130, code, "stderr: %s", p.stderr.String())
	assert.Contains(t, p.stderr.String(), "cbtctl: interrupt signal received: stopping; a second signal exits at once\n")
	assert.Contains(t, p.stderr.String(), "cbtctl: exiting on the command did not end within 5s of the interrupt signal received; the command only read, nothing is left behind")
}

// TestSecondSignalExitsAtOnce: a second signal does not wait for the grace
// period.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	p := blockedOnStdin(t)
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	p.waitFor(t, "the first signal's message", func() bool { return strings.Contains(p.stderr.String(), "stopping") })
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGINT))
	code := p.wait(t)
	assert.Equal(t, 143, code, "the status of the first signal, SIGTERM; stderr: %s", p.stderr.String())
	assert.Contains(t, p.stderr.String(), "cbtctl: exiting on a second signal (interrupt); the command only read, nothing is left behind")
}

// TestSignalCancelsNetworkWait: a command waiting on the network (a server
// that accepts the connection and never answers) is cancelled by the first
// SIGTERM, returns by itself and exits 143 with the interrupted message.
func TestSignalCancelsNetworkWait(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c // never answered
		}
	}()
	p := startCbtctl(t, nil, "vsphere", "changes", "--url", "https://user:pw@"+ln.Addr().String()+"/sdk", "--insecure",
		"--vm", "vm-1", "--full")
	var conn net.Conn
	select {
	case conn = <-accepted:
		defer conn.Close()
	case <-p.exited:
		t.Fatalf("cbtctl exited before connecting: %s", p.stderr.String())
	case <-time.After(hangGuard):
		t.Fatal("cbtctl did not connect")
	}
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	code := p.wait(t)
	assert.Equal(t, 143, code, "stderr: %s", p.stderr.String())
	assert.Contains(t, p.stderr.String(), "terminated signal received")
	assert.NotContains(t, p.stderr.String(), "did not end within", "the command returned by itself")
}

// TestSuperviseSignalsNamesLeftovers: a command stuck in its cleanup is
// left at the second signal, and the message names what it held.
func TestSuperviseSignalsNamesLeftovers(t *testing.T) {
	sigs := make(chan os.Signal, 2)
	var stderr lockedBuffer
	started, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	done := make(chan int)
	go func() {
		done <- superviseSignals(sigs, &stderr, func(ctx context.Context) int {
			left := noteLeftover(ctx, "the temporary snapshot %q of VM %s: remove it in vSphere", "cbtctl x", "vm-7")
			defer left()
			close(started)
			<-ctx.Done()
			<-release // a cleanup that does not end
			return exitOK
		})
	}()
	<-started
	sigs <- syscall.SIGINT
	for !strings.Contains(stderr.String(), "stopping and cleaning up") {
		time.Sleep(5 * time.Millisecond)
	}
	sigs <- syscall.SIGINT
	code := <-done
	assert.Equal(t, 130, code)
	assert.Contains(t, stderr.String(), `cbtctl: interrupt signal received: stopping and cleaning up (the temporary snapshot "cbtctl x" of VM vm-7: remove it in vSphere); a second signal exits at once, leaving it behind`)
	assert.Contains(t, stderr.String(), `cbtctl: exiting on a second signal (interrupt) before the cleanup ended; may be left behind: the temporary snapshot "cbtctl x" of VM vm-7: remove it in vSphere`)

	// A command that returns in time keeps its own status, and without a
	// supervisor noteLeftover records nothing.
	sigs2 := make(chan os.Signal, 1)
	code = superviseSignals(sigs2, io.Discard, func(ctx context.Context) int { return exitFullBackup })
	assert.Equal(t, exitFullBackup, code)
	noteLeftover(context.Background(), "nothing")()
}
