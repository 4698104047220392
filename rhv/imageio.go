package rhv

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
	"strings"
	"time"

	"github.com/changedblocks/sdk/cbt"
)

// Defaults of ImageioOptions.
const (
	// DefaultImageioRetries is how many times a request that failed with a
	// server error (5xx) or a transport error is retried.
	DefaultImageioRetries = 3
	// DefaultImageioBackoff is the first wait before a retry; it doubles with
	// every retry.
	DefaultImageioBackoff = 500 * time.Millisecond
	// DefaultMaxExtentsBytes bounds the body of one extents answer (about 2.5
	// million extents).
	DefaultMaxExtentsBytes = 128 << 20
	// ioMaxOptionsBytes bounds the body of an OPTIONS answer and of an error.
	ioMaxOptionsBytes = 1 << 20
)

// ImageioOptions tunes an ImageioClient. A nil *ImageioOptions means the
// defaults: certificates checked against the system roots, DefaultImageioRetries
// retries, silent.
type ImageioOptions struct {
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
	// 0 means DefaultImageioRetries, a negative value none.
	Retries int
	// Backoff is the first wait before a retry; 0 means DefaultImageioBackoff.
	Backoff time.Duration
	// MaxExtentsBytes bounds an extents answer; 0 means DefaultMaxExtentsBytes.
	MaxExtentsBytes int64
	// Logger receives a debug record per request and a warning per retry; nil
	// is silent.
	Logger *slog.Logger
}

// ImageioClient talks to the ovirt-imageio server of one image transfer: the
// transfer URL (https://host:54322/images/<ticket>) or the engine proxy's
// (port 54323). It is safe for concurrent use.
type ImageioClient struct {
	url     *url.URL // the transfer URL, without query
	ticket  string   // last path element, for messages (never logged in full)
	hc      *http.Client
	retries int
	backoff time.Duration
	maxBody int64
	log     *slog.Logger
}

// ImageioServerOptions is the answer to OPTIONS /images/{ticket}.
type ImageioServerOptions struct {
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
func (o *ImageioServerOptions) Has(f string) bool {
	for _, x := range o.Features {
		if x == f {
			return true
		}
	}
	return false
}

// NewImageioClient returns a client of the transfer at transferURL (an
// ImageTransfer's transfer_url or proxy_url). Certificates are checked unless
// opts.InsecureSkipVerify is set. It returns cbt.ErrInvalidArgument for a URL
// that is not an https (or, for tests, http) URL of the form .../images/<ticket>.
func NewImageioClient(transferURL string, opts *ImageioOptions) (*ImageioClient, error) {
	var o ImageioOptions
	if opts != nil {
		o = *opts
	}
	u, err := url.Parse(transferURL)
	if err != nil {
		return nil, fmt.Errorf("%w: imageio: transfer URL: %v", cbt.ErrInvalidArgument, err)
	}
	if u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("%w: imageio: transfer URL %q: want https://host:port/images/<ticket>", cbt.ErrInvalidArgument, ioRedactURL(u))
	}
	_, ticket, _ := strings.Cut(strings.TrimSuffix(u.Path, "/"), "/images/")
	if ticket == "" || strings.Contains(ticket, "/") {
		return nil, fmt.Errorf("%w: imageio: transfer URL %q: want a path ending in /images/<ticket>", cbt.ErrInvalidArgument, ioRedactURL(u))
	}
	u.RawQuery, u.Fragment = "", ""
	c := &ImageioClient{url: u, ticket: ticket, hc: o.HTTPClient, log: o.Logger,
		retries: o.Retries, backoff: o.Backoff, maxBody: o.MaxExtentsBytes}
	if c.hc == nil {
		c.hc = &http.Client{Transport: engTransport(o.TLSConfig, o.RootCAs, o.InsecureSkipVerify)}
	}
	switch {
	case c.retries == 0:
		c.retries = DefaultImageioRetries
	case c.retries < 0:
		c.retries = 0
	}
	if c.backoff <= 0 {
		c.backoff = DefaultImageioBackoff
	}
	if c.maxBody <= 0 {
		c.maxBody = DefaultMaxExtentsBytes
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// URL returns the transfer URL the client talks to.
func (c *ImageioClient) URL() string { return c.url.String() }

// Options asks the server what the ticket offers (OPTIONS /images/{ticket}).
//
// Errors: cbt.ErrInvalidArgument (401/403: the ticket expired, was removed
// when the transfer was finalized, or is wrong), cbt.ErrNotFound (404),
// cbt.ErrBusy (5xx or a transport failure after the retries), cbt.ErrCorrupt
// (an answer that is not the documented JSON).
func (c *ImageioClient) Options(ctx context.Context) (*ImageioServerOptions, error) {
	var out ImageioServerOptions
	err := c.do(ctx, http.MethodOptions, c.url.String(), "", func(resp *http.Response) error {
		body, err := io.ReadAll(io.LimitReader(resp.Body, ioMaxOptionsBytes+1))
		if err != nil {
			return err
		}
		if len(body) > ioMaxOptionsBytes {
			return fmt.Errorf("%w: imageio: OPTIONS answer is larger than %d bytes", cbt.ErrCorrupt, ioMaxOptionsBytes)
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
// ImageioOptions.MaxExtentsBytes.
//
// Errors: cbt.ErrUnsupported (a dirty query on a ticket that has no dirty
// extents: the transfer is not part of an incremental backup, or the server
// cannot export the bitmap), cbt.ErrInvalidArgument (an unknown context;
// 401/403: the ticket expired or is wrong), cbt.ErrNotFound (404 on a zero
// query), cbt.ErrBusy (5xx or a transport failure after the retries),
// cbt.ErrCorrupt (an answer that breaks the documented shape).
func (c *ImageioClient) Extents(ctx context.Context, context string) ([]ImageioExtent, error) {
	if context != ContextZero && context != ContextDirty {
		return nil, fmt.Errorf("%w: imageio: extents context %q: want %q or %q", cbt.ErrInvalidArgument, context, ContextZero, ContextDirty)
	}
	u := *c.url
	u.Path = strings.TrimSuffix(u.Path, "/") + "/extents"
	u.RawQuery = url.Values{"context": {context}}.Encode()
	var exts []ImageioExtent
	err := c.do(ctx, http.MethodGet, u.String(), context, func(resp *http.Response) error {
		var err error
		exts, err = ioDecodeExtents(resp.Body, c.maxBody)
		return err
	})
	return exts, err
}

// do runs one request, retrying 5xx answers and transport errors, and hands
// a 200 answer to read. ctxName is the extents context, for error advice.
func (c *ImageioClient) do(ctx context.Context, method, target, ctxName string, read func(*http.Response) error) error {
	for try := 0; ; try++ {
		retry, err := c.once(ctx, method, target, ctxName, read)
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
		c.log.WarnContext(ctx, "imageio: request failed; retrying", "method", method, "retry", try+1, "error", err)
		if werr := engSleep(ctx, engBackoff(c.backoff, try)); werr != nil {
			return werr
		}
	}
}

// once runs the request one time; retry says whether a failure may pass.
func (c *ImageioClient) once(ctx context.Context, method, target, ctxName string, read func(*http.Response) error) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, method, target, nil)
	if err != nil {
		return false, fmt.Errorf("%w: imageio: %v", cbt.ErrInvalidArgument, err)
	}
	req.Header.Set("Accept", "application/json")
	c.log.DebugContext(ctx, "imageio: request", "method", method, "path", ioRedactPath(req.URL.Path), "query", req.URL.RawQuery)
	resp, err := c.hc.Do(req)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return false, cerr
		}
		if engCertError(err) {
			return false, fmt.Errorf("%w: imageio: %s %s: the server's certificate is not trusted: %w (pass the engine CA in ImageioOptions.RootCAs)",
				cbt.ErrInvalidArgument, method, c.where(), err)
		}
		return true, fmt.Errorf("%w: imageio: %s %s: %w", cbt.ErrBusy, method, c.where(), err)
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
	msg := engReadMessage(resp.Body)
	herr := &HTTPError{Status: resp.StatusCode, Method: method, Path: ioRedactPath(req.URL.Path), Message: msg}
	advice, retry, cls := c.classify(resp.StatusCode, ctxName)
	return retry, fmt.Errorf("%w: imageio: %s %s: %w%s", cls, method, c.where(), herr, advice)
}

// classify maps an imageio status to a class, advice and whether to retry.
func (c *ImageioClient) classify(status int, ctxName string) (advice string, retry bool, cls error) {
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
func (c *ImageioClient) where() string {
	return c.url.Host + "/images/" + ioShortTicket(c.ticket)
}

func ioShortTicket(t string) string {
	if len(t) > 8 {
		return t[:8] + "…"
	}
	return t
}

// ioRedactPath hides the ticket in a path for logs.
func ioRedactPath(p string) string {
	before, ticket, ok := strings.Cut(p, "/images/")
	if !ok {
		return p
	}
	t, rest, _ := strings.Cut(ticket, "/")
	if rest != "" {
		rest = "/" + rest
	}
	return before + "/images/" + ioShortTicket(t) + rest
}

// ioRedactURL prints a URL without credentials and with the ticket shortened.
func ioRedactURL(u *url.URL) string {
	v := *u
	v.User = nil
	v.RawQuery = ""
	return v.Scheme + "://" + v.Host + ioRedactPath(v.Path)
}
