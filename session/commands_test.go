package session_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/postwire/postwire/protocol"
	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/session/smtptest"
)

func TestCommands(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr transportKind) {
		s := newServer(t, smtptest.Config{MaxSize: 1 << 20, ExtraExtensions: []string{"X-Custom a b"}})
		c := connect(t, tr, s, nil)
		ctx := ctxTimeout(t)
		if got := c.Greeting(); got.Code != 220 || !strings.Contains(got.Text(), serverName) {
			t.Errorf("Greeting() = %+v", got)
		}
		if c.ESMTP() {
			t.Errorf("ESMTP before EHLO")
		}
		r, err := c.Ehlo(ctx, "")
		if err != nil || r.Code != 250 {
			t.Fatalf("Ehlo = %v, %v", r, err)
		}
		if !c.HasExtension("pipelining") || !c.HasExtension("X-CUSTOM") || !c.ESMTP() {
			t.Errorf("HasExtension: pipelining %v, x-custom %v", c.HasExtension("pipelining"), c.HasExtension("X-CUSTOM"))
		}
		if p, ok := c.Extension("size"); !ok || p != "1048576" {
			t.Errorf("Extension(size) = %q, %v", p, ok)
		}
		if p, ok := c.Extension("x-custom"); !ok || p != "a b" {
			t.Errorf("Extension(x-custom) = %q, %v", p, ok)
		}
		if _, ok := c.Extension("STARTTLS"); ok {
			t.Errorf("STARTTLS reported though not offered")
		}
		if n, ok := c.Extensions().Size(); !ok || n != 1<<20 {
			t.Errorf("Extensions().Size() = %d, %v", n, ok)
		}

		type step struct {
			name string
			call func() (protocol.Reply, error)
			code int
			fail bool // a *ReplyError is expected
		}
		steps := []step{
			{"Verify", func() (protocol.Reply, error) { return c.Verify(ctx, "someone@y.test") }, 252, false},
			{"Expand", func() (protocol.Reply, error) { return c.Expand(ctx, "list") }, 502, true},
			{"Help", func() (protocol.Reply, error) { return c.Help(ctx, "") }, 214, false},
			{"Noop", func() (protocol.Reply, error) { return c.Noop(ctx) }, 250, false},
			{"Mail", func() (protocol.Reply, error) { return c.Mail(ctx, "", protocol.Param{Key: "SIZE", Value: "5"}) }, 250, false},
			{"Rcpt", func() (protocol.Reply, error) { return c.Rcpt(ctx, "b@y.test") }, 250, false},
			{"Data", func() (protocol.Reply, error) { return c.Data(ctx, strings.NewReader("body\n.dot\n")) }, 250, false},
			{"Docmd", func() (protocol.Reply, error) { return c.Docmd(ctx, "XYZZY nothing") }, 500, false},
			{"Mail again", func() (protocol.Reply, error) { return c.Mail(ctx, "a@x.test") }, 250, false},
			{"Reset", func() (protocol.Reply, error) { return c.Reset(ctx) }, 250, false},
		}
		for _, st := range steps {
			r, err := st.call()
			var re *session.ReplyError
			if st.fail != errors.As(err, &re) || (!st.fail && err != nil) {
				t.Errorf("%s: err = %v, want failure %v", st.name, err, st.fail)
			}
			if r.Code != st.code {
				t.Errorf("%s: code %d, want %d", st.name, r.Code, st.code)
			}
		}
		// The core refuses a command out of sequence before sending it.
		if _, err := c.Rcpt(ctx, "b@y.test"); !errors.Is(err, protocol.ErrInvalidState) {
			t.Errorf("Rcpt outside a transaction = %v, want protocol.ErrInvalidState", err)
		}
		r, err = c.Quit(ctx)
		if err != nil || r.Code != 221 {
			t.Errorf("Quit = %v, %v", r, err)
		}
		if _, err := c.Noop(ctx); !errors.Is(err, session.ErrClosed) {
			t.Errorf("Noop after Quit = %v, want ErrClosed", err)
		}
		if err := c.Close(); err != nil {
			t.Errorf("Close after Quit = %v", err)
		}
		want := []stored{{"", []string{"SIZE=5"}, []string{"b@y.test"}, [][]string{nil}, "body\r\n.dot\r\n", false}}
		if diff := cmp.Diff(want, storedOf(s.Messages())); diff != "" {
			t.Errorf("stored (-want +got):\n%s", diff)
		}
	})
}

func TestHello(t *testing.T) {
	t.Run("HELO fallback drops ESMTP options", func(t *testing.T) {
		s := newServer(t, smtptest.Config{DisableEHLO: true})
		c := connect(t, transports[0], s, nil)
		ctx := ctxTimeout(t)
		if err := c.EhloOrHeloIfNeeded(ctx); err != nil {
			t.Fatalf("EhloOrHeloIfNeeded: %v", err)
		}
		if c.ESMTP() || c.HasExtension("PIPELINING") {
			t.Errorf("ESMTP %v after HELO", c.ESMTP())
		}
		_, err := c.Mail(ctx, "a@x.test", protocol.Param{Key: "BODY", Value: "8BITMIME"})
		if !errors.Is(err, session.ErrNotSupported) {
			t.Errorf("Mail with BODY after HELO = %v, want ErrNotSupported", err)
		}
		_, err = c.SendMail(ctx, "a@x.test", []string{"b@y.test"}, strings.NewReader("x"), &session.SendOptions{SMTPUTF8: true})
		var ns *session.NotSupportedError
		if !errors.As(err, &ns) || ns.Extension != "SMTPUTF8" {
			t.Errorf("SendMail with SMTPUTF8 after HELO = %v", err)
		}
		if !strings.Contains(string(s.Received()), "HELO client.test\r\n") {
			t.Errorf("no HELO:\n%s", s.Received())
		}
	})
	t.Run("both refused", func(t *testing.T) {
		s := newServer(t, smtptest.Config{Hook: func(ev smtptest.HookEvent) smtptest.Action {
			if ev.Verb == "EHLO" || ev.Verb == "HELO" {
				return smtptest.Action{Raw: "550 5.7.1 go away\r\n"}
			}
			return smtptest.Action{}
		}})
		c := connect(t, transports[0], s, nil)
		_, err := c.SendMail(ctxTimeout(t), "a@x.test", []string{"b@y.test"}, strings.NewReader("x"), nil)
		var he *session.HeloError
		if !errors.As(err, &he) || he.Reply.Code != 550 {
			t.Fatalf("SendMail = %v, want *HeloError", err)
		}
	})
	t.Run("bad greeting", func(t *testing.T) {
		s := newServer(t, smtptest.Config{Greeting: "554 5.3.2 no service\r\n"})
		_, err := session.NewClient(ctxTimeout(t), s.Pipe(), serverName, opts())
		var ce *session.ConnectError
		var re *session.ReplyError
		if !errors.As(err, &ce) || !errors.As(err, &re) || re.Code != 554 {
			t.Fatalf("NewClient = %v, want *ConnectError with a 554 reply", err)
		}
	})
	t.Run("default local name", func(t *testing.T) {
		s := newServer(t, smtptest.Config{})
		c := connect(t, transports[1], s, &session.Options{})
		if _, err := c.Ehlo(ctxTimeout(t), ""); err != nil {
			t.Fatal(err)
		}
		line, _, _ := strings.Cut(string(s.Received()), "\r\n")
		name := strings.TrimPrefix(line, "EHLO ")
		if name == line || name == "" || strings.ContainsAny(name, " \t") {
			t.Errorf("EHLO line %q: want a host name", line)
		}
	})
}

func TestDial(t *testing.T) {
	s := newServer(t, smtptest.Config{})
	addr, err := s.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxTimeout(t)
	c, err := session.Dial(ctx, addr.String(), opts())
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	if _, err := c.SendMail(ctx, "a@x.test", []string{"b@y.test"}, strings.NewReader("x\r\n"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Quit(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestDebugLog(t *testing.T) {
	var logs logBuffer
	s := newServer(t, smtptest.Config{DisableChunking: true})
	o := opts()
	o.Logger = newLogger(&logs)
	c := connect(t, transports[0], s, o)
	ctx := ctxTimeout(t)
	if _, err := c.SendMail(ctx, "a@x.test", []string{"b@y.test"}, strings.NewReader("x\r\n"), nil); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	for _, want := range []string{
		`direction=recv line="220 ` + serverName,
		`direction=send line="EHLO client.test"`,
		`direction=recv line="250-` + serverName,
		`direction=recv line="250 `,
		`direction=send line="MAIL FROM:<a@x.test>"`,
		`direction=send line="RCPT TO:<b@y.test>"`,
		`direction=send line=DATA`,
		`direction=recv line="354 `,
		`direction=send line="[message data: 3 bytes]"`,
		`direction=send line=.`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
}
