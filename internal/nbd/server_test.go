package nbd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/changedblocks/sdk/internal/qemutools"
)

// server is a qemu-nbd or nbdkit process serving on a unix socket or a
// loopback TCP port; it is killed at the end of the test.
type server struct {
	t       testing.TB
	name    string
	args    []string
	network string
	addr    string
	uri     string
	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{}
	stderr  bytes.Buffer
}

func newServer(t testing.TB, network, name string, args ...string) *server {
	t.Helper()
	qemutools.Need(t, name)
	s := &server{t: t, name: name, network: network}
	switch network {
	case "unix":
		s.addr = filepath.Join(t.TempDir(), "nbd.sock")
		s.uri = "nbd+unix:///?socket=" + s.addr
		if name == "qemu-nbd" {
			s.args = append([]string{"-e", "8", "-k", s.addr}, args...)
		} else {
			s.args = append([]string{"-f", "-U", s.addr}, args...)
		}
	case "tcp":
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		s.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		s.uri = "nbd://" + s.addr
		if name == "qemu-nbd" {
			s.args = append([]string{"-e", "8", "-b", "127.0.0.1", "-p", strconv.Itoa(port)}, args...)
		} else {
			s.args = append([]string{"-f", "-i", "127.0.0.1", "-p", strconv.Itoa(port)}, args...)
		}
	}
	t.Cleanup(s.stop)
	s.start()
	return s
}

// start launches the server and waits until it accepts connections.
func (s *server) start() {
	s.t.Helper()
	s.mu.Lock()
	s.stderr.Reset()
	cmd := exec.Command(s.name, s.args...)
	cmd.Stderr = &s.stderr
	// Killed with the test binary even when a timeout skips the cleanups.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		s.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-done:
			s.stop()
			s.t.Fatalf("%s %v exited: %s", s.name, s.args, s.stderr.String())
		default:
		}
		if c, err := net.Dial(s.network, s.addr); err == nil {
			_ = c.Close()
			return
		}
		if time.Now().After(deadline) {
			s.stop()
			s.t.Fatalf("%s did not start listening on %s", s.name, s.addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop kills the server (SIGKILL, like a crash) and waits for it.
func (s *server) stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
	if s.network == "unix" {
		_ = os.Remove(s.addr) // a killed server leaves its socket behind
	}
}

func (s *server) dial(t testing.TB, opts *Options) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, s.network, s.addr, opts)
	if err != nil {
		t.Fatalf("dial %s: %v", s.uri, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// nbdinfoMap is `nbdinfo --json --map=CONTEXT URI`, merged.
func nbdinfoMap(t testing.TB, uri, metaContext string) []Extent {
	t.Helper()
	out := qemutools.Run(t, "nbdinfo", "--json", "--map="+metaContext, uri)
	var es []qemutools.NBDExtent
	if err := json.Unmarshal(out, &es); err != nil {
		t.Fatalf("nbdinfo: %v: %s", err, out)
	}
	var r []Extent
	for _, e := range es {
		r = appendMerged(r, Extent{Offset: uint64(e.Offset), Length: uint64(e.Length), Flags: uint32(e.Type)})
	}
	return r
}

// appendMerged appends e, merging it with the last extent when they touch
// and have the same flags; it fails on gaps and overlaps.
func appendMerged(es []Extent, e Extent) []Extent {
	if k := len(es); k > 0 {
		if es[k-1].End() != e.Offset {
			panic(fmt.Sprintf("extent %+v after %+v", e, es[k-1]))
		}
		if es[k-1].Flags == e.Flags {
			es[k-1].Length += e.Length
			return es
		}
	}
	return append(es, e)
}

// collect gathers a walk, checking it is contiguous from off.
func collect(t testing.TB, seq func(func(Extent, error) bool), off uint64) ([]Extent, int, error) {
	t.Helper()
	var es []Extent
	n := 0
	for e, err := range seq {
		if err != nil {
			return es, n, err
		}
		if e.Length == 0 || e.Offset != off {
			t.Fatalf("extent %+v, expected offset %d", e, off)
		}
		off = e.End()
		n++
		es = appendMerged(es, e)
	}
	return es, n, nil
}
