package httpc

import (
	"fmt"
	"net/url"

	"github.com/changedblocks/sdk/cbt"
)

// ParseURL parses the URL of a server: http or https, with a host; its
// query and fragment are dropped. Errors are cbt.ErrInvalidArgument, named
// by what ("rhv: engine URL") and saying the form wanted; they print the
// URL through redact, which hides what must not be printed.
func ParseURL(raw, what, want string, redact func(*url.URL) string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", cbt.ErrInvalidArgument, what, err)
	}
	if u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("%w: %s %q: want %s", cbt.ErrInvalidArgument, what, redact(u), want)
	}
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}
