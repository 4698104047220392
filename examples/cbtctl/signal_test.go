//go:build unix

package main

import (
	"bytes"
	"os"
	"os/signal"
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
