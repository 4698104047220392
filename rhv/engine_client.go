package rhv

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/changedblocks/sdk/cbt"
)

// Defaults of EngineOptions.
const (
	// DefaultEngineRetries is how many times a request that failed with a
	// server error (5xx) or a transport error is retried. Only requests that
	// change nothing, or that are safe to repeat (finalize), are retried.
	DefaultEngineRetries = 3
	// DefaultEngineBackoff is the first wait before a retry; it doubles with
	// every retry.
	DefaultEngineBackoff = 500 * time.Millisecond
	// DefaultPollInterval is the wait between two reads of a backup's or a
	// transfer's phase.
	DefaultPollInterval = 2 * time.Second
	// DefaultPhaseTimeout bounds the wait for one phase change (a backup
	// becoming ready, a transfer transferring, a finalize completing).
	DefaultPhaseTimeout = 10 * time.Minute
	// engMaxBody bounds the body of an engine answer.
	engMaxBody = 16 << 20
)

// EngineOptions tunes an EngineClient. A nil *EngineOptions means the
// defaults: certificates checked against the system roots, no credentials
// (set them, or call LoginSSO), silent.
type EngineOptions struct {
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
	// error; 0 means DefaultEngineRetries, a negative value none.
	Retries int
	// Backoff is the first wait before a retry; 0 means DefaultEngineBackoff.
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

// EngineClient calls the oVirt engine's REST API (JSON) with net/http only.
// It covers what changed-block tracking needs: backups, their disks, image
// transfers and SSO login. It is safe for concurrent use.
type EngineClient struct {
	api  *url.URL // .../ovirt-engine/api
	hc   *http.Client
	opts EngineOptions
	log  *slog.Logger

	mu    sync.Mutex
	token string
}

// NewEngineClient returns a client of the engine API at apiURL
// ("https://engine.example.com/ovirt-engine/api"; a URL with no path gets
// "/ovirt-engine/api"). Errors: cbt.ErrInvalidArgument for a URL that is not
// http(s).
func NewEngineClient(apiURL string, opts *EngineOptions) (*EngineClient, error) {
	var o EngineOptions
	if opts != nil {
		o = *opts
	}
	u, err := url.Parse(apiURL)
	if err != nil {
		return nil, fmt.Errorf("%w: rhv: engine URL: %v", cbt.ErrInvalidArgument, err)
	}
	if u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("%w: rhv: engine URL %q: want https://engine/ovirt-engine/api", cbt.ErrInvalidArgument, u.Redacted())
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: rhv: engine URL %q holds credentials: pass them in EngineOptions", cbt.ErrInvalidArgument, u.Redacted())
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	if u.Path == "" {
		u.Path = "/ovirt-engine/api"
	}
	u.RawQuery, u.Fragment = "", ""
	switch {
	case o.Retries == 0:
		o.Retries = DefaultEngineRetries
	case o.Retries < 0:
		o.Retries = 0
	}
	if o.Backoff <= 0 {
		o.Backoff = DefaultEngineBackoff
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.PhaseTimeout <= 0 {
		o.PhaseTimeout = DefaultPhaseTimeout
	}
	c := &EngineClient{api: u, hc: o.HTTPClient, opts: o, log: o.Logger, token: o.Token}
	if c.hc == nil {
		c.hc = &http.Client{Transport: engTransport(o.TLSConfig, o.RootCAs, o.InsecureSkipVerify)}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// HTTPClient returns the HTTP client the engine client uses, to share its
// TLS settings with an ImageioClient of the same site.
func (c *EngineClient) HTTPClient() *http.Client { return c.hc }

// LoginSSO gets an access token from the engine's SSO service
// (POST /ovirt-engine/sso/oauth/token, grant_type=password,
// scope=ovirt-app-api) and uses it for every later request instead of basic
// authentication.
//
// Errors: cbt.ErrInvalidArgument (the SSO service refused the credentials),
// cbt.ErrBusy (5xx or a transport failure), cbt.ErrCorrupt (an answer without
// a token).
func (c *EngineClient) LoginSSO(ctx context.Context, username, password string) error {
	u := *c.api
	u.Path = strings.TrimSuffix(u.Path, "/api") + "/sso/oauth/token"
	form := url.Values{"grant_type": {"password"}, "scope": {"ovirt-app-api"},
		"username": {username}, "password": {password}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("%w: rhv: SSO: %v", cbt.ErrInvalidArgument, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		return c.transportError(http.MethodPost, "/sso/oauth/token", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, engMaxBody))
	if err != nil {
		return fmt.Errorf("%w: rhv: SSO: reading the answer: %w", cbt.ErrBusy, err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(body, &tok)
	switch {
	case tok.Error != "" || resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusBadRequest:
		herr := &HTTPError{Status: resp.StatusCode, Method: http.MethodPost, Path: "/ovirt-engine/sso/oauth/token",
			Reason: engOneLine([]byte(tok.Error)), Detail: engOneLine([]byte(tok.Description))}
		return fmt.Errorf("%w: rhv: SSO login of %q: %w (check the user name, its profile suffix such as @internal, and the password)",
			cbt.ErrInvalidArgument, username, herr)
	case resp.StatusCode >= 500:
		return fmt.Errorf("%w: rhv: SSO: %w", cbt.ErrBusy, &HTTPError{Status: resp.StatusCode, Method: http.MethodPost, Path: "/ovirt-engine/sso/oauth/token", Message: engOneLine(body)})
	case resp.StatusCode != http.StatusOK || tok.AccessToken == "":
		return fmt.Errorf("%w: rhv: SSO answered HTTP %d without an access token", cbt.ErrCorrupt, resp.StatusCode)
	}
	c.mu.Lock()
	c.token = tok.AccessToken
	c.mu.Unlock()
	return nil
}

// do sends one JSON request to path (relative to the API root) and decodes a
// 2xx answer into out (when not nil). idempotent requests are retried after a
// 5xx or a transport error.
func (c *EngineClient) do(ctx context.Context, method, path string, in, out any, idempotent bool) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("%w: rhv: encoding the request: %v", cbt.ErrInvalidArgument, err)
		}
	}
	for try := 0; ; try++ {
		retry, err := c.once(ctx, method, path, body, out)
		if err == nil {
			return nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if !retry || !idempotent || try >= c.opts.Retries {
			if retry && try > 0 {
				err = fmt.Errorf("%w (after %d retries)", err, try)
			}
			return err
		}
		c.log.WarnContext(ctx, "rhv: engine request failed; retrying", "method", method, "path", path, "retry", try+1, "error", err)
		if werr := engSleep(ctx, engBackoff(c.opts.Backoff, try)); werr != nil {
			return werr
		}
	}
}

func (c *EngineClient) once(ctx context.Context, method, path string, body []byte, out any) (retry bool, err error) {
	u := c.api.String() + path
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
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
	c.log.DebugContext(ctx, "rhv: engine request", "method", method, "path", path)
	resp, err := c.hc.Do(req)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return false, cerr
		}
		if engCertError(err) {
			return false, fmt.Errorf("%w: rhv: engine %s %s: the engine's certificate is not trusted: %w (pass the engine CA in EngineOptions.RootCAs)",
				cbt.ErrInvalidArgument, method, path, err)
		}
		return true, c.transportError(method, path, err)
	}
	defer resp.Body.Close()
	data, rerr := io.ReadAll(io.LimitReader(resp.Body, engMaxBody+1))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if rerr != nil {
			return true, fmt.Errorf("%w: rhv: engine %s %s: reading the answer: %w", cbt.ErrBusy, method, path, rerr)
		}
		if len(data) > engMaxBody {
			return false, fmt.Errorf("%w: rhv: engine %s %s: answer larger than %d bytes", cbt.ErrCorrupt, method, path, engMaxBody)
		}
		if reason, detail, ok := engFault(data); ok && strings.Contains(string(data), `"fault"`) {
			// An action answered 200 with a fault inside.
			herr := &HTTPError{Status: resp.StatusCode, Method: method, Path: path, Reason: reason, Detail: detail}
			return false, fmt.Errorf("%w: rhv: engine %s %s: %w", cbt.ErrUnsupported, method, path, herr)
		}
		if out != nil && len(bytes.TrimSpace(data)) > 0 {
			if err := json.Unmarshal(data, out); err != nil {
				return false, fmt.Errorf("%w: rhv: engine %s %s: the answer is not the documented JSON: %v", cbt.ErrCorrupt, method, path, err)
			}
		}
		return false, nil
	}
	herr := &HTTPError{Status: resp.StatusCode, Method: method, Path: path}
	if reason, detail, ok := engFault(data); ok {
		herr.Reason, herr.Detail = reason, detail
	} else {
		herr.Message = engOneLine(data)
	}
	advice, retry, cls := engStatusClass(resp.StatusCode)
	return retry, fmt.Errorf("%w: rhv: engine %s %s: %w%s", cls, method, path, herr, advice)
}

func (c *EngineClient) transportError(method, path string, err error) error {
	return fmt.Errorf("%w: rhv: engine %s %s: %w (the engine is unreachable, which may pass: try again later)", cbt.ErrBusy, method, path, err)
}

// poll reads a phase with get until done says so, failing when fail does, or
// when PhaseTimeout passes. what names the object in errors.
func (c *EngineClient) poll(ctx context.Context, what string, get func(ctx context.Context) (string, error), done, fail func(phase string) bool) (string, error) {
	deadline := time.Now().Add(c.opts.PhaseTimeout)
	for {
		phase, err := get(ctx)
		if err != nil {
			return phase, err
		}
		c.log.DebugContext(ctx, "rhv: phase", "object", what, "phase", phase)
		switch {
		case done(phase):
			return phase, nil
		case fail(phase):
			return phase, fmt.Errorf("%w: rhv: %s is in phase %q", cbt.ErrUnsupported, what, phase)
		case time.Now().After(deadline):
			return phase, fmt.Errorf("%w: rhv: %s is still in phase %q after %v (EngineOptions.PhaseTimeout): the engine or the host is slow or stuck",
				cbt.ErrBusy, what, phase, c.opts.PhaseTimeout)
		}
		if err := engSleep(ctx, c.opts.PollInterval); err != nil {
			return phase, err
		}
	}
}

// engPathID checks an ID that goes into a URL path.
func engPathID(what, id string) error {
	if id == "" || len(id) > 128 {
		return fmt.Errorf("%w: rhv: %s ID %q must be 1 to 128 characters", cbt.ErrInvalidArgument, what, engClip(id))
	}
	for i := 0; i < len(id); i++ {
		ch := id[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_') {
			return fmt.Errorf("%w: rhv: %s ID %q holds %q; want a UUID", cbt.ErrInvalidArgument, what, engClip(id), ch)
		}
	}
	return nil
}

func engClip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
