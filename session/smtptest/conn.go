package smtptest

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/postwire/postwire/protocol"
)

// errHangUp ends a conversation without an error (QUIT, hook Disconnect).
var errHangUp = errors.New("smtptest: hang up")

// conn is the server side of one conversation. Only its own goroutine
// touches it.
type conn struct {
	s   *Server
	cfg *Config
	rec *ConnRecord
	id  int

	raw net.Conn // as accepted; closed at the end
	nc  net.Conn // raw, or the *tls.Conn after STARTTLS
	br  *bufio.Reader
	bw  *bufio.Writer

	tls       bool
	exporter  []byte // tls-exporter channel binding, TLS 1.3 only
	rejecting bool   // greeting was not 220: only QUIT is accepted
	helo      string
	esmtp     bool // greeted with EHLO or LHLO
	authUser  string

	tx       *Message // current transaction; nil outside one
	txUTF8   bool     // MAIL carried SMTPUTF8
	body     capBuffer
	chunked  bool // BDAT used in this transaction
	bdatFail bool // a BDAT chunk of this transaction was refused

	inData   bool       // DATA got 354: the body comes next
	sasl     saslServer // AUTH exchange in progress
	startTLS bool       // STARTTLS got 220: handshake after the reply is flushed
	mute     bool       // hook Raw+Execute: the command's own replies are dropped
	// lastReplaced: the last dispatch wrote Raw without executing.
	lastReplaced bool
}

func newConn(s *Server, raw net.Conn, rec *ConnRecord) *conn {
	c := &conn{s: s, cfg: &s.cfg, rec: rec, id: rec.ID, raw: raw}
	c.setStream(raw)
	c.resetTx()
	return c
}

// setStream points the buffered reader and writer at nc.
func (c *conn) setStream(nc net.Conn) {
	c.nc = nc
	c.br = bufio.NewReaderSize(recordingReader{c}, 64<<10)
	c.bw = bufio.NewWriterSize(recordingWriter{c}, 16<<10)
}

// recordingReader records what it reads and, before blocking for more
// input, flushes the pending replies: replies to a pipelined group leave
// in one write, after the last command of the group was processed.
type recordingReader struct{ c *conn }

func (r recordingReader) Read(p []byte) (int, error) {
	if r.c.bw.Buffered() > 0 {
		if err := r.c.bw.Flush(); err != nil {
			return 0, err
		}
	}
	n, err := r.c.nc.Read(p)
	r.c.s.record(r.c.rec, p[:n], false)
	return n, err
}

// recordingWriter records what the server writes (before encryption).
type recordingWriter struct{ c *conn }

func (w recordingWriter) Write(p []byte) (int, error) {
	n, err := w.c.nc.Write(p)
	w.c.s.record(w.c.rec, p[:n], true)
	return n, err
}

func (c *conn) closeAll() { c.raw.Close() }

// serve runs the conversation; nil for a clean end.
func (c *conn) serve() error {
	err := c.loop()
	if errors.Is(err, errHangUp) {
		err = c.bw.Flush()
	}
	if err == io.EOF { // bare io.EOF only comes from readLine between commands
		err = nil
	}
	return err
}

func (c *conn) loop() error {
	if c.cfg.ImplicitTLS && c.cfg.TLS != nil {
		if err := c.handshake(); err != nil {
			return err
		}
	}
	err := c.dispatch(HookGreeting, "", "", nil, c.greet)
	if err != nil {
		return err
	}
	for {
		switch {
		case c.inData:
			c.inData = false
			err = c.readBody()
		case c.sasl != nil:
			line, tooLong, rerr := c.readLine()
			if rerr != nil {
				return rerr
			}
			if tooLong {
				c.endAuth()
				c.reply(500, "5.5.2", "line too long")
				continue
			}
			err = c.dispatch(HookAuthResponse, line, "", nil, func() error { return c.authResponse(line) })
			if c.sasl != nil && c.lastReplaced {
				c.endAuth() // a Raw reply without Execute ended the exchange
			}
		default:
			err = c.command()
		}
		if err != nil {
			return err
		}
		if c.startTLS {
			c.startTLS = false
			if err := c.handshake(); err != nil {
				return err
			}
		}
	}
}

// command reads and handles one command line.
func (c *conn) command() error {
	line, tooLong, err := c.readLine()
	if err != nil {
		return err
	}
	if tooLong {
		c.reply(500, "5.5.2", "line too long")
		return nil
	}
	verb, arg, _ := strings.Cut(line, " ")
	verb = strings.ToUpper(verb)
	if verb == "BDAT" {
		return c.bdatCommand(line, arg)
	}
	return c.dispatch(HookCommand, line, verb, nil, func() error { return c.handle(verb, arg) })
}

// readLine reads one line, without its CRLF (or bare LF). A line longer
// than MaxLineLength is read to its end and reported with tooLong. At end
// of input it returns io.EOF if no byte of a new line was read, else
// io.ErrUnexpectedEOF.
func (c *conn) readLine() (line string, tooLong bool, err error) {
	max := c.cfg.maxLine()
	var buf []byte
	n := 0
	for {
		frag, err := c.br.ReadSlice('\n')
		n += len(frag)
		if !tooLong {
			if n > max {
				tooLong, buf = true, nil
			} else {
				buf = append(buf, frag...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF && n > 0 {
				err = io.ErrUnexpectedEOF
			}
			return "", false, err
		}
		break
	}
	if tooLong {
		return "", true, nil
	}
	buf = buf[:len(buf)-1]
	if len(buf) > 0 && buf[len(buf)-1] == '\r' {
		buf = buf[:len(buf)-1]
	}
	return string(buf), false, nil
}

// state returns the snapshot hooks see.
func (c *conn) state() ConnState {
	return ConnState{ID: c.id, TLS: c.tls, Helo: c.helo, AuthUser: c.authUser, InTransaction: c.tx != nil}
}

// dispatch asks the hook what to do with an event and then runs normal
// (the default behaviour) as the Action says; see Action.
func (c *conn) dispatch(kind HookKind, line, verb string, msg *Message, normal func() error) error {
	c.lastReplaced = false
	var a Action
	if c.cfg.Hook != nil {
		a = c.cfg.Hook(HookEvent{Kind: kind, Line: line, Verb: verb, Conn: c.state(), Message: msg})
	}
	if a.Delay > 0 {
		if err := c.sleep(a.Delay); err != nil {
			return err
		}
	}
	run := a.Execute || !a.replaces() && !a.Disconnect
	if a.replaces() {
		if _, err := c.bw.WriteString(a.Raw); err != nil {
			return err
		}
		if a.RawReader != nil {
			if _, err := io.Copy(c.bw, a.RawReader); err != nil {
				return err
			}
		}
		c.lastReplaced = !a.Execute
		c.mute = true
	}
	var err error
	if run {
		err = normal()
	}
	c.mute = false
	if err != nil {
		return err
	}
	if a.After != "" {
		if _, err := c.bw.WriteString(a.After); err != nil {
			return err
		}
		if err := c.bw.Flush(); err != nil {
			return err
		}
	}
	if a.Disconnect {
		return errHangUp
	}
	return nil
}

// sleep waits d, or returns ErrServerClosed if the server closes first.
func (c *conn) sleep(d time.Duration) error {
	if err := c.bw.Flush(); err != nil {
		return err
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-c.s.done:
		return ErrServerClosed
	}
}

// reply queues one of the server's own replies (dropped while muted).
func (c *conn) reply(code int, enhanced, text string) {
	if c.cfg.DisableEnhancedCodes {
		enhanced = ""
	}
	c.writeWire(formatReply(code, enhanced, text))
}

// own adjusts one of the server's own default replies to the config.
func (c *conn) own(r Reply) Reply {
	if c.cfg.DisableEnhancedCodes {
		r.Enhanced = protocol.EnhancedCode{}
	}
	return r
}

// writeReply queues r as given (dropped while muted).
func (c *conn) writeReply(r Reply) { c.writeWire(r.String()) }

// writeWire queues the wire form of a reply (dropped while muted).
func (c *conn) writeWire(s string) {
	if c.mute {
		return
	}
	c.bw.WriteString(s) // errors are sticky in bw and seen at the next flush
}

func (c *conn) greet() error {
	g := c.cfg.Greeting
	if g == "" {
		g = Reply{Code: 220, Text: c.cfg.hostname() + " ESMTP smtptest"}.String()
		if c.cfg.LMTP {
			g = Reply{Code: 220, Text: c.cfg.hostname() + " LMTP smtptest"}.String()
		}
	}
	c.rejecting = !strings.HasPrefix(g, "220")
	if !c.mute {
		c.bw.WriteString(g)
	}
	return nil
}

// handshake runs the server side of STARTTLS once the 220 is flushed.
// Input the client sent before the handshake is discarded, and everything
// learnt from the client is forgotten (RFC 3207 section 4.2).
func (c *conn) handshake() error {
	if err := c.bw.Flush(); err != nil {
		return err
	}
	if n := c.br.Buffered(); n > 0 {
		c.br.Discard(n)
	}
	tc := tls.Server(c.nc, c.cfg.TLS)
	if err := tc.Handshake(); err != nil {
		return fmt.Errorf("smtptest: TLS handshake: %w", err)
	}
	cs := tc.ConnectionState()
	c.exporter = nil
	if cs.Version >= tls.VersionTLS13 {
		if ekm, err := cs.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32); err == nil {
			c.exporter = ekm
		}
	}
	c.setStream(tc)
	c.tls = true
	c.helo, c.esmtp, c.authUser = "", false, ""
	c.resetTx()
	return nil
}

// resetTx abandons the current transaction.
func (c *conn) resetTx() {
	c.tx = nil
	c.txUTF8 = false
	c.body = newCapBuffer(c.cfg)
	c.chunked = false
	c.bdatFail = false
}
