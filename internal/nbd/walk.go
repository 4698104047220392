package nbd

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"
)

// DialFunc opens a new connection with the meta context selected, e.g.
// func(ctx) { return Dial(ctx, "unix", sock, opts) }.
type DialFunc func(ctx context.Context) (*Conn, error)

// WalkOptions tune Walk; nil means defaults.
type WalkOptions struct {
	// Retries is how many reconnects in a row may fail to make progress
	// before Walk gives up (default 3). A reconnect that yields at least one
	// extent resets the count.
	Retries int
	// Delay is the pause before each reconnect (default 100ms).
	Delay time.Duration
	// OnReconnect, if set, is called before each reconnect with the offset
	// the walk resumes at and the error that broke the connection.
	OnReconnect func(resumeAt uint64, cause error)
}

// Walk yields the extents of metaContext over [off, off+length) like
// Conn.BlockStatus, on connections it opens with dial. When a connection
// drops (ErrDisconnected), or fails to open with ErrDisconnected or a
// dial error, it dials again and resumes at the first offset not yet
// yielded, so every byte of the range is yielded exactly once. Server
// errors (*Error), protocol errors, ErrUnsupported, ErrInvalidArgument and
// ctx's errors are not retried; they are yielded once and end the walk. The
// export size must not change between connections (a change is
// ErrProtocol). The last connection is closed when the walk ends.
// Not split: one retry loop whose state (position, connection, retries
// left) every branch updates; pieces would pass all of it around.
func Walk(ctx context.Context, dial DialFunc, metaContext string, off, length uint64, opts *WalkOptions) iter.Seq2[Extent, error] {
	retries, delay := 3, 100*time.Millisecond
	var onReconnect func(uint64, error)
	if opts != nil {
		if opts.Retries > 0 {
			retries = opts.Retries
		}
		if opts.Delay > 0 {
			delay = opts.Delay
		}
		onReconnect = opts.OnReconnect
	}
	return func(yield func(Extent, error) bool) {
		end := off + length
		pos := off
		var size uint64
		failures := 0
		var cause error
		for pos < end {
			if err := ctx.Err(); err != nil {
				yield(Extent{}, err)
				return
			}
			if cause != nil {
				if onReconnect != nil {
					onReconnect(pos, cause)
				}
				t := time.NewTimer(delay)
				select {
				case <-ctx.Done():
					t.Stop()
					yield(Extent{}, ctx.Err())
					return
				case <-t.C:
				}
			}
			c, err := dial(ctx)
			if err != nil {
				if ctx.Err() != nil || !retriable(err) {
					yield(Extent{}, err)
					return
				}
				if failures++; failures > retries {
					yield(Extent{}, fmt.Errorf("nbd: walk gave up at %d after %d attempts: %w", pos, failures, err))
					return
				}
				cause = err
				continue
			}
			if size == 0 {
				size = c.Size()
			} else if c.Size() != size {
				_ = c.Close()
				yield(Extent{}, protoErr("export size changed from %d to %d on reconnect", size, c.Size()))
				return
			}
			progressed := false
			stop, broke := false, error(nil)
			for e, err := range c.BlockStatus(ctx, metaContext, pos, end-pos) {
				if err != nil {
					if ctx.Err() == nil && errors.Is(err, ErrDisconnected) {
						broke = err
						break
					}
					_ = c.Close()
					yield(Extent{}, err)
					return
				}
				progressed = true
				pos = e.End()
				if !yield(e, nil) {
					stop = true
					break
				}
			}
			_ = c.Close()
			if stop || broke == nil {
				return
			}
			if progressed {
				failures = 0
			}
			if failures++; failures > retries {
				yield(Extent{}, fmt.Errorf("nbd: walk gave up at %d after %d attempts: %w", pos, failures, broke))
				return
			}
			cause = broke
		}
	}
}

// retriable reports whether a dial failure may be transient: a dropped
// connection or a network error (connection refused while the server
// restarts, missing socket), not a negotiation refusal.
func retriable(err error) bool {
	var oe *OptionError
	switch {
	case errors.As(err, &oe), errors.Is(err, ErrProtocol), errors.Is(err, ErrUnsupported), errors.Is(err, ErrInvalidArgument):
		return false
	}
	return true
}
