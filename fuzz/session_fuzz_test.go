package fuzz

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/postwire/postwire/codec"
	"github.com/postwire/postwire/protocol"
	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/transport"
)

// The mode bits of FuzzSessionHostileServer.
const (
	modeLMTP          = 1 << iota // speak LMTP
	modeBatch                     // SendBatch with two messages instead of SendMail
	modeNoPipelining              // Options.DisablePipelining
	modeNoChunking                // Options.DisableChunking
	modeTLSRequired               // Options.TLSPolicy = TLSRequired
	modeEndless                   // after the script, repeat its last bytes forever
	modeSmallChunks               // 16-byte BDAT chunks
	modeHostileBody               // a body with dot lines, bare CR and bare LF
	modeLogin                     // Login (AllowInsecureAuth) before sending
	modeOpportunistic             // Options.TLSPolicy = TLSOpportunistic (unless TLSRequired)
	// bits 10-15: the size of each read (0: 4096)
	modeChunkShift = 10
)

// The credentials Login uses; neither they nor their encodings may reach
// the debug log.
const (
	fuzzUser     = "fuzzuser"
	fuzzPassword = "s3cret-pw"
)

// Small limits, so that the fuzzer reaches them.
const (
	fuzzMaxLine  = 512
	fuzzMaxLines = 16
)

// scriptConn is the server's side as a net.Conn: reads return the script
// in pieces of a fixed size, then EOF (or, endless, the script's tail
// repeated forever); writes are recorded. Reads never block.
type scriptConn struct {
	mu      sync.Mutex
	script  []byte
	tail    []byte // endless: repeated after the script
	tailOff int
	chunk   int
	read    int64  // bytes handed to the client
	given   []byte // the first of them (what the oracle replays)
	written bytes.Buffer
	closed  bool
	rdl     time.Time
}

func (c *scriptConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	if !c.rdl.IsZero() && !time.Now().Before(c.rdl) {
		return 0, os.ErrDeadlineExceeded
	}
	p = p[:min(len(p), c.chunk)]
	if len(c.script) > 0 {
		n := copy(p, c.script)
		c.script = c.script[n:]
		c.give(p[:n])
		return n, nil
	}
	if len(c.tail) == 0 {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) {
		k := copy(p[n:], c.tail[c.tailOff:])
		n += k
		c.tailOff = (c.tailOff + k) % len(c.tail)
	}
	c.give(p[:n])
	return n, nil
}

func (c *scriptConn) give(p []byte) {
	c.read += int64(len(p))
	if len(c.given) < 1<<20 {
		c.given = append(c.given, p...)
	}
}

func (c *scriptConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	c.written.Write(p)
	return len(p), nil
}

func (c *scriptConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}

func (c *scriptConn) LocalAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 40000}
}
func (c *scriptConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 25), Port: 25}
}
func (c *scriptConn) SetDeadline(t time.Time) error {
	c.SetReadDeadline(t)
	return nil
}
func (c *scriptConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rdl = t
	return nil
}
func (c *scriptConn) SetWriteDeadline(time.Time) error { return nil }

func (c *scriptConn) stats() (read int64, given, written []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.read, bytes.Clone(c.given), bytes.Clone(c.written.Bytes())
}

// fuzzMessages are the messages sent: distinct senders, so the oracle can
// find each one's transaction on the wire.
func fuzzMessages(mode uint16) []session.Envelope {
	body := "Subject: fuzz\r\n\r\nhello\r\nworld\r\n"
	if mode&modeHostileBody != 0 {
		body = "Subject: fuzz\n\n.\r\n..two\rbare CR\nbare LF\r\n.\r\nlast line without end"
	}
	msgs := []session.Envelope{{From: "s0@a.example", To: []string{"r0@b.example", "r1@b.example"}, Body: strings.NewReader(body)}}
	if mode&modeBatch != 0 {
		msgs = append(msgs, session.Envelope{From: "s1@a.example", To: []string{"r2@b.example"}, Body: strings.NewReader("Subject: two\r\n\r\nsecond\r\n")})
	}
	return msgs
}

// FuzzSessionHostileServer lets the fuzzer play the server: its bytes are
// everything the server says, whatever the client writes, while a
// session.Client sends one message (SendMail) or two (SendBatch), over
// SMTP or LMTP, with or without PIPELINING and CHUNKING, then QUITs.
//
// Invariants:
//   - no panic, and no hang: every call returns (the context allows 5 s;
//     the script ends in EOF, so calls normally return at once);
//   - every error is typed (one of session's error types or sentinels,
//     *protocol.PeerError, *protocol.UsageError, a TLS handshake error or
//     the context's), and none is an "internal error";
//   - no false delivery: when a message succeeds, or a recipient is
//     reported delivered, an independent replay of the conversation (the
//     client's bytes split into commands, the server's into replies,
//     matched in order, one reply per accepted LMTP recipient after the
//     data) shows the 2xx replies that say so, and the body on the wire
//     is the message with CRLF line endings;
//   - the session never leaves the conversation stuck: after the call,
//     QUIT is either sent or refused because the connection is closed
//     (never a *protocol.UsageError);
//   - with TLSRequired nothing is sent in cleartext after the greeting
//     but EHLO/HELO/LHLO and STARTTLS, and no message succeeds;
//   - bounded input: when the script is followed by an endless stream,
//     the client stops reading after a bounded number of bytes.
func FuzzSessionHostileServer(f *testing.F) {
	f.Add(uint16(0), []byte("220 mx\r\n250-mx\r\n250-PIPELINING\r\n250 8BITMIME\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n221 bye\r\n"))
	f.Fuzz(func(t *testing.T, mode uint16, script []byte) {
		runHostile(t, mode, script)
	})
}

func runHostile(t *testing.T, mode uint16, script []byte) {
	chunk := int(mode >> modeChunkShift)
	if chunk == 0 {
		chunk = 4096
	}
	conn := &scriptConn{script: bytes.Clone(script), chunk: chunk}
	if mode&modeEndless != 0 {
		conn.tail = script[max(0, len(script)-16):]
		if len(conn.tail) == 0 {
			conn.tail = []byte("250-x\r\n")
		}
	}
	lmtp := mode&modeLMTP != 0
	o := &session.Options{
		LocalName:         "client.example",
		LMTP:              lmtp,
		MaxLineLength:     fuzzMaxLine,
		MaxReplyLines:     fuzzMaxLines,
		DisablePipelining: mode&modeNoPipelining != 0,
		DisableChunking:   mode&modeNoChunking != 0,
		TLSConfig:         &tls.Config{ServerName: "mx.example"},
	}
	switch {
	case mode&modeTLSRequired != 0:
		o.TLSPolicy = session.TLSRequired
	case mode&modeOpportunistic != 0:
		o.TLSPolicy = session.TLSOpportunistic
	}
	if mode&modeLogin != 0 {
		o.AllowInsecureAuth = true
	}
	var logs syncBuffer
	o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if mode&modeSmallChunks != 0 {
		o.ChunkSize = 16
	}
	msgs := fuzzMessages(mode)
	bodies := make([][]byte, len(msgs))
	for i, m := range msgs {
		b, _ := io.ReadAll(m.Body)
		bodies[i] = b
		msgs[i].Body = bytes.NewReader(b)
	}

	type outcome struct {
		connErr  error
		loginErr error
		results  []session.BatchResult
		quitErr  error
	}
	done := make(chan outcome, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var out outcome
		c, err := session.NewClient(ctx, conn, "mx.example", o)
		if err != nil {
			out.connErr = err
			done <- out
			return
		}
		if mode&modeLogin != 0 {
			_, out.loginErr = c.Login(ctx, fuzzUser, fuzzPassword)
		}
		if mode&modeBatch != 0 {
			out.results = c.SendBatch(ctx, msgs)
		} else {
			res, err := c.SendMail(ctx, msgs[0].From, msgs[0].To, msgs[0].Body, nil)
			out.results = []session.BatchResult{{Result: res, Err: err}}
		}
		_, out.quitErr = c.Quit(ctx)
		c.Close()
		done <- out
	}()
	var out outcome
	select {
	case out = <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("hang: the session did not return (mode %#x)", mode)
	}

	read, given, written := conn.stats()
	if mode&modeEndless != 0 {
		if bound := int64(len(script)) + 256<<10; read > bound {
			t.Fatalf("read %d bytes of an endless stream, bound %d", read, bound)
		}
	}
	checkTyped(t, "NewClient", out.connErr)
	checkTyped(t, "Login", out.loginErr)
	checkTyped(t, "Quit", out.quitErr)
	if secret := leakedSecret(logs.String()); secret != "" {
		t.Fatalf("the debug log shows %q:\n%s", secret, logs.String())
	}
	var ue *protocol.UsageError
	if errors.As(out.quitErr, &ue) {
		// The session left the core where QUIT is not allowed (waiting
		// for a body, in an AUTH exchange...) without closing.
		t.Fatalf("Quit after SendMail/SendBatch: %v", out.quitErr)
	}
	for i, r := range out.results {
		checkTyped(t, fmt.Sprintf("message %d", i), r.Err)
		if r.Result != nil {
			for _, rr := range r.Result.Recipients {
				checkTyped(t, fmt.Sprintf("message %d recipient %s", i, rr.Recipient), rr.Err)
			}
			if len(r.Result.Recipients) != len(msgs[i].To) {
				t.Fatalf("message %d: %d recipient results for %d recipients", i, len(r.Result.Recipients), len(msgs[i].To))
			}
		}
	}
	if out.connErr != nil {
		return
	}

	if mode&modeTLSRequired != 0 {
		if mode&modeLogin != 0 && out.loginErr == nil {
			t.Fatalf("Login succeeded although TLS was required and cannot have started")
		}
		for i, r := range out.results {
			if r.Err == nil {
				t.Fatalf("message %d succeeded although TLS was required and cannot have started", i)
			}
		}
		if cleartextLeak(written) {
			t.Fatalf("TLSRequired, but sent in cleartext:\n%q", written)
		}
		return
	}

	replay := replayConversation(given, written, lmtp)
	for i, r := range out.results {
		claimed := r.Err == nil
		anyRcpt := false
		if r.Result != nil {
			for _, rr := range r.Result.Recipients {
				anyRcpt = anyRcpt || rr.Err == nil
			}
		}
		if !claimed && !anyRcpt {
			continue
		}
		tx := replay.txns[msgs[i].From]
		if tx == nil {
			t.Fatalf("message %d reported delivered (err %v) but no MAIL FROM:<%s> was sent\nwritten: %q", i, r.Err, msgs[i].From, written)
		}
		if !tx.ended {
			t.Fatalf("message %d reported delivered but its data never ended on the wire\nwritten: %q", i, written)
		}
		if want := codec.NormalizeLineEndings(bodies[i]); !bytes.Equal(tx.body, want) {
			t.Fatalf("message %d reported delivered but the body on the wire is %q, want %q", i, tx.body, want)
		}
		if claimed && !lmtp && tx.finalCode/100 != 2 {
			t.Fatalf("message %d reported delivered but the reply to its end of data is %d\nserver: %q\nwritten: %q", i, tx.finalCode, given, written)
		}
		if claimed && lmtp {
			ok := false
			for _, rc := range tx.rcpts {
				ok = ok || rc.delivered()
			}
			if !ok {
				t.Fatalf("LMTP message %d reported delivered but no recipient got a 2xx after the data\nserver: %q\nwritten: %q", i, given, written)
			}
		}
		if r.Result == nil {
			continue
		}
		if len(tx.rcpts) != len(msgs[i].To) {
			t.Fatalf("message %d: %d RCPT on the wire, want %d", i, len(tx.rcpts), len(msgs[i].To))
		}
		for j, rr := range r.Result.Recipients {
			rc := tx.rcpts[j]
			if rc.addr != msgs[i].To[j] {
				t.Fatalf("message %d: RCPT %d on the wire is <%s>, want <%s>", i, j, rc.addr, msgs[i].To[j])
			}
			if rr.Err != nil {
				continue
			}
			if !rc.delivered() || (!lmtp && tx.finalCode/100 != 2) {
				t.Fatalf("message %d recipient %s reported delivered, but RCPT got %d and the data %d (LMTP %v)\nserver: %q\nwritten: %q",
					i, rr.Recipient, rc.rcptCode, rc.finalCode, lmtp, given, written)
			}
		}
	}
}

// leakedSecret returns the first credential (or encoding of one) found in
// the log, or "".
func leakedSecret(log string) string {
	for _, s := range []string{
		fuzzPassword,
		base64.StdEncoding.EncodeToString([]byte(fuzzPassword)),
		base64.StdEncoding.EncodeToString([]byte("\x00" + fuzzUser + "\x00" + fuzzPassword)),
	} {
		if strings.Contains(log, s) {
			return s
		}
	}
	return ""
}

// syncBuffer is a bytes.Buffer safe for the logger's use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// cleartextLeak reports whether written holds anything but EHLO/HELO/LHLO,
// STARTTLS and QUIT before a STARTTLS (after it, TLS records follow).
func cleartextLeak(written []byte) bool {
	for len(written) > 0 {
		i := bytes.Index(written, []byte("\r\n"))
		if i < 0 {
			return true
		}
		line := strings.ToUpper(string(written[:i]))
		written = written[i+2:]
		verb, _, _ := strings.Cut(line, " ")
		switch verb {
		case "EHLO", "HELO", "LHLO", "QUIT":
		case "STARTTLS":
			return false
		default:
			return true
		}
	}
	return false
}

// checkTyped fails unless err is nil or one of the documented types.
func checkTyped(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if strings.Contains(err.Error(), "internal error") {
		t.Fatalf("%s: internal error: %v", what, err)
	}
	var (
		re  *session.ReplyError
		sr  *session.SenderRefusedError
		rc  *session.RecipientError
		rr  *session.RecipientsRefusedError
		de  *session.DataError
		ce  *session.ConnectError
		he  *session.HeloError
		ae  *session.AuthError
		ns  *session.NotSupportedError
		ud  *session.UnknownDeliveryError
		pe  *protocol.PeerError
		ue  *protocol.UsageError
		tle *transport.HandshakeError
	)
	switch {
	case errors.As(err, &re), errors.As(err, &sr), errors.As(err, &rc), errors.As(err, &rr),
		errors.As(err, &de), errors.As(err, &ce), errors.As(err, &he), errors.As(err, &ae),
		errors.As(err, &ns), errors.As(err, &ud), errors.As(err, &pe), errors.As(err, &ue),
		errors.As(err, &tle):
	case errors.Is(err, session.ErrServerDisconnected), errors.Is(err, session.ErrDeliveryUnknown),
		errors.Is(err, session.ErrMessageTooLarge), errors.Is(err, session.ErrTimeout):
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		t.Fatalf("%s: the context ended (%v): the session should have returned at the end of the script", what, err)
	case errors.Is(err, session.ErrClosed):
		// After Quit, Close or a failure: ErrClosed alone, or wrapping the
		// failure, which must be typed itself.
		if err == session.ErrClosed {
			return
		}
		var multi interface{ Unwrap() []error }
		if !errors.As(err, &multi) {
			t.Fatalf("%s: untyped error %T: %v", what, err, err)
		}
		for _, e := range multi.Unwrap() {
			if e != session.ErrClosed && !errors.Is(e, protocol.ErrClosed) {
				checkTyped(t, what, e)
			}
		}
	default:
		t.Fatalf("%s: untyped error %T: %v", what, err, err)
	}
}

// The replay: an independent model of what was said, used as the oracle.

type replayRcpt struct {
	addr      string
	rcptCode  int
	finalCode int // LMTP: this recipient's reply after the data; SMTP: copy of the message's
}

func (r replayRcpt) delivered() bool { return r.rcptCode/100 == 2 && r.finalCode/100 == 2 }

type replayTxn struct {
	mailCode  int
	rcpts     []replayRcpt
	body      []byte
	ended     bool // the end of data was sent
	finalCode int  // SMTP: the reply to the end of data; 0 when none came
	failed    bool // a BDAT chunk was refused
}

type replayResult struct {
	txns map[string]*replayTxn // by MAIL FROM address
}

// splitReplies parses the server's bytes leniently into reply codes: a
// reply is lines of "ddd-" ended by a line "ddd" or "ddd ...". It stops at
// the first line that is not a reply line or has no LF. Being more lenient
// than the real parser is safe: the client fails where they differ.
func splitReplies(b []byte) []int {
	var codes []int
	code := -1
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return codes
		}
		line := bytes.TrimSuffix(b[:i], []byte("\r"))
		b = b[i+1:]
		if len(line) < 3 {
			return codes
		}
		n, err := strconv.Atoi(string(line[:3]))
		if err != nil || line[0] < '0' || line[0] > '9' || line[1] < '0' || line[1] > '9' || line[2] < '0' || line[2] > '9' {
			return codes
		}
		if code < 0 {
			code = n
		}
		if len(line) > 3 && line[3] == '-' {
			continue
		}
		codes = append(codes, code)
		code = -1
	}
}

// replayConversation splits what the client wrote into commands and
// matches the server's replies to them in order, as RFC 5321, 2920, 3030
// and 2033 say, without using the protocol package.
func replayConversation(script, written []byte, lmtp bool) replayResult {
	replies := splitReplies(script)
	res := replayResult{txns: map[string]*replayTxn{}}
	next := 1 // replies[0] is the greeting
	closed := false
	take := func() int {
		if closed || next >= len(replies) {
			return 0
		}
		r := replies[next]
		next++
		if r == 421 {
			closed = true
		}
		return r
	}
	var tx *replayTxn
	endData := func() {
		tx.ended = true
		if !lmtp {
			tx.finalCode = take()
			for i := range tx.rcpts {
				tx.rcpts[i].finalCode = tx.finalCode
			}
			return
		}
		var acc []int
		if tx.mailCode/100 == 2 && !tx.failed {
			for i, r := range tx.rcpts {
				if r.rcptCode/100 == 2 {
					acc = append(acc, i)
				}
			}
		}
		if len(acc) == 0 {
			tx.finalCode = take()
			return
		}
		for _, i := range acc {
			tx.rcpts[i].finalCode = take()
			tx.finalCode = tx.rcpts[i].finalCode
		}
	}
	w := written
	for len(w) > 0 {
		i := bytes.Index(w, []byte("\r\n"))
		if i < 0 {
			break
		}
		line := string(w[:i])
		w = w[i+2:]
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "MAIL":
			from := strings.TrimPrefix(arg, "FROM:<")
			from, _, _ = strings.Cut(from, ">")
			tx = &replayTxn{mailCode: take()}
			res.txns[from] = tx
		case "RCPT":
			to := strings.TrimPrefix(arg, "TO:<")
			to, _, _ = strings.Cut(to, ">")
			code := take()
			if tx == nil {
				continue
			}
			if tx.mailCode/100 != 2 {
				code = 0 // refused MAIL: says nothing about the recipient
			}
			tx.rcpts = append(tx.rcpts, replayRcpt{addr: to, rcptCode: code})
		case "DATA":
			if take()/100 != 3 {
				continue
			}
			var body []byte
			for {
				j := bytes.Index(w, []byte("\r\n"))
				if j < 0 {
					return res // the body did not end
				}
				l := w[:j+2]
				w = w[j+2:]
				if string(l) == ".\r\n" {
					break
				}
				body = append(body, bytes.TrimPrefix(l, []byte("."))...)
			}
			if tx != nil {
				tx.body = body
				endData()
			}
		case "BDAT":
			sz, last, _ := strings.Cut(arg, " ")
			n, err := strconv.Atoi(sz)
			if err != nil || n > len(w) {
				return res
			}
			if tx != nil {
				tx.body = append(tx.body, w[:n]...)
			}
			w = w[n:]
			if strings.EqualFold(last, "LAST") {
				if tx != nil {
					endData()
				} else {
					take()
				}
				continue
			}
			if take()/100 != 2 && tx != nil {
				tx.failed = true
			}
		case "STARTTLS":
			if take()/100 == 2 {
				return res // TLS records follow
			}
		case "EHLO", "HELO", "LHLO", "RSET":
			take()
			tx = nil
		default:
			take()
		}
	}
	return res
}
