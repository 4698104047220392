package httpc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/changedblocks/sdk/cbt"
)

// Config is what a client of one server is made of: its options as the
// caller gave them, the defaults of the package that owns them, and the
// words its messages use.
type Config struct {
	// HTTPClient, when set, is used as it is; the TLS fields are then
	// ignored.
	HTTPClient *http.Client
	// TLSConfig, when set, is cloned and used instead of RootCAs.
	TLSConfig *tls.Config
	// RootCAs verifies the server's certificate; nil means the system roots.
	RootCAs *x509.CertPool
	// InsecureSkipVerify turns certificate checks off.
	InsecureSkipVerify bool
	// Retries bounds the retries of a request; 0 means DefaultRetries, a
	// negative value none.
	Retries, DefaultRetries int
	// Backoff is the first wait before a retry; 0 means DefaultBackoff.
	Backoff, DefaultBackoff time.Duration
	// Logger receives a debug record per request and a warning per retry;
	// nil is silent.
	Logger *slog.Logger

	// Name starts every message and log record: "rhv: engine", "imageio".
	Name string
	// CertAdvice follows an untrusted certificate in a message ("pass the
	// engine CA in engine.Options.RootCAs").
	CertAdvice string
	// DownAdvice, when set, follows a transport failure in a message.
	DownAdvice string
}

// Client sends the requests of one client: its HTTP client, retries and
// logger, with the defaults applied. It is safe for concurrent use.
type Client struct {
	HTTP    *http.Client
	Log     *slog.Logger
	retries int
	backoff time.Duration
	cfg     Config
}

// New returns the client cfg describes: HTTPClient, or one with the TLS
// policy asked for; the default retries and backoff where none is set; a
// silent logger where none is.
func New(cfg Config) *Client {
	c := &Client{HTTP: cfg.HTTPClient, Log: cfg.Logger, retries: cfg.Retries, backoff: cfg.Backoff, cfg: cfg}
	if c.HTTP == nil {
		c.HTTP = &http.Client{Transport: Transport(cfg.TLSConfig, cfg.RootCAs, cfg.InsecureSkipVerify)}
	}
	switch {
	case c.retries == 0:
		c.retries = cfg.DefaultRetries
	case c.retries < 0:
		c.retries = 0
	}
	if c.backoff <= 0 {
		c.backoff = cfg.DefaultBackoff
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return c
}

// Transport returns an HTTP transport with the TLS policy asked for:
// certificates are checked unless insecure is set.
func Transport(cfg *tls.Config, roots *x509.CertPool, insecure bool) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if cfg != nil {
		t.TLSClientConfig = cfg.Clone()
	} else {
		t.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	if insecure {
		t.TLSClientConfig.InsecureSkipVerify = true
	}
	return t
}

// Send sends req and returns the answer. A failure to get one is classed:
// the error of ctx as it is; an untrusted certificate cbt.ErrInvalidArgument
// with CertAdvice; any other failure cbt.ErrBusy, with retry set. where
// names the request in messages ("GET /vms/x"); it never holds a secret.
func (c *Client) Send(ctx context.Context, req *http.Request, where string) (resp *http.Response, retry bool, err error) {
	resp, err = c.HTTP.Do(req)
	if err == nil {
		return resp, false, nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return nil, false, cerr
	}
	if certError(err) {
		return nil, false, fmt.Errorf("%w: %s %s: the server's certificate is not trusted: %w (%s)",
			cbt.ErrInvalidArgument, c.cfg.Name, where, err, c.cfg.CertAdvice)
	}
	advice := ""
	if c.cfg.DownAdvice != "" {
		advice = " (" + c.cfg.DownAdvice + ")"
	}
	return nil, true, fmt.Errorf("%w: %s %s: %w%s", cbt.ErrBusy, c.cfg.Name, where, err, advice)
}

// Retry runs attempt until it succeeds, fails for good (retry false), or
// the retries are used up; between two attempts it waits the backoff,
// doubled per retry (at most 16 times). An error after retries says how
// many; once ctx ends its error is returned as it is. method and path name
// the request in the warning logged per retry (path never holds a secret).
func (c *Client) Retry(ctx context.Context, method, path string, attempt func() (retry bool, err error)) error {
	for try := 0; ; try++ {
		retry, err := attempt()
		if err == nil {
			return nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if !retry || try >= c.retries {
			if retry && try > 0 {
				err = fmt.Errorf("%w (after %d retries)", err, try)
			}
			return err
		}
		c.Log.WarnContext(ctx, c.cfg.Name+": request failed; retrying", "method", method, "path", path, "retry", try+1, "error", err)
		if werr := Sleep(ctx, c.backoff<<min(try, 4)); werr != nil {
			return werr
		}
	}
}

// Sleep waits d or until ctx ends.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// certError reports whether err is a failed certificate check.
func certError(err error) bool {
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	var tv *tls.CertificateVerificationError
	return errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci) || errors.As(err, &tv)
}
