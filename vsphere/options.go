package vsphere

import (
	"context"
	"log/slog"
	"time"
)

// Defaults of Options.
const (
	// DefaultRetries is how many times a transient failure (SystemError, a
	// FileFault of no change-tracking key, a transport error) of one call is
	// retried.
	DefaultRetries = 4
	// DefaultBackoff is the first wait before a retry; it doubles with every
	// retry, up to 16 times.
	DefaultBackoff = 500 * time.Millisecond
	// maxRelogins bounds the logins one call may ask for.
	maxRelogins = 2
)

// Options tunes how a disk of this package talks to the server. A nil
// *Options means the defaults.
type Options struct {
	// Relogin, when set, is called when the server answers NotAuthenticated
	// (the session expired, for example during a long copy): it must log the
	// same *vim25.Client in again (session.Manager.Login), after which the
	// call that failed is repeated at the same offset, so the listing goes on
	// where it stopped. Without it, NotAuthenticated ends the listing with
	// cbt.ErrInvalidArgument. Several listings of one disk share one login:
	// a listing that sees the session expire after another one logged in
	// again only retries.
	Relogin func(ctx context.Context) error

	// Retries bounds the retries of one call after a transient failure; 0
	// means DefaultRetries, a negative value none.
	Retries int

	// Backoff is the first wait before a retry (doubling each time, up to 16
	// times it); 0 means DefaultBackoff. The wait ends early with the context.
	Backoff time.Duration

	// Logger receives a debug record per call to the server and a warning
	// per retry and login; nil is silent.
	Logger *slog.Logger
}

func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	switch {
	case r.Retries == 0:
		r.Retries = DefaultRetries
	case r.Retries < 0:
		r.Retries = 0
	}
	if r.Backoff <= 0 {
		r.Backoff = DefaultBackoff
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	return r
}

// wait sleeps before retry n (0-based), or until ctx is done.
func (o *Options) wait(ctx context.Context, n int) error {
	d := o.Backoff << min(n, 4)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
