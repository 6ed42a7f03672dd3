package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	netsmtp "net/smtp"
	"strings"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/session/smtptest"
	"github.com/postwire/postwire/transport"
)

// localName is what every client sends in EHLO (postwire would otherwise look
// up the host's name, which is not what is being measured).
const localName = "bench.example"

// mailer is the part of a client the benchmarks drive: one message, one
// transaction, on a connection that is already greeted.
type mailer interface {
	send(from string, to []string, body *bytes.Reader) error
	quit() error
}

// client names one implementation and how to start it on a connection.
type client struct {
	name  string
	start func(conn net.Conn) (mailer, error)
}

// clients are the implementations compared. "postwire" uses what the server
// offers (PIPELINING and CHUNKING); "postwire-data" is told not to use
// CHUNKING, so it sends DATA with a dot-stuffed body like the peers do, still
// pipelined.
var clients = []client{
	{"postwire", func(c net.Conn) (mailer, error) { return startPostwire(c, &session.Options{LocalName: localName}) }},
	{"postwire-data", func(c net.Conn) (mailer, error) {
		return startPostwire(c, &session.Options{LocalName: localName, DisableChunking: true})
	}},
	{"netsmtp", startNetSMTP},
	{"gosmtp", startGoSMTP},
}

// postwireMailer drives session.Client.SendMail.
type postwireMailer struct{ c *session.Client }

func startPostwire(conn net.Conn, o *session.Options) (*postwireMailer, error) {
	ctx := context.Background()
	c, err := session.NewClient(ctx, conn, "localhost", o)
	if err != nil {
		return nil, err
	}
	if err := c.EhloOrHeloIfNeeded(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return &postwireMailer{c}, nil
}

func (m *postwireMailer) send(from string, to []string, body *bytes.Reader) error {
	_, err := m.c.SendMail(context.Background(), from, to, body, nil)
	return err
}

func (m *postwireMailer) quit() error {
	_, err := m.c.Quit(context.Background())
	return err
}

// netSMTPMailer drives net/smtp's Mail, Rcpt and Data: one command, one
// reply at a time.
type netSMTPMailer struct{ c *netsmtp.Client }

func startNetSMTP(conn net.Conn) (mailer, error) {
	c, err := netsmtp.NewClient(conn, "localhost")
	if err != nil {
		conn.Close()
		return nil, err
	}
	if err := c.Hello(localName); err != nil {
		c.Close()
		return nil, err
	}
	return &netSMTPMailer{c}, nil
}

func (m *netSMTPMailer) send(from string, to []string, body *bytes.Reader) error {
	if err := m.c.Mail(from); err != nil {
		return err
	}
	for _, rcpt := range to {
		if err := m.c.Rcpt(rcpt); err != nil {
			return err
		}
	}
	w, err := m.c.Data()
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, body); err != nil {
		return err
	}
	return w.Close()
}

func (m *netSMTPMailer) quit() error { return m.c.Quit() }

// goSMTPMailer drives go-smtp's Mail, Rcpt and Data (no pipelining either).
type goSMTPMailer struct{ c *gosmtp.Client }

func startGoSMTP(conn net.Conn) (mailer, error) {
	c := gosmtp.NewClient(conn)
	// Hello reads the greeting and sends EHLO now, outside any measurement.
	if err := c.Hello(localName); err != nil {
		c.Close()
		return nil, err
	}
	return &goSMTPMailer{c}, nil
}

func (m *goSMTPMailer) send(from string, to []string, body *bytes.Reader) error {
	if err := m.c.Mail(from, nil); err != nil {
		return err
	}
	for _, rcpt := range to {
		if err := m.c.Rcpt(rcpt, nil); err != nil {
			return err
		}
	}
	w, err := m.c.Data()
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, body); err != nil {
		return err
	}
	return w.Close()
}

func (m *goSMTPMailer) quit() error { return m.c.Quit() }

// startServer runs an smtptest server on loopback TCP. It advertises
// PIPELINING and CHUNKING (among its defaults); discard keeps no messages.
func startServer(tb testing.TB, discard bool) (*smtptest.Server, string) {
	tb.Helper()
	s := smtptest.NewServer(smtptest.Config{Hostname: "mx.bench.example", Discard: discard})
	addr, err := s.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("Listen: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("server Close: %v", err)
		}
	})
	return s, addr.String()
}

// connect dials addr and wraps the conn in a LatencyConn with the given
// round-trip time (0: no delay, round trips still counted), then starts c on
// it. The mailer is quit when the test ends.
func connect(tb testing.TB, addr string, rtt time.Duration, c client) (mailer, *transport.LatencyConn) {
	tb.Helper()
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatalf("dial %s: %v", addr, err)
	}
	lc := transport.NewLatencyConn(raw, rtt)
	m, err := c.start(lc)
	if err != nil {
		tb.Fatalf("%s: start: %v", c.name, err)
	}
	tb.Cleanup(func() {
		if err := m.quit(); err != nil {
			tb.Errorf("%s: quit: %v", c.name, err)
		}
	})
	return m, lc
}

// The envelope every benchmark uses.
const sender = "sender@example.org"

func recipients(n int) []string {
	to := make([]string, n)
	for i := range to {
		to[i] = fmt.Sprintf("rcpt%d@example.net", i)
	}
	return to
}

// makeBody returns a text message of exactly size bytes: a header block,
// then 76-character lines ending in CRLF, every 17th starting with '.' (as
// quoted-printable text may), the last line shorter to fit.
func makeBody(size int) []byte {
	var b bytes.Buffer
	b.Grow(size)
	b.WriteString("From: Sender <sender@example.org>\r\n" +
		"To: Recipient <rcpt0@example.net>\r\n" +
		"Subject: postwire benchmark message\r\n" +
		"Date: Mon, 23 Nov 2026 09:00:00 +0000\r\n" +
		"Message-ID: <bench.1@example.org>\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=us-ascii\r\n" +
		"\r\n")
	words := strings.Fields("lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua.")
	const lineLen = 76
	var line []byte
	for w, n := 0, 0; b.Len() < size; n++ {
		line = line[:0]
		if n%17 == 0 {
			line = append(line, '.')
		}
		for len(line) < lineLen {
			line = append(line, words[w%len(words)]...)
			line = append(line, ' ')
			w++
		}
		line = line[:max(0, min(lineLen, size-b.Len()-2))]
		b.Write(line)
		b.WriteString("\r\n")
	}
	return b.Bytes()
}
