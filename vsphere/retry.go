package vsphere

import (
	"context"
	"fmt"
	"sync"
)

// caller runs calls to the server with the retry and login policy of Options.
type caller struct {
	opts Options

	mu  sync.Mutex
	gen uint64 // logins done; a call that failed at an older generation only retries
}

func newCaller(o *Options) *caller { return &caller{opts: o.withDefaults()} }

// do runs call until it succeeds, fails for good, or the retries and logins
// are spent. The error carries its class (see classify) and the
// *FaultError of the last failure; context errors are returned as they are.
func (c *caller) do(ctx context.Context, method string, call func(ctx context.Context) error) error {
	log := c.opts.Logger
	retries, logins := 0, 0
	for {
		c.mu.Lock()
		gen := c.gen
		c.mu.Unlock()
		err := call(ctx)
		if err == nil {
			return nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		k, cls := classify(err)
		switch {
		case k == relogin && c.opts.Relogin != nil && logins < maxRelogins:
			logins++
			if lerr := c.login(ctx, gen); lerr != nil {
				if cerr := ctx.Err(); cerr != nil {
					return cerr
				}
				return fmt.Errorf("%w: vsphere: the session expired and logging in again failed (%v): %w",
					cls, lerr, &FaultError{Method: method, Fault: methodFault(err), Err: err})
			}
			log.WarnContext(ctx, "vsphere: session expired; logged in again", "method", method)
			continue
		case k == transient && retries < c.opts.Retries:
			log.WarnContext(ctx, "vsphere: transient failure; retrying", "method", method,
				"fault", faultName(methodFault(err)), "retry", retries+1, "error", err)
			if werr := c.opts.wait(ctx, retries); werr != nil {
				return werr
			}
			retries++
			continue
		}
		werr := wrapCall(ctx, method, err)
		if k == transient && retries > 0 {
			werr = fmt.Errorf("%w (after %d retries)", werr, retries)
		}
		return werr
	}
}

// login calls the Relogin hook unless another call logged in since gen.
func (c *caller) login(ctx context.Context, gen uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return nil
	}
	if err := c.opts.Relogin(ctx); err != nil {
		return err
	}
	c.gen++
	return nil
}
