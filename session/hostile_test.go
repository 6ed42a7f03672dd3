package session_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
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

// scriptConn plays a server that says its script, reply by reply, as
// fast as the client's commands allow: a reply is released only once the
// client has written the command it answers (the greeting at once; an
// LMTP end of data releases one reply per accepted recipient), so the
// server never answers what it has not read. With eager set it says the
// whole script at once, whatever the client wrote (a hostile server).
// Reads return the released bytes in pieces of at most chunk bytes (all
// when chunk is 0); with nothing released they fail at once with
// os.ErrDeadlineExceeded (a server waiting for a command the client never
// sends), and at the end of the script with EOF. Reads never block, so a
// test over it cannot hang. These tests are the regression tests of bugs
// found by fuzz.FuzzSessionHostileServer.
type scriptConn struct {
	mu     sync.Mutex
	script []byte
	chunk  int
	eager  bool
	// eagerFrom > 0: once reply eagerFrom is released, the rest of the
	// script comes with it (bytes glued to a reply, e.g. after a 220 to
	// STARTTLS).
	eagerFrom int
	lmtp      bool
	written   bytes.Buffer
	closed    bool
	rdl       time.Time

	replies [][]byte // the script, one reply each (a final partial line too)
	next    int      // replies released
	out     []byte   // released, not yet read
	scan    commandScanner
}

func newScriptConn(script string) *scriptConn {
	c := &scriptConn{script: []byte(script), replies: splitReplies([]byte(script))}
	c.scan.codes = make([]int, len(c.replies))
	for i, r := range c.replies {
		if len(r) >= 3 {
			c.scan.codes[i] = int(r[0]-'0')*100 + int(r[1]-'0')*10 + int(r[2]-'0')
		}
	}
	c.scan.allow = 1 // the greeting
	return c
}

// splitReplies cuts a script after each line that ends a reply ("ddd " or
// anything that is not a "ddd-" continuation).
func splitReplies(b []byte) [][]byte {
	var out [][]byte
	start := 0
	for i := 0; i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		line := b[start:i]
		if j := bytes.LastIndexByte(b[:i], '\n'); j >= start {
			line = b[j+1 : i]
		}
		if len(line) < 4 || line[3] != '-' {
			out = append(out, b[start:i+1])
			start = i + 1
		}
	}
	if start < len(b) {
		out = append(out, b[start:])
	}
	return out
}

func (c *scriptConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.eager || c.eagerFrom > 0 && c.next <= c.eagerFrom && c.eagerFrom < c.scan.allow {
		for ; c.next < len(c.replies); c.next++ {
			c.out = append(c.out, c.replies[c.next]...)
		}
	}
	for len(c.out) == 0 && c.next < len(c.replies) && c.next < c.scan.allow {
		c.out = append(c.out, c.replies[c.next]...)
		c.next++
	}
	switch {
	case c.closed:
		return 0, net.ErrClosed
	case !c.rdl.IsZero() && !time.Now().Before(c.rdl):
		return 0, os.ErrDeadlineExceeded
	case len(c.out) == 0 && c.next < len(c.replies):
		return 0, os.ErrDeadlineExceeded // waiting for a command
	case len(c.out) == 0:
		return 0, io.EOF
	}
	if c.chunk > 0 {
		p = p[:min(len(p), c.chunk)]
	}
	n := copy(p, c.out)
	c.out = c.out[n:]
	return n, nil
}

// commandScanner follows what the client wrote, command by command, to
// know how many replies a server may have sent: allow grows by one per
// command read in full (a BDAT with its data, DATA's body with its dot),
// and by one per accepted recipient for an LMTP end of data.
type commandScanner struct {
	codes  []int // the code of each reply in the script
	allow  int
	line   []byte
	inData bool
	skip   int // BDAT data still to come
	last   bool
	acc    int // recipients accepted in this transaction
	mailOK bool
}

func (s *commandScanner) code(i int) int {
	if i < len(s.codes) {
		return s.codes[i]
	}
	return 0
}

func (s *commandScanner) feed(p []byte, lmtp bool) {
	for _, b := range p {
		if s.skip > 0 {
			if s.skip--; s.skip == 0 {
				s.endChunk(lmtp)
			}
			continue
		}
		s.line = append(s.line, b)
		if b != '\n' {
			continue
		}
		line := string(bytes.TrimRight(s.line, "\r\n"))
		s.line = s.line[:0]
		if s.inData {
			if line == "." {
				s.inData = false
				s.endData(lmtp)
			}
			continue
		}
		s.command(line, lmtp)
	}
}

func (s *commandScanner) command(line string, lmtp bool) {
	verb, arg, _ := strings.Cut(strings.ToUpper(line), " ")
	code := s.code(s.allow) // the reply that answers this command
	switch verb {
	case "MAIL":
		s.acc, s.mailOK = 0, code/100 == 2
	case "RCPT":
		if s.mailOK && code/100 == 2 {
			s.acc++
		}
	case "DATA":
		s.inData = code/100 == 3
	case "RSET", "EHLO", "HELO", "LHLO":
		s.acc = 0
	case "BDAT":
		size, rest, _ := strings.Cut(arg, " ")
		n, _ := strconv.Atoi(size)
		s.last = strings.Contains(rest, "LAST")
		if n > 0 {
			s.skip = n
			return
		}
		s.endChunk(lmtp)
		return
	}
	s.allow++
}

func (s *commandScanner) endChunk(lmtp bool) {
	if s.last {
		s.endData(lmtp)
		return
	}
	s.allow++
}

func (s *commandScanner) endData(lmtp bool) {
	n := 1
	if lmtp {
		n = max(s.acc, 1)
	}
	s.allow += n
	s.acc = 0
}

func (c *scriptConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	c.scan.feed(p, c.lmtp)
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
	conn.lmtp = o.LMTP
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
			"250 reset\r\n" + // RSET: the first message went out before its replies (OptimisticLimit)
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
			"250 reset\r\n" + // RSET: the first message went out before its replies
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
	more := d.next < len(d.replies) || len(d.out) > 0
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

// A RCPT parameter the server did not advertise is refused before the
// transaction's first command goes out (every parameter is checked before
// MAIL), and the next message goes through.
func TestRcptParamNotAdvertised(t *testing.T) {
	const script = "220 mx\r\n250-mx\r\n250 PIPELINING\r\n" +
		"250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n221 bye\r\n"
	c, conn := scripted(t, script, nil)
	ctx := ctxTimeout(t)
	_, err := c.SendMail(ctx, "a@x.test", []string{"b@y.test"}, strings.NewReader("x\r\n"),
		&session.SendOptions{RcptParams: []protocol.Param{{Key: "XFOO", Value: "1"}}})
	if !errors.Is(err, session.ErrNotSupported) {
		t.Fatalf("SendMail error = %v, want ErrNotSupported", err)
	}
	if w := conn.Written(); w != "EHLO client.test\r\n" {
		t.Fatalf("the refused message put %q on the wire, want nothing after EHLO", w)
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
