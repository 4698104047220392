package httpc

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/changedblocks/sdk/cbt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Retry tries once plus the retries, says how many were made, stops at the
// first failure that may not pass, and returns a context's error as it is.
func TestRetry(t *testing.T) {
	c := New(Config{Retries: 2, DefaultRetries: 3, Backoff: time.Millisecond})
	tries := 0
	err := c.Retry(t.Context(), "GET", "/x", func() (bool, error) { tries++; return true, errors.New("down") })
	require.Error(t, err)
	assert.Equal(t, 3, tries)
	assert.Contains(t, err.Error(), "after 2 retries")

	tries = 0
	err = c.Retry(t.Context(), "GET", "/x", func() (bool, error) { tries++; return false, errors.New("refused") })
	assert.Equal(t, 1, tries)
	assert.EqualError(t, err, "refused")

	ctx, cancel := context.WithCancel(t.Context())
	err = c.Retry(ctx, "GET", "/x", func() (bool, error) { cancel(); return true, errors.New("down") })
	assert.ErrorIs(t, err, context.Canceled)

	assert.Equal(t, 3, New(Config{DefaultRetries: 3}).retries, "0 means the default")
	assert.Equal(t, 0, New(Config{Retries: -1, DefaultRetries: 3}).retries, "negative means none")
}

func TestParseURL(t *testing.T) {
	redact := func(u *url.URL) string { return u.Host }
	u, err := ParseURL("https://h:1/p?q=1#f", "x URL", "https://h/p", redact)
	require.NoError(t, err)
	assert.Equal(t, "https://h:1/p", u.String())
	for _, s := range []string{"", "ftp://h/p", "https:///p", "://"} {
		_, err := ParseURL(s, "x URL", "https://h/p", redact)
		assert.ErrorIs(t, err, cbt.ErrInvalidArgument, s)
	}
}

func TestOneLine(t *testing.T) {
	assert.Equal(t, "a b c", OneLine([]byte("  a\n b\t\tc \n")))
	long := OneLine(bytes.Repeat([]byte("x"), 600))
	assert.Equal(t, maxMessage+len("…"), len(long))
}
