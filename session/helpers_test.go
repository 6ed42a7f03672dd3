package session_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/session/smtptest"
)

// serverName is the host name tests dial and certificates are made for.
const serverName = "mx.test"

// transportKind is one way to connect a client to a smtptest server.
type transportKind struct {
	name    string
	connect func(t *testing.T, s *smtptest.Server) net.Conn
}

// transports: every end-to-end test runs over an in-memory pipe and over
// loopback TCP.
var transports = []transportKind{
	{"pipe", func(t *testing.T, s *smtptest.Server) net.Conn { return s.Pipe() }},
	{"tcp", func(t *testing.T, s *smtptest.Server) net.Conn {
		t.Helper()
		addr, err := s.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("Listen: %v", err)
		}
		conn, err := net.Dial("tcp", addr.String())
		if err != nil {
			t.Fatalf("Dial: %v", err)
		}
		return conn
	}},
}

// forEachTransport runs f as a subtest per transport.
func forEachTransport(t *testing.T, f func(t *testing.T, tr transportKind)) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) { f(t, tr) })
	}
}

// opts returns test options: a fixed EHLO name.
func opts() *session.Options {
	return &session.Options{LocalName: "client.test"}
}

// newServer starts a smtptest server closed at the end of the test.
func newServer(t *testing.T, cfg smtptest.Config) *smtptest.Server {
	t.Helper()
	if cfg.Hostname == "" {
		cfg.Hostname = serverName
	}
	s := smtptest.NewServer(cfg)
	t.Cleanup(func() { s.Close() })
	return s
}

// connect opens a session over tr to s.
func connect(t *testing.T, tr transportKind, s *smtptest.Server, o *session.Options) *session.Client {
	t.Helper()
	if o == nil {
		o = opts()
	}
	c, err := session.NewClient(context.Background(), tr.connect(t, s), serverName, o)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// countingConn counts Write calls (flushes).
type countingConn struct {
	net.Conn
	writes atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// remoteConn reports a fixed, non-loopback remote address.
type remoteConn struct {
	net.Conn
}

func (remoteConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 25), Port: 25}
}

// logBuffer is a concurrency-safe buffer for slog output.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newLogger(b *logBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// ctxTimeout returns a context that fails a stuck test rather than hang it.
func ctxTimeout(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}
