package rhv

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/changedblocks/sdk/cbt"
)

// HTTPError is an error answer of the engine or of imageio: its status and
// what the server said. The engine's fault ({"reason": ..., "detail": ...})
// fills Reason and Detail; imageio's plain-text message fills Message. Errors
// of this package wrap it with a cbt class; reach it with errors.As.
type HTTPError struct {
	Status  int
	Method  string
	Path    string // the resource, without the host; a ticket is shortened
	Reason  string // engine fault reason ("Operation Failed")
	Detail  string // engine fault detail ("[Cannot backup VM. ...]")
	Message string // the body otherwise, shortened
}

func (e *HTTPError) Error() string {
	var b strings.Builder
	b.WriteString("HTTP ")
	b.WriteString(http.StatusText(e.Status))
	if b.Len() == len("HTTP ") {
		b.WriteString("status")
	}
	b.WriteString(" (")
	b.WriteString(strconv.Itoa(e.Status))
	b.WriteString(")")
	switch {
	case e.Reason != "" || e.Detail != "":
		b.WriteString(": ")
		b.WriteString(e.Reason)
		if e.Detail != "" {
			if e.Reason != "" {
				b.WriteString(": ")
			}
			b.WriteString(e.Detail)
		}
	case e.Message != "":
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// engMaxMessage bounds the part of an error body kept in a message.
const engMaxMessage = 512

// engReadMessage reads an error body (bounded) and returns it as one short
// line of valid UTF-8.
func engReadMessage(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, 64<<10))
	return engOneLine(b)
}

func engOneLine(b []byte) string {
	b = bytes.TrimSpace(b)
	s := strings.ToValidUTF8(string(b), "?")
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > engMaxMessage {
		cut := engMaxMessage
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// engFault decodes an engine error body: {"reason","detail"} at the top
// (the JSON form drops the <fault> root) or under "fault" (an action's
// answer). ok is false when the body is not such JSON.
func engFault(body []byte) (reason, detail string, ok bool) {
	var f struct {
		Reason string `json:"reason"`
		Detail string `json:"detail"`
		Fault  *struct {
			Reason string `json:"reason"`
			Detail string `json:"detail"`
		} `json:"fault"`
	}
	if json.Unmarshal(body, &f) != nil {
		return "", "", false
	}
	if f.Fault != nil {
		f.Reason, f.Detail = f.Fault.Reason, f.Fault.Detail
	}
	if f.Reason == "" && f.Detail == "" {
		return "", "", false
	}
	return engOneLine([]byte(f.Reason)), engOneLine([]byte(f.Detail)), true
}

// engCertError reports whether err is a failed certificate check.
func engCertError(err error) bool {
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	var tv *tls.CertificateVerificationError
	return errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci) || errors.As(err, &tv)
}

// engTransport returns an HTTP transport with the TLS policy asked for:
// certificates are checked unless insecure is set.
func engTransport(cfg *tls.Config, roots *x509.CertPool, insecure bool) *http.Transport {
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

// engSleep waits d or until ctx ends.
func engSleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// engBackoff is the wait before retry number try (0-based): base doubled per
// try, at most 16 times base.
func engBackoff(base time.Duration, try int) time.Duration {
	return base << min(try, 4)
}

// engStatusClass maps an engine HTTP status to a cbt class, advice, and
// whether the request may be retried.
func engStatusClass(status int) (advice string, retry bool, cls error) {
	switch {
	case status == http.StatusNotFound:
		return " (the VM, disk, backup or transfer does not exist, or the user may not see it)", false, cbt.ErrNotFound
	case status == http.StatusConflict:
		return " (another operation holds the VM or disk, such as a backup in progress: finalize it or wait, then try again)", false, cbt.ErrBusy
	case status == http.StatusUnauthorized:
		return " (the engine refused the credentials or the token expired: log in again)", false, cbt.ErrInvalidArgument
	case status == http.StatusForbidden:
		return " (the user lacks the permission: grant the backup role on the VM)", false, cbt.ErrUnsupported
	case status == http.StatusBadRequest:
		return "", false, cbt.ErrInvalidArgument
	case status >= 500:
		return " (the engine failed, which may pass: try again later)", true, cbt.ErrBusy
	}
	return "", false, cbt.ErrUnsupported
}
