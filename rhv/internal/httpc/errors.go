package httpc

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// HTTPError is an error answer of the engine or of imageio: its status and
// what the server said. The engine's fault ({"reason": ..., "detail": ...})
// fills Reason and Detail; imageio's plain-text message fills Message. The
// clients wrap it with a cbt class; reach it with errors.As.
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

// maxMessage bounds the part of an error body kept in a message.
const maxMessage = 512

// ReadMessage reads an error body (at most 64 KiB) and returns it as one
// short line of valid UTF-8.
func ReadMessage(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, 64<<10))
	return OneLine(b)
}

// OneLine returns b as one line of valid UTF-8 of at most 512 bytes and an
// ellipsis, its runs of white space made one space.
func OneLine(b []byte) string {
	b = bytes.TrimSpace(b)
	s := strings.ToValidUTF8(string(b), "?")
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxMessage {
		cut := maxMessage
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
