package session_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/postwire/postwire/protocol"
	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/session/smtptest"
)

// scriptConn plays a server that says its whole script whatever the client
// writes: reads return the script in pieces of at most chunk bytes (all of
// it when chunk is 0), then EOF; writes are recorded. Reads never block,
// so a test over it cannot hang. These tests are the regression tests of
// bugs found by fuzz.FuzzSessionHostileServer.
type scriptConn struct {
	mu      sync.Mutex
	script  []byte
	chunk   int
	written bytes.Buffer
	closed  bool
	rdl     time.Time
}

func newScriptConn(script string) *scriptConn { return &scriptConn{script: []byte(script)} }

func (c *scriptConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return 0, net.ErrClosed
	case !c.rdl.IsZero() && !time.Now().Before(c.rdl):
		return 0, os.ErrDeadlineExceeded
	case len(c.script) == 0:
		return 0, io.EOF
	}
	if c.chunk > 0 {
		p = p[:min(len(p), c.chunk)]
	}
	n := copy(p, c.script)
	c.script = c.script[n:]
	return n, nil
}

func (c *scriptConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	return c.written.Write(p)
}

func (c *scriptConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}

func (c *scriptConn) Written() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.written.String()
}

func (c *scriptConn) LocalAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 40000}
}
func (c *scriptConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 25), Port: 25}
}
func (c *scriptConn) SetDeadline(t time.Time) error {
	return c.SetReadDeadline(t)
}
func (c *scriptConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rdl = t
	return nil
}
func (c *scriptConn) SetWriteDeadline(time.Time) error { return nil }

// scripted returns a Client over a scriptConn playing script.
func scripted(t *testing.T, script string, o *session.Options) (*session.Client, *scriptConn) {
	t.Helper()
	conn := newScriptConn(script)
	if o == nil {
		o = opts()
	}
	c, err := session.NewClient(ctxTimeout(t), conn, serverName, o)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, conn
}

// A refused BDAT chunk fails the transaction (RFC 3030 §4.2): a later 2xx to
// BDAT LAST must not make the message (or, in LMTP, a recipient) count as
// delivered, and in LMTP the client must count the replies after LAST the
// way the core does, or every later reply is matched to the wrong command.
func TestChunkRefusedFailsTransaction(t *testing.T) {
	const body = "Subject: x\r\n\r\n0123456789abcdef\r\n" // 32 bytes: BDAT 16, BDAT 16, BDAT 0 LAST
	tests := []struct {
		name   string
		lmtp   bool
		script string
		// want: per message, "ok" or the error kind; per recipient, delivered or not
		wantMsgs  []string
		wantRcpts [][]bool
	}{{
		name: "SMTP",
		script: "220 mx\r\n250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n" +
			"250 ok\r\n250 ok\r\n250 ok\r\n" + // MAIL, RCPT, RCPT
			"554 5.6.0 chunk refused\r\n503 5.5.1 no transaction\r\n250 2.0.0 queued anyway\r\n" + // BDAT, BDAT, BDAT LAST
			"250 ok\r\n250 ok\r\n250 c\r\n250 c\r\n250 2.0.0 second queued\r\n221 bye\r\n",
		wantMsgs:  []string{"data", "ok"},
		wantRcpts: [][]bool{{false, false}, {true}},
	}, {
		name: "LMTP",
		lmtp: true,
		script: "220 mx\r\n250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n" +
			"250 ok\r\n250 ok\r\n250 ok\r\n" +
			"554 5.6.0 chunk refused\r\n503 5.5.1 no transaction\r\n" +
			"503 5.5.1 no transaction\r\n" + // the one reply to LAST of a failed transaction
			"250 ok\r\n250 ok\r\n250 c\r\n250 c\r\n250 2.0.0 r2 saved\r\n221 bye\r\n",
		wantMsgs:  []string{"data", "ok"},
		wantRcpts: [][]bool{{false, false}, {true}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := opts()
			o.LMTP = tt.lmtp
			o.ChunkSize = 16
			c, conn := scripted(t, tt.script, o)
			res := c.SendBatch(ctxTimeout(t), []session.Envelope{
				{From: "a@x.test", To: []string{"b@y.test", "c@y.test"}, Body: strings.NewReader(body)},
				{From: "d@x.test", To: []string{"e@y.test"}, Body: strings.NewReader(body)},
			})
			var gotMsgs []string
			var gotRcpts [][]bool
			for _, r := range res {
				var de *session.DataError
				switch {
				case r.Err == nil:
					gotMsgs = append(gotMsgs, "ok")
				case errors.As(r.Err, &de):
					gotMsgs = append(gotMsgs, "data")
				default:
					gotMsgs = append(gotMsgs, r.Err.Error())
				}
				var rs []bool
				if r.Result != nil {
					for _, rr := range r.Result.Recipients {
						rs = append(rs, rr.Err == nil)
					}
				}
				gotRcpts = append(gotRcpts, rs)
			}
			if diff := cmp.Diff(tt.wantMsgs, gotMsgs); diff != "" {
				t.Errorf("messages (-want +got):\n%s\nwritten:\n%s", diff, conn.Written())
			}
			if diff := cmp.Diff(tt.wantRcpts, gotRcpts); diff != "" {
				t.Errorf("recipients delivered (-want +got):\n%s", diff)
			}
			if _, err := c.Quit(ctxTimeout(t)); err != nil {
				t.Errorf("Quit: %v (replies and commands out of step)", err)
			}
		})
	}
}

// RFC 5321 §4.2.1: the first digit decides; the core takes any 3xx to DATA
// as "send the data". The session must agree, or it leaves the core waiting
// for a body it never sends (every later command fails) while the server
// waits for the data.
func TestDataIntermediateNot354(t *testing.T) {
	t.Run("SendMail", func(t *testing.T) {
		const script = "220 mx\r\n250-mx\r\n250 PIPELINING\r\n250 ok\r\n250 ok\r\n" +
			"350 send it\r\n250 2.0.0 queued\r\n250 ok\r\n221 bye\r\n"
		c, conn := scripted(t, script, nil)
		ctx := ctxTimeout(t)
		if _, err := c.SendMail(ctx, "a@x.test", []string{"b@y.test"}, strings.NewReader("hello\r\n"), nil); err != nil {
			t.Fatalf("SendMail: %v", err)
		}
		if _, err := c.Noop(ctx); err != nil {
			t.Errorf("Noop after the message: %v", err)
		}
		if got, want := conn.Written(), "EHLO client.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\nhello\r\n.\r\nNOOP\r\n"; got != want {
			t.Errorf("wrote %q, want %q", got, want)
		}
	})
	t.Run("Data", func(t *testing.T) {
		const script = "220 mx\r\n250 mx\r\n250 ok\r\n250 ok\r\n350 send it\r\n250 2.0.0 queued\r\n250 ok\r\n"
		c, conn := scripted(t, script, nil)
		ctx := ctxTimeout(t)
		if _, err := c.Mail(ctx, "a@x.test"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Rcpt(ctx, "b@y.test"); err != nil {
			t.Fatal(err)
		}
		r, err := c.Data(ctx, strings.NewReader("hello\r\n"))
		if err != nil || r.Code != 250 {
			t.Fatalf("Data = %v, %v; want the 250", r, err)
		}
		if _, err := c.Noop(ctx); err != nil {
			t.Errorf("Noop after the message: %v", err)
		}
		if got, want := conn.Written(), "EHLO client.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\nhello\r\n.\r\nNOOP\r\n"; got != want {
			t.Errorf("wrote %q, want %q", got, want)
		}
	})
}

// dripConn is a scriptConn whose script, once read, is followed by an
// endless multiline reply given one byte per millisecond: a server that
// never finishes its reply. Reads honour the read deadline.
type dripConn struct {
	*scriptConn
	line string
	off  int
}

func (d *dripConn) Read(p []byte) (int, error) {
	d.mu.Lock()
	more := len(d.script) > 0
	dl := d.rdl
	d.mu.Unlock()
	if more {
		return d.scriptConn.Read(p)
	}
	wake := time.Now().Add(time.Millisecond)
	if !dl.IsZero() && dl.Before(wake) {
		time.Sleep(time.Until(dl))
		return 0, os.ErrDeadlineExceeded
	}
	time.Sleep(time.Until(wake))
	if len(p) == 0 {
		return 0, nil
	}
	p[0] = d.line[d.off]
	d.off = (d.off + 1) % len(d.line)
	return 1, nil
}

// The per-command time-out bounds the wait for the whole reply, not each
// read: a server dripping a byte at a time must not hold the client for as
// long as it likes (MaxLineLength × MaxReplyLines reads, hours, when the
// caller's context has no deadline).
func TestTimeoutDripFeed(t *testing.T) {
	conn := &dripConn{scriptConn: newScriptConn("220 mx\r\n"), line: "250-still talking\r\n"}
	o := opts()
	o.Timeouts.Other = 50 * time.Millisecond
	c, err := session.NewClient(ctxTimeout(t), conn, serverName, o)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = c.Noop(ctx)
	if !errors.Is(err, session.ErrTimeout) {
		t.Fatalf("Noop error = %v, want ErrTimeout (the time-out is per reply)", err)
	}
}

// A RCPT parameter the server did not advertise is refused by the core
// when the RCPT is queued, after the MAIL: the transaction must be ended
// (RSET), not left open so that the next MAIL is refused.
func TestRcptParamNotAdvertised(t *testing.T) {
	const script = "220 mx\r\n250-mx\r\n250 PIPELINING\r\n" +
		"250 ok\r\n250 reset\r\n" + // MAIL, RSET of the failed message
		"250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n221 bye\r\n"
	c, conn := scripted(t, script, nil)
	ctx := ctxTimeout(t)
	_, err := c.SendMail(ctx, "a@x.test", []string{"b@y.test"}, strings.NewReader("x\r\n"),
		&session.SendOptions{RcptParams: []protocol.Param{{Key: "XFOO", Value: "1"}}})
	if !errors.Is(err, session.ErrNotSupported) {
		t.Fatalf("SendMail error = %v, want ErrNotSupported", err)
	}
	if _, err := c.SendMail(ctx, "a@x.test", []string{"b@y.test"}, strings.NewReader("x\r\n"), nil); err != nil {
		t.Fatalf("the next SendMail: %v\nwrote:\n%s", err, conn.Written())
	}
	if _, err := c.Quit(ctx); err != nil {
		t.Errorf("Quit: %v", err)
	}
}

// SendMessage finds the end of the header block however the reader splits
// it (a byte at a time here), in time linear in the header's size: a large
// header given a byte per Read must not cost a rescan per byte.
func TestSendMessageHeaderOneByteReads(t *testing.T) {
	pad := strings.Repeat("X-Pad: "+strings.Repeat("p", 70)+"\r\n", 4000) // ~310 KB
	tests := []struct {
		name, msg, wantData string
	}{
		{"CRLF", "From: a@x.test\r\nTo: b@y.test\r\n\r\nbody\r\n", "From: a@x.test\r\nTo: b@y.test\r\n\r\nbody\r\n"},
		{"bare LF", "From: a@x.test\nTo: b@y.test\n\nbody\n", "From: a@x.test\r\nTo: b@y.test\r\n\r\nbody\r\n"},
		{"Bcc after a long line", "From: a@x.test\r\nSubject: " + strings.Repeat("s", 5000) + "\r\nTo: b@y.test\r\nBcc: c@y.test\r\n\r\nbody\r\n",
			"From: a@x.test\r\nSubject: " + strings.Repeat("s", 5000) + "\r\nTo: b@y.test\r\n\r\nbody\r\n"},
		{"large header, no body", "From: a@x.test\r\nTo: b@y.test\r\n" + pad, "From: a@x.test\r\nTo: b@y.test\r\n" + pad + "\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, smtptest.Config{})
			c := connect(t, transports[0], s, nil)
			if _, err := c.SendMessage(ctxTimeout(t), iotest.OneByteReader(strings.NewReader(tt.msg)), nil); err != nil {
				t.Fatalf("SendMessage: %v", err)
			}
			msgs := s.Messages()
			if len(msgs) != 1 {
				t.Fatalf("stored %d messages", len(msgs))
			}
			if diff := cmp.Diff(tt.wantData, string(msgs[0].Data)); diff != "" {
				t.Errorf("data (-want +got):\n%s", diff)
			}
		})
	}
}
