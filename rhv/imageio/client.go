package imageio

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/rhv/internal/httpc"
)

// Defaults of Options.
const (
	// DefaultRetries is how many times a request that failed with a
	// server error (5xx) or a transport error is retried.
	DefaultRetries = 3
	// DefaultBackoff is the first wait before a retry; it doubles with
	// every retry.
	DefaultBackoff = 500 * time.Millisecond
	// DefaultMaxExtentsBytes bounds the body of one extents answer (about 2.5
	// million extents).
	DefaultMaxExtentsBytes = 128 << 20
	// maxOptionsBytes bounds the body of an OPTIONS answer and of an error.
	maxOptionsBytes = 1 << 20
)

// Options tunes a Client. A nil *Options means the defaults: certificates
// checked against the system roots, DefaultRetries retries, silent.
type Options struct {
	// HTTPClient, when set, is used as it is (its Transport decides TLS); the
	// TLS fields below are then ignored.
	HTTPClient *http.Client
	// RootCAs verifies the server's certificate (the engine's CA, served at
	// /ovirt-engine/services/pki-resource?resource=ca-certificate). Nil means
	// the system roots.
	RootCAs *x509.CertPool
	// TLSConfig, when set, is cloned and used instead of RootCAs.
	TLSConfig *tls.Config
	// InsecureSkipVerify turns certificate checks off. Only for tests and
	// labs: anyone on the path can then read the disk.
	InsecureSkipVerify bool
	// Retries bounds the retries of a request after a 5xx or transport error;
	// 0 means DefaultRetries, a negative value none.
	Retries int
	// Backoff is the first wait before a retry; 0 means DefaultBackoff.
	Backoff time.Duration
	// MaxExtentsBytes bounds an extents answer; 0 means DefaultMaxExtentsBytes.
	MaxExtentsBytes int64
	// Logger receives a debug record per request and a warning per retry; nil
	// is silent.
	Logger *slog.Logger
}

// Client talks to the ovirt-imageio server of one image transfer: the
// transfer URL (https://host:54322/images/<ticket>) or the engine proxy's
// (port 54323). It is safe for concurrent use.
type Client struct {
	url     *url.URL // the transfer URL, without query
	ticket  string   // last path element, for messages (never logged in full)
	http    *httpc.Client
	maxBody int64
}

// ServerOptions is the answer to OPTIONS /images/{ticket}.
type ServerOptions struct {
	// Features the ticket offers: "extents", "checksum" for a read-only
	// ticket, plus "zero" and "flush" for a writable one.
	Features []string `json:"features"`
	// MaxReaders and MaxWriters bound the parallel connections the server
	// serves for the ticket (0 when not reported).
	MaxReaders int `json:"max_readers"`
	MaxWriters int `json:"max_writers"`
	// UnixSocket, when set, is the server's local socket (an abstract socket
	// starting with NUL), usable when the client runs on the same host.
	UnixSocket string `json:"unix_socket"`
	// Allow is the Allow header: the methods the ticket accepts.
	Allow []string `json:"-"`
}

// Has reports whether the ticket offers feature f.
func (o *ServerOptions) Has(f string) bool { return slices.Contains(o.Features, f) }

// New returns a client of the transfer at transferURL (an image transfer's
// transfer_url or proxy_url). Certificates are checked unless
// opts.InsecureSkipVerify is set. It returns cbt.ErrInvalidArgument for a URL
// that is not an https (or, for tests, http) URL of the form .../images/<ticket>.
func New(transferURL string, opts *Options) (*Client, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	u, err := httpc.ParseURL(transferURL, "imageio: transfer URL", "https://host:port/images/<ticket>", redactURL)
	if err != nil {
		return nil, err
	}
	_, ticket, _ := strings.Cut(strings.TrimSuffix(u.Path, "/"), "/images/")
	if ticket == "" || strings.Contains(ticket, "/") {
		return nil, fmt.Errorf("%w: imageio: transfer URL %q: want a path ending in /images/<ticket>", cbt.ErrInvalidArgument, redactURL(u))
	}
	c := &Client{url: u, ticket: ticket, maxBody: o.MaxExtentsBytes}
	c.http = httpc.New(httpc.Config{HTTPClient: o.HTTPClient, TLSConfig: o.TLSConfig, RootCAs: o.RootCAs,
		InsecureSkipVerify: o.InsecureSkipVerify, Retries: o.Retries, DefaultRetries: DefaultRetries,
		Backoff: o.Backoff, DefaultBackoff: DefaultBackoff, Logger: o.Logger,
		Name: "imageio", CertAdvice: "pass the engine CA in imageio.Options.RootCAs"})
	if c.maxBody <= 0 {
		c.maxBody = DefaultMaxExtentsBytes
	}
	return c, nil
}

// URL returns the transfer URL the client talks to.
func (c *Client) URL() string { return c.url.String() }

// Options asks the server what the ticket offers (OPTIONS /images/{ticket}).
//
// Errors: cbt.ErrInvalidArgument (401/403: the ticket expired, was removed
// when the transfer was finalized, or is wrong), cbt.ErrNotFound (404),
// cbt.ErrBusy (5xx or a transport failure after the retries), cbt.ErrCorrupt
// (an answer that is not the documented JSON).
func (c *Client) Options(ctx context.Context) (*ServerOptions, error) {
	var out ServerOptions
	err := c.do(ctx, http.MethodOptions, c.url.String(), "", func(resp *http.Response) error {
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxOptionsBytes+1))
		if err != nil {
			return err
		}
		if len(body) > maxOptionsBytes {
			return fmt.Errorf("%w: imageio: OPTIONS answer is larger than %d bytes", cbt.ErrCorrupt, maxOptionsBytes)
		}
		if err := json.Unmarshal(body, &out); err != nil {
			return fmt.Errorf("%w: imageio: OPTIONS answer is not the documented JSON: %v", cbt.ErrCorrupt, err)
		}
		for _, h := range resp.Header.Values("Allow") {
			for _, m := range strings.Split(h, ",") {
				if m = strings.TrimSpace(m); m != "" {
					out.Allow = append(out.Allow, m)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Extents returns the extents of the image in the given context
// (GET /images/{ticket}/extents?context=...): ContextZero for the
// allocation, ContextDirty for what changed since the from-checkpoint of an
// incremental backup. The extents are checked: they start at 0, ascend and
// are contiguous, each non-empty; the answer is bounded by
// Options.MaxExtentsBytes.
//
// Errors: cbt.ErrUnsupported (a dirty query on a ticket that has no dirty
// extents: the transfer is not part of an incremental backup, or the server
// cannot export the bitmap), cbt.ErrInvalidArgument (an unknown context;
// 401/403: the ticket expired or is wrong), cbt.ErrNotFound (404 on a zero
// query), cbt.ErrBusy (5xx or a transport failure after the retries),
// cbt.ErrCorrupt (an answer that breaks the documented shape).
func (c *Client) Extents(ctx context.Context, context string) ([]Extent, error) {
	if context != ContextZero && context != ContextDirty {
		return nil, fmt.Errorf("%w: imageio: extents context %q: want %q or %q", cbt.ErrInvalidArgument, context, ContextZero, ContextDirty)
	}
	u := *c.url
	u.Path = strings.TrimSuffix(u.Path, "/") + "/extents"
	u.RawQuery = url.Values{"context": {context}}.Encode()
	var exts []Extent
	err := c.do(ctx, http.MethodGet, u.String(), context, func(resp *http.Response) error {
		var err error
		exts, err = decodeExtents(resp.Body, c.maxBody)
		return err
	})
	return exts, err
}

// do runs one request, retrying 5xx answers and transport errors, and hands
// a 200 answer to read. ctxName is the extents context, for error advice.
func (c *Client) do(ctx context.Context, method, target, ctxName string, read func(*http.Response) error) error {
	return c.http.Retry(ctx, method, redactPath(c.url.Path), func() (bool, error) {
		return c.once(ctx, method, target, ctxName, read)
	})
}

// once runs the request one time; retry says whether a failure may pass.
func (c *Client) once(ctx context.Context, method, target, ctxName string, read func(*http.Response) error) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, method, target, nil)
	if err != nil {
		return false, fmt.Errorf("%w: imageio: %v", cbt.ErrInvalidArgument, err)
	}
	req.Header.Set("Accept", "application/json")
	c.http.Log.DebugContext(ctx, "imageio: request", "method", method, "path", redactPath(req.URL.Path), "query", req.URL.RawQuery)
	resp, retry, err := c.http.Send(ctx, req, method+" "+c.where())
	if err != nil {
		return retry, err
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
	}()
	if resp.StatusCode == http.StatusOK {
		if err := read(resp); err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return false, cerr
			}
			return false, err
		}
		return false, nil
	}
	msg := httpc.ReadMessage(resp.Body)
	herr := &HTTPError{Status: resp.StatusCode, Method: method, Path: redactPath(req.URL.Path), Message: msg}
	advice, retry, cls := classify(resp.StatusCode, ctxName)
	return retry, fmt.Errorf("%w: imageio: %s %s: %w%s", cls, method, c.where(), herr, advice)
}

// classify maps an imageio status to a class, advice and whether to retry.
func classify(status int, ctxName string) (advice string, retry bool, cls error) {
	switch {
	case status == http.StatusNotFound && ctxName == ContextDirty:
		return " (the ticket has no dirty extents: the transfer is not part of an incremental backup, or the disk's backup mode is full; list with a zero base instead)", false, cbt.ErrUnsupported
	case status == http.StatusNotFound:
		return " (the server does not know this resource: an imageio older than 2.0 has no extents API)", false, cbt.ErrNotFound
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return " (the ticket expired, was removed when the transfer was finalized or timed out, or the URL is wrong: start a new image transfer)", false, cbt.ErrInvalidArgument
	case status == http.StatusConflict:
		return " (the ticket is in use or being removed)", false, cbt.ErrBusy
	case status >= 500:
		return " (the imageio server failed, which may pass: try again later)", true, cbt.ErrBusy
	}
	return "", false, cbt.ErrUnsupported
}

// where names the ticket in messages by its first 8 characters: a ticket ID
// is a capability, so it is never printed whole.
func (c *Client) where() string {
	return c.url.Host + "/images/" + shortTicket(c.ticket)
}

func shortTicket(t string) string {
	if len(t) > 8 {
		return t[:8] + "…"
	}
	return t
}

// redactPath hides the ticket in a path for logs.
func redactPath(p string) string {
	before, ticket, ok := strings.Cut(p, "/images/")
	if !ok {
		return p
	}
	t, rest, _ := strings.Cut(ticket, "/")
	if rest != "" {
		rest = "/" + rest
	}
	return before + "/images/" + shortTicket(t) + rest
}

// redactURL prints a URL without credentials and with the ticket shortened.
func redactURL(u *url.URL) string {
	v := *u
	v.User = nil
	v.RawQuery = ""
	return v.Scheme + "://" + v.Host + redactPath(v.Path)
}
