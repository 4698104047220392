package engine

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/rhv/internal/httpc"
	"github.com/changedblocks/sdk/rhv/internal/ident"
)

// Defaults of Options.
const (
	// DefaultRetries is how many times a request that failed with a
	// server error (5xx) or a transport error is retried. Only requests that
	// change nothing, or that are safe to repeat (finalize), are retried.
	DefaultRetries = 3
	// DefaultBackoff is the first wait before a retry; it doubles with
	// every retry.
	DefaultBackoff = 500 * time.Millisecond
	// DefaultPollInterval is the wait between two reads of a backup's or a
	// transfer's phase.
	DefaultPollInterval = 2 * time.Second
	// DefaultPhaseTimeout bounds the wait for one phase change (a backup
	// becoming ready, a transfer transferring, a finalize completing).
	DefaultPhaseTimeout = 10 * time.Minute
	// maxBody bounds the body of an engine answer.
	maxBody = 16 << 20
)

// Options tunes a Client. A nil *Options means the defaults: certificates checked against the system roots, no credentials
// (set them, or call LoginSSO), silent.
type Options struct {
	// HTTPClient, when set, is used as it is (its Transport decides TLS); the
	// TLS fields below are then ignored.
	HTTPClient *http.Client
	// RootCAs verifies the engine's certificate (the engine CA, from
	// /ovirt-engine/services/pki-resource?resource=ca-certificate&format=X509-PEM-CA).
	// Nil means the system roots.
	RootCAs *x509.CertPool
	// TLSConfig, when set, is cloned and used instead of RootCAs.
	TLSConfig *tls.Config
	// InsecureSkipVerify turns certificate checks off. Only for tests and
	// labs.
	InsecureSkipVerify bool
	// Username and Password, when set, are sent as HTTP basic
	// authentication ("admin@internal" or "user@profile").
	Username, Password string
	// Token, when set, is sent as a bearer token (an SSO access token);
	// LoginSSO sets it.
	Token string
	// Retries bounds the retries of a request after a 5xx or transport
	// error; 0 means DefaultRetries, a negative value none.
	Retries int
	// Backoff is the first wait before a retry; 0 means DefaultBackoff.
	Backoff time.Duration
	// PollInterval is the wait between phase reads; 0 means
	// DefaultPollInterval.
	PollInterval time.Duration
	// PhaseTimeout bounds each wait for a phase; 0 means DefaultPhaseTimeout.
	PhaseTimeout time.Duration
	// Logger receives a debug record per request and phase read, and a
	// warning per retry; nil is silent. Credentials are never logged.
	Logger *slog.Logger
}

// Client calls the oVirt engine's REST API (JSON) with net/http only.
// It covers what changed-block tracking needs: backups, their disks, image
// transfers and SSO login. It is safe for concurrent use.
type Client struct {
	api  *url.URL // .../ovirt-engine/api
	http *httpc.Client
	opts Options

	mu    sync.Mutex
	token string
}

// NewClient returns a client of the engine API at apiURL
// ("https://engine.example.com/ovirt-engine/api"; a URL with no path gets
// "/ovirt-engine/api"). Errors: cbt.ErrInvalidArgument for a URL that is not
// http(s), or that holds credentials.
func NewClient(apiURL string, opts *Options) (*Client, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	u, err := httpc.ParseURL(apiURL, "rhv: engine URL", "https://engine/ovirt-engine/api", (*url.URL).Redacted)
	if err != nil {
		return nil, err
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: rhv: engine URL %q holds credentials: pass them in engine.Options", cbt.ErrInvalidArgument, u.Redacted())
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	if u.Path == "" {
		u.Path = "/ovirt-engine/api"
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.PhaseTimeout <= 0 {
		o.PhaseTimeout = DefaultPhaseTimeout
	}
	hc := httpc.New(httpc.Config{HTTPClient: o.HTTPClient, TLSConfig: o.TLSConfig, RootCAs: o.RootCAs,
		InsecureSkipVerify: o.InsecureSkipVerify, Retries: o.Retries, DefaultRetries: DefaultRetries,
		Backoff: o.Backoff, DefaultBackoff: DefaultBackoff, Logger: o.Logger,
		Name: "rhv: engine", CertAdvice: "pass the engine CA in engine.Options.RootCAs",
		DownAdvice: "the engine is unreachable, which may pass: try again later"})
	return &Client{api: u, http: hc, opts: o, token: o.Token}, nil
}

// HTTPClient returns the HTTP client the engine client uses, to share its
// TLS settings with an imageio.Client of the same site.
func (c *Client) HTTPClient() *http.Client { return c.http.HTTP }

// do sends one JSON request to path (relative to the API root) and decodes a
// 2xx answer into out (when not nil). idempotent requests are retried after a
// 5xx or a transport error.
func (c *Client) do(ctx context.Context, method, path string, in, out any, idempotent bool) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("%w: rhv: encoding the request: %v", cbt.ErrInvalidArgument, err)
		}
	}
	return c.http.Retry(ctx, method, path, func() (bool, error) {
		retry, err := c.once(ctx, method, path, body, out)
		return retry && idempotent, err
	})
}

// get reads the object at path (relative to the API root) into a new T.
func get[T any](ctx context.Context, c *Client, path string) (*T, error) {
	var out T
	if err := c.do(ctx, http.MethodGet, path, nil, &out, true); err != nil {
		return nil, err
	}
	return &out, nil
}

// once sends the request one time; retry says whether a failure may pass.
func (c *Client) once(ctx context.Context, method, path string, body []byte, out any) (retry bool, err error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.api.String()+path, rd)
	if err != nil {
		return false, fmt.Errorf("%w: rhv: %v", cbt.ErrInvalidArgument, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c.mu.Lock()
	token := c.token
	c.mu.Unlock()
	switch {
	case token != "":
		req.Header.Set("Authorization", "Bearer "+token)
	case c.opts.Username != "":
		req.SetBasicAuth(c.opts.Username, c.opts.Password)
	}
	c.http.Log.DebugContext(ctx, "rhv: engine request", "method", method, "path", path)
	resp, retry, err := c.http.Send(ctx, req, method+" "+path)
	if err != nil {
		return retry, err
	}
	defer resp.Body.Close()
	data, rerr := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return answerError(resp.StatusCode, method, path, data)
	}
	if rerr != nil {
		return true, fmt.Errorf("%w: rhv: engine %s %s: reading the answer: %w", cbt.ErrBusy, method, path, rerr)
	}
	return false, decodeAnswer(resp.StatusCode, method, path, data, out)
}

// decodeAnswer decodes a 2xx answer into out (when not nil and the answer
// not empty). An action's answer with a fault inside is an error.
func decodeAnswer(status int, method, path string, data []byte, out any) error {
	if len(data) > maxBody {
		return fmt.Errorf("%w: rhv: engine %s %s: answer larger than %d bytes", cbt.ErrCorrupt, method, path, maxBody)
	}
	if reason, detail, ok := fault(data); ok && strings.Contains(string(data), `"fault"`) {
		// An action answered 200 with a fault inside.
		herr := &HTTPError{Status: status, Method: method, Path: path, Reason: reason, Detail: detail}
		return fmt.Errorf("%w: rhv: engine %s %s: %w", cbt.ErrUnsupported, method, path, herr)
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%w: rhv: engine %s %s: the answer is not the documented JSON: %v", cbt.ErrCorrupt, method, path, err)
		}
	}
	return nil
}

// answerError is the error of an answer that is not 2xx, and whether the
// request may be retried.
func answerError(status int, method, path string, data []byte) (retry bool, err error) {
	herr := &HTTPError{Status: status, Method: method, Path: path}
	if reason, detail, ok := fault(data); ok {
		herr.Reason, herr.Detail = reason, detail
	} else {
		herr.Message = httpc.OneLine(data)
	}
	advice, retry, cls := statusClass(status)
	return retry, fmt.Errorf("%w: rhv: engine %s %s: %w%s", cls, method, path, herr, advice)
}

// poll reads a phase with read until done says so, failing when fail does, or
// when PhaseTimeout passes. what names the object in errors.
func (c *Client) poll(ctx context.Context, what string, read func(ctx context.Context) (string, error), done, fail func(phase string) bool) (string, error) {
	deadline := time.Now().Add(c.opts.PhaseTimeout)
	for {
		phase, err := read(ctx)
		if err != nil {
			return phase, err
		}
		c.http.Log.DebugContext(ctx, "rhv: phase", "object", what, "phase", phase)
		switch {
		case done(phase):
			return phase, nil
		case fail(phase):
			return phase, fmt.Errorf("%w: rhv: %s is in phase %q", cbt.ErrUnsupported, what, phase)
		case time.Now().After(deadline):
			return phase, fmt.Errorf("%w: rhv: %s is still in phase %q after %v (engine.Options.PhaseTimeout): the engine or the host is slow or stuck",
				cbt.ErrBusy, what, phase, c.opts.PhaseTimeout)
		}
		if err := httpc.Sleep(ctx, c.opts.PollInterval); err != nil {
			return phase, err
		}
	}
}

// checkID checks an ID that goes into a URL path.
func checkID(what, id string) error { return ident.Check(what, id, maxIDLength) }

// checkIDs checks the IDs that go into a URL path, given as pairs of what
// and ID, and returns every error.
func checkIDs(whatID ...string) error {
	var errs []error
	for i := 0; i+1 < len(whatID); i += 2 {
		errs = append(errs, checkID(whatID[i], whatID[i+1]))
	}
	return errors.Join(errs...)
}

// maxIDLength bounds an ID that goes into a URL path.
const maxIDLength = 128
