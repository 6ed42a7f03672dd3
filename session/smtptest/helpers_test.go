package smtptest_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/postwire/postwire/session/smtptest"
)

// client is a minimal raw SMTP client for driving the server in tests.
type client struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

func newClient(t testing.TB, conn net.Conn) *client {
	t.Helper()
	// A safety net against a hung test, not a synchronisation device.
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { conn.Close() })
	return &client{t: t, conn: conn, r: bufio.NewReader(conn)}
}

// dial connects to s over the given transport: "pipe", "tcp" or "unix".
func dial(t *testing.T, s *smtptest.Server, how string) *client {
	t.Helper()
	switch how {
	case "pipe":
		return newClient(t, s.Pipe())
	case "tcp":
		addr, err := s.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("Listen tcp: %v", err)
		}
		conn, err := net.Dial("tcp", addr.String())
		if err != nil {
			t.Fatalf("Dial: %v", err)
		}
		return newClient(t, conn)
	case "unix":
		path := filepath.Join(t.TempDir(), "lmtp.sock")
		if _, err := s.Listen("unix", path); err != nil {
			t.Fatalf("Listen unix: %v", err)
		}
		conn, err := net.Dial("unix", path)
		if err != nil {
			t.Fatalf("Dial: %v", err)
		}
		return newClient(t, conn)
	}
	t.Fatalf("unknown transport %q", how)
	return nil
}

// startServer returns a server closed at the end of the test.
func startServer(t *testing.T, cfg smtptest.Config) *smtptest.Server {
	t.Helper()
	s := smtptest.NewServer(cfg)
	t.Cleanup(func() { s.Close() })
	return s
}

func (c *client) write(s string) {
	c.t.Helper()
	// n == len(s) with an error happens when the server closed right after
	// reading everything (QUIT): transport.Pipe then reports the close.
	if n, err := io.WriteString(c.conn, s); err != nil && n < len(s) {
		c.t.Fatalf("write %q: %v", s, err)
	}
}

// reply reads one complete (possibly multiline) reply, CRLFs included.
func (c *client) reply() string {
	c.t.Helper()
	s, err := c.tryReply()
	if err != nil {
		c.t.Fatalf("reading reply: %v (so far %q)", err, s)
	}
	return s
}

func (c *client) tryReply() (string, error) {
	var b strings.Builder
	for {
		line, err := c.r.ReadString('\n')
		b.WriteString(line)
		if err != nil {
			return b.String(), err
		}
		if len(line) < 4 || line[3] != '-' {
			return b.String(), nil
		}
	}
}

// cmd sends one command line and returns its reply.
func (c *client) cmd(line string) string {
	c.t.Helper()
	c.write(line + "\r\n")
	return c.reply()
}

// code returns the reply code and enhanced code of a reply's last line,
// e.g. "250 2.1.0" or "354".
func code(reply string) string {
	lines := strings.Split(strings.TrimSuffix(reply, "\r\n"), "\r\n")
	last := lines[len(lines)-1]
	f := strings.Fields(last)
	if len(f) >= 2 && len(f[1]) >= 5 && f[1][1] == '.' {
		return f[0] + " " + f[1]
	}
	if len(last) > 3 {
		return last[:3]
	}
	return last
}

// step is one line of a conversation and the code expected for it.
type step struct{ send, want string }

// converse runs steps and returns the codes got, for one cmp.Diff.
func (c *client) converse(steps []step) (got, want []string) {
	c.t.Helper()
	for _, s := range steps {
		got = append(got, s.send+" -> "+code(c.cmd(s.send)))
		want = append(want, s.send+" -> "+s.want)
	}
	return got, want
}

// expectEOF checks the server closed the connection.
func (c *client) expectEOF() {
	c.t.Helper()
	rest, err := io.ReadAll(c.r)
	if err != nil && !errors.Is(err, net.ErrClosed) {
		var ne net.Error
		if !errors.As(err, &ne) || ne.Timeout() {
			c.t.Fatalf("want EOF, got %v after %q", err, rest)
		}
	}
	if len(rest) != 0 {
		c.t.Fatalf("want EOF, got %q", rest)
	}
}

func waitConns(t *testing.T, s *smtptest.Server, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitConns(ctx, n); err != nil {
		t.Fatalf("WaitConns(%d): %v", n, err)
	}
}
