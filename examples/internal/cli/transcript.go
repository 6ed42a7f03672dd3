// Package cli holds the little pieces the example programs share: a
// log/slog handler that prints the session's debug records as a readable
// transcript, one-line descriptions of the session's errors, and the -tls
// flag. It is internal to the examples; nothing in it is needed to use
// postwire.
package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// Transcript is a slog.Handler that writes the records of
// session.Options.Logger as an SMTP transcript:
//
//	S: 220 mx.example ESMTP
//	C: EHLO client.example
//	   [TLS handshake]
//
// "C:" lines were sent by the client, "S:" lines by the server; notes from
// the session (the TLS handshake, message data summarised by size) are
// indented in brackets. The session has already replaced AUTH payloads with
// "[redacted]". Records that do not come from the session are written as
// "message key=value ...". A Transcript is safe for concurrent use.
type Transcript struct {
	mu    *sync.Mutex
	w     io.Writer
	attrs []slog.Attr
}

// NewTranscript returns a Transcript writing to w.
func NewTranscript(w io.Writer) *Transcript {
	return &Transcript{mu: new(sync.Mutex), w: w}
}

// Logger returns a *slog.Logger for session.Options.Logger that writes a
// transcript to w.
func Logger(w io.Writer) *slog.Logger { return slog.New(NewTranscript(w)) }

// Enabled reports true for every level: the session logs at Debug.
func (h *Transcript) Enabled(context.Context, slog.Level) bool { return true }

// Handle writes one line for r. Write errors are returned as is.
func (h *Transcript) Handle(_ context.Context, r slog.Record) error {
	var dir, line string
	var rest []string
	visit := func(a slog.Attr) bool {
		switch a.Key {
		case "direction":
			dir = a.Value.String()
		case "line":
			line = a.Value.String()
		default:
			rest = append(rest, a.Key+"="+a.Value.String())
		}
		return true
	}
	for _, a := range h.attrs {
		visit(a)
	}
	r.Attrs(visit)

	var out string
	switch dir {
	case "send":
		out = "C: " + line
	case "recv":
		out = "S: " + line
	case "note":
		out = "   [" + line + "]"
	default:
		out = strings.Join(append([]string{r.Message}, rest...), " ")
		if line != "" {
			out += " line=" + line
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := fmt.Fprintln(h.w, out)
	return err
}

// WithAttrs returns a handler that adds attrs to every record.
func (h *Transcript) WithAttrs(attrs []slog.Attr) slog.Handler {
	h2 := *h
	h2.attrs = append(h.attrs[:len(h.attrs):len(h.attrs)], attrs...)
	return &h2
}

// WithGroup returns h: a transcript has no structure to group into.
func (h *Transcript) WithGroup(string) slog.Handler { return h }
