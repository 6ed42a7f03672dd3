//go:build interop

package interop

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/postwire/postwire/session"
)

// mustEnv returns the environment variable run.sh sets, failing the test when it is missing.
func mustEnv(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: the interop tests need the real servers that `make interop` "+
			"(scripts/interop/run.sh) starts; run `make interop`", name)
	}
	return v
}

// testContext bounds one test's conversation with a server.
func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var senderSeq atomic.Int64

// uniqueSender returns an envelope sender no other message of this run uses: the servers'
// stores are searched by it.
func uniqueSender(tag string) string {
	tag = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, strings.ToLower(tag))
	return fmt.Sprintf("%s-%d-%d@postwire.test", tag, os.Getpid(), senderSeq.Add(1))
}

// tlsConfig trusts the test CA that run.sh generated (POSTWIRE_INTEROP_CA) and nothing else.
func tlsConfig(t testing.TB) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(mustEnv(t, "POSTWIRE_INTEROP_CA"))
	if err != nil {
		t.Fatalf("reading the test CA: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("POSTWIRE_INTEROP_CA holds no certificate")
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// waitFor calls find until it reports found, for at most 10 s: the servers store a message
// before they answer the end of data, but smtp-sink's dump file and Dovecot's Maildir are
// read through the file system, so a short bounded poll keeps the test robust.
func waitFor[T any](t testing.TB, what string, find func() (T, bool, error)) T {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, ok, err := find()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if ok {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not found after 10 s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkBytes compares what arrived with what must arrive. Large messages are compared by
// length and first difference, with a cmp.Diff of the region around it.
func checkBytes(t testing.TB, what string, want, got []byte) {
	t.Helper()
	if bytes.Equal(want, got) {
		return
	}
	if len(want) <= 64<<10 && len(got) <= 64<<10 {
		t.Errorf("%s: stored message differs (-want +got):\n%s", what, cmp.Diff(string(want), string(got)))
		return
	}
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	lo := max(i-200, 0)
	t.Errorf("%s: stored message differs: want %d bytes, got %d; first difference at offset %d (-want +got):\n%s",
		what, len(want), len(got), i, cmp.Diff(string(want[lo:min(i+200, len(want))]), string(got[lo:min(i+200, len(got))])))
}

// wireLog is a net.Conn that records each Write, so a test can tell which commands went out
// together (PIPELINING) and which command carried the body (BDAT or DATA).
type wireLog struct {
	net.Conn
	mu     sync.Mutex
	writes [][]byte
}

func (w *wireLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	// Only the start of each write is kept: enough to see the commands.
	w.writes = append(w.writes, bytes.Clone(p[:min(len(p), 4096)]))
	w.mu.Unlock()
	return w.Conn.Write(p)
}

// Writes returns the start of every write so far.
func (w *wireLog) Writes() [][]byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([][]byte(nil), w.writes...)
}

// writeWith returns the first recorded write holding s.
func (w *wireLog) writeWith(s string) []byte {
	for _, p := range w.Writes() {
		if bytes.Contains(p, []byte(s)) {
			return p
		}
	}
	return nil
}

// lineLog collects the session's debug log lines (Options.Logger).
type lineLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *lineLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *lineLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *lineLog) WithGroup(string) slog.Handler            { return l }
func (l *lineLog) Handle(_ context.Context, r slog.Record) error {
	var dir, line string
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "direction":
			dir = a.Value.String()
		case "line":
			line = a.Value.String()
		}
		return true
	})
	l.mu.Lock()
	l.lines = append(l.lines, dir+" "+line)
	l.mu.Unlock()
	return nil
}

// newLogger returns a logger that records into l.
func newLogger(l *lineLog) *slog.Logger { return slog.New(l) }

// Sent returns the lines the client logged as sent.
func (l *lineLog) Sent() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, s := range l.lines {
		if rest, ok := strings.CutPrefix(s, "send "); ok {
			out = append(out, rest)
		}
	}
	return out
}

// All returns every logged line.
func (l *lineLog) All() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// dialPlain connects to an SMTP server at addr with the tests' EHLO name and
// no TLS; the client is closed when the test ends.
func dialPlain(t testing.TB, ctx context.Context, addr string) *session.Client {
	t.Helper()
	c, err := session.Dial(ctx, addr, &session.Options{LocalName: "client.postwire.test"})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
