package session_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/postwire/postwire/auth"
	"github.com/postwire/postwire/protocol"
	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/session/smtptest"
)

const ehloOK = "250-mx.test\r\n250-PIPELINING\r\n250 AUTH PLAIN LOGIN CRAM-MD5\r\n"

// The smtplib behaviours of issue 8, each against a scripted server that
// shares nothing with the client: what went on the wire, and what the
// call said.
func TestSmtplibBehaviours(t *testing.T) {
	o := opts()
	o.AllowInsecureAuth = true
	tests := []struct {
		name   string
		script string
		do     func(ctx context.Context, c *session.Client) string
		wire   string
		want   string
	}{
		{"every command greets first: NOOP", "220 hi\r\n" + ehloOK + "250 ok\r\n",
			func(ctx context.Context, c *session.Client) string { r, err := c.Noop(ctx); return res(r, err) },
			"EHLO client.test\r\nNOOP\r\n", "250 ok"},
		{"every command greets first: Docmd", "220 hi\r\n" + ehloOK + "250 ok\r\n",
			func(ctx context.Context, c *session.Client) string {
				r, err := c.Docmd(ctx, "XFOO")
				return res(r, err)
			},
			"EHLO client.test\r\nXFOO\r\n", "250 ok"},
		{"QUIT does not greet", "220 hi\r\n221 bye\r\n",
			func(ctx context.Context, c *session.Client) string { r, err := c.Quit(ctx); return res(r, err) },
			"QUIT\r\n", "221 bye"},
		{"HasExtension greets on first use", "220 hi\r\n" + ehloOK,
			func(ctx context.Context, c *session.Client) string {
				r, v := c.HelloReply()
				return strings.Join([]string{bool2(c.HasExtension("PIPELINING")), v.String(), res(r, nil)}, " ")
			},
			"EHLO client.test\r\n", "true NONE 0"}, // HelloReply read before HasExtension greeted
		{"HelloReply after an automatic HELO fallback", "220 hi\r\n502 no\r\n250 mx.test\r\n250 ok\r\n",
			func(ctx context.Context, c *session.Client) string {
				if _, err := c.Noop(ctx); err != nil {
					return err.Error()
				}
				r, v := c.HelloReply()
				return v.String() + " " + res(r, nil)
			},
			"EHLO client.test\r\nHELO client.test\r\nNOOP\r\n", "HELO 250 mx.test"},
		{"EHLO 252: no extensions, no HELO fallback", "220 hi\r\n252-mx.test\r\n252 PIPELINING\r\n250 ok\r\n",
			func(ctx context.Context, c *session.Client) string {
				_, err := c.Noop(ctx)
				return bool2(c.ESMTP()) + " " + bool2(c.HasExtension("PIPELINING")) + " " + errText(err)
			},
			"EHLO client.test\r\nNOOP\r\n", "false false <nil>"},
		{"Quit clears the state", "220 hi\r\n" + ehloOK + "221 bye\r\n",
			func(ctx context.Context, c *session.Client) string {
				c.Ehlo(ctx, "")
				c.Quit(ctx)
				r, _ := c.HelloReply()
				return bool2(c.ESMTP()) + " " + bool2(c.HasExtension("PIPELINING")) + " " + strings.Join(c.Extensions().Keywords(), ",") + " " + res(r, nil) + " " + bool2(c.Connected())
			},
			"EHLO client.test\r\nQUIT\r\n", "false false  0 false"},
		{"535: no second mechanism", "220 hi\r\n" + ehloOK + "334 PDE+\r\n535 5.7.8 bad\r\n",
			func(ctx context.Context, c *session.Client) string {
				r, err := c.Login(ctx, "u", "p")
				return res(r, err)
			},
			"EHLO client.test\r\nAUTH CRAM-MD5\r\n[redacted]\r\n", "535 5.7.8 bad: session: authentication with CRAM-MD5 failed: credentials refused: [redacted]: 535 5.7.8 bad"},
		{"504: the next mechanism", "220 hi\r\n" + ehloOK + "504 5.5.4 no\r\n235 2.7.0 ok\r\n",
			func(ctx context.Context, c *session.Client) string {
				r, err := c.Login(ctx, "u", "p")
				return res(r, err)
			},
			"EHLO client.test\r\nAUTH CRAM-MD5\r\nAUTH PLAIN AHUAcA==\r\n", "235 2.7.0 ok"},
		{"454: no second mechanism", "220 hi\r\n" + ehloOK + "454 4.7.0 later\r\n",
			func(ctx context.Context, c *session.Client) string {
				_, err := c.Login(ctx, "u", "p")
				return errText(err)
			},
			"EHLO client.test\r\nAUTH CRAM-MD5\r\n", "session: authentication with CRAM-MD5 failed: AUTH CRAM-MD5: 454 4.7.0 later"},
		{"AUTH answered 250: a protocol error", "220 hi\r\n" + ehloOK + "250 fine\r\n",
			func(ctx context.Context, c *session.Client) string {
				_, err := c.Auth(ctx, auth.Plain("", "u", "p"))
				return bool2(errors.Is(err, session.ErrUnexpectedReply)) + " " + bool2(c.Connected())
			},
			"EHLO client.test\r\nAUTH PLAIN AHUAcA==\r\n", "true false"},
		{"LOGIN: user name as initial response, prompts by count", "220 hi\r\n" + ehloOK + "334 Password:\r\n235 ok\r\n",
			func(ctx context.Context, c *session.Client) string {
				r, err := c.Auth(ctx, auth.Login("u", "p"))
				return res(r, err)
			},
			"EHLO client.test\r\nAUTH LOGIN dQ==\r\ncA==\r\n", "235 ok"},
		{"an initial response too long for the AUTH line answers the empty challenge", "220 hi\r\n" + ehloOK + "334 \r\n235 ok\r\n",
			func(ctx context.Context, c *session.Client) string {
				r, err := c.Auth(ctx, auth.Plain("", "u", strings.Repeat("p", 400)))
				return res(r, err)
			},
			"EHLO client.test\r\nAUTH PLAIN\r\n[redacted]\r\n", "235 ok"},
		{"Putcmd then Getreply, SendRaw with two replies", "220 hi\r\n" + ehloOK + "250 one\r\n250 two\r\n251 three\r\n",
			func(ctx context.Context, c *session.Client) string {
				var out []string
				if _, err := c.Putcmd(ctx, "XONE"); err != nil {
					return err.Error()
				}
				r, err := c.Getreply(ctx)
				out = append(out, res(r, err))
				if _, err := c.SendRaw(ctx, []byte("XTWO\r\nXTHREE\r\n"), 2); err != nil {
					return err.Error()
				}
				for range 2 {
					r, err := c.Getreply(ctx)
					out = append(out, res(r, err))
				}
				_, err = c.Getreply(ctx)
				out = append(out, bool2(errors.Is(err, session.ErrNoReplyPending)))
				return strings.Join(out, "; ")
			},
			"EHLO client.test\r\nXONE\r\nXTWO\r\nXTHREE\r\n", "250 one; 250 two; 251 three; true"},
		{"a 10 KiB EHLO name is refused before sending", "220 hi\r\n",
			func(ctx context.Context, c *session.Client) string {
				_, err := c.Ehlo(ctx, strings.Repeat("a", 10<<10))
				var ue *protocol.UsageError
				return bool2(errors.As(err, &ue))
			},
			"", "true"},
		{"a Docmd line longer than any server takes", "220 hi\r\n" + ehloOK,
			func(ctx context.Context, c *session.Client) string {
				_, err := c.Docmd(ctx, strings.Repeat("X", 13000))
				var ue *protocol.UsageError
				return bool2(errors.As(err, &ue) && errors.Is(err, protocol.ErrCommandTooLong))
			},
			"EHLO client.test\r\n", "true"},
		{"CR in a recipient: a UsageError, nothing sent", "220 hi\r\n" + ehloOK,
			func(ctx context.Context, c *session.Client) string {
				_, err := c.SendMail(ctx, "a@b", []string{"c@d\r\nRSET"}, strings.NewReader("x\r\n"), nil)
				var ue *protocol.UsageError
				return bool2(errors.As(err, &ue))
			},
			"EHLO client.test\r\n", "true"},
		{"the enhanced code stays in RecipientsRefusedError", "220 hi\r\n" + ehloOK + "250 ok\r\n550 5.1.1 no such user\r\n354 go\r\n250 reset\r\n",
			func(ctx context.Context, c *session.Client) string {
				_, err := c.SendMail(ctx, "a@b", []string{"c@d"}, strings.NewReader("x\r\n"), nil)
				return errText(err)
			},
			"", "session: all 1 recipient(s) refused; <c@d>: 550 5.1.1 no such user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, conn := scripted(t, tt.script, o)
			got := tt.do(ctxTimeout(t), c)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if w := redactAuth(conn.Written()); tt.wire != "" || tt.name == "a 10 KiB EHLO name is refused before sending" {
				if diff := cmp.Diff(tt.wire, w); diff != "" {
					t.Errorf("wire (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// redactAuth hides CRAM-MD5's answer (it depends on nothing fixed here
// but is long) and long base64 lines.
func redactAuth(s string) string {
	lines := strings.SplitAfter(s, "\r\n")
	for i, l := range lines {
		if l != "" && !strings.HasPrefix(l, "AUTH ") && (i > 0 && strings.HasPrefix(lines[i-1], "AUTH CRAM-MD5") || len(l) > 100) {
			lines[i] = "[redacted]\r\n"
		}
	}
	return strings.Join(lines, "")
}

func res(r protocol.Reply, err error) string {
	s := r.String()
	if err != nil {
		s += ": " + err.Error()
	}
	return s
}

func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func bool2(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// A 554 greeting: QUIT is sent and answered (RFC 5321 §3.1), then a
// *ConnectError; a 421 greeting closes without a word.
func TestNegativeGreeting(t *testing.T) {
	for _, tt := range []struct{ script, wire string }{
		{"554 no service\r\n221 bye\r\n", "QUIT\r\n"},
		{"421 busy\r\n", ""},
	} {
		conn := newScriptConn(tt.script)
		_, err := session.NewClient(ctxTimeout(t), conn, serverName, opts())
		var ce *session.ConnectError
		var re *session.ReplyError
		if !errors.As(err, &ce) || !errors.As(err, &re) || re.Verb != protocol.VerbNone {
			t.Errorf("%q: NewClient = %v, want a *ConnectError with the greeting's reply", tt.script, err)
		}
		if got := conn.Written(); got != tt.wire {
			t.Errorf("%q: wire %q, want %q", tt.script, got, tt.wire)
		}
	}
}

// The guard: while one call is in progress (blocked in the server's
// NOOP), every method that talks to the server returns ErrConcurrentUse
// at once and sends nothing; the call in progress is undisturbed.
func TestConcurrentUse(t *testing.T) {
	inNoop, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	s := newServer(t, smtptest.Config{AuthMechanisms: []string{"PLAIN"}, Users: map[string]string{"u": "p"}, Hook: func(ev smtptest.HookEvent) smtptest.Action {
		if ev.Kind == smtptest.HookCommand && ev.Verb == "NOOP" {
			once.Do(func() { close(inNoop); <-release })
		}
		return smtptest.Action{}
	}})
	c := connect(t, transports[1], s, nil)
	ctx := ctxTimeout(t)
	if _, err := c.Ehlo(ctx, ""); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() {
		_, err := c.Noop(ctx)
		done <- err
	}()
	<-inNoop
	before := len(s.Received())
	body := func() *strings.Reader { return strings.NewReader("x\r\n") }
	calls := map[string]func() error{
		"Ehlo":               func() error { _, err := c.Ehlo(ctx, ""); return err },
		"Helo":               func() error { _, err := c.Helo(ctx, ""); return err },
		"EhloOrHeloIfNeeded": func() error { return c.EhloOrHeloIfNeeded(ctx) },
		"ExtensionsContext":  func() error { _, err := c.ExtensionsContext(ctx); return err },
		"StartTLS":           func() error { _, err := c.StartTLS(ctx, nil); return err },
		"Login":              func() error { _, err := c.Login(ctx, "u", "p"); return err },
		"LoginWith":          func() error { _, err := c.LoginWith(ctx, auth.ForPassword("u", "p")); return err },
		"Auth":               func() error { _, err := c.Auth(ctx, auth.Plain("", "u", "p")); return err },
		"Verify":             func() error { _, err := c.Verify(ctx, "u"); return err },
		"Expand":             func() error { _, err := c.Expand(ctx, "l"); return err },
		"Help":               func() error { _, err := c.Help(ctx, ""); return err },
		"Noop":               func() error { _, err := c.Noop(ctx); return err },
		"Reset":              func() error { _, err := c.Reset(ctx); return err },
		"Mail":               func() error { _, err := c.Mail(ctx, "a@b"); return err },
		"Rcpt":               func() error { _, err := c.Rcpt(ctx, "a@b"); return err },
		"Data":               func() error { _, err := c.Data(ctx, body()); return err },
		"Docmd":              func() error { _, err := c.Docmd(ctx, "XFOO"); return err },
		"Putcmd":             func() error { _, err := c.Putcmd(ctx, "XFOO"); return err },
		"Getreply":           func() error { _, err := c.Getreply(ctx); return err },
		"SendRaw":            func() error { _, err := c.SendRaw(ctx, []byte("NOOP\r\n"), 1); return err },
		"SendMail":           func() error { _, err := c.SendMail(ctx, "a@b", []string{"c@d"}, body(), nil); return err },
		"SendMessage": func() error {
			_, err := c.SendMessage(ctx, strings.NewReader("From: a@b\r\nTo: c@d\r\n\r\nx\r\n"), nil)
			return err
		},
		"SendBatch": func() error {
			return c.SendBatch(ctx, []session.Envelope{{From: "a@b", To: []string{"c@d"}, Body: body()}})[0].Err
		},
		"Quit": func() error { _, err := c.Quit(ctx); return err },
	}
	got := map[string]bool{}
	want := map[string]bool{}
	for name, call := range calls {
		got[name] = errors.Is(call(), session.ErrConcurrentUse)
		want[name] = true
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ErrConcurrentUse (-want +got):\n%s", diff)
	}
	if !c.Connected() {
		t.Error("a refused call closed the client")
	}
	if after := len(s.Received()); after != before {
		t.Errorf("refused calls sent %q", s.Received()[before:])
	}
	close(release)
	if err := <-done; err != nil {
		t.Errorf("the call in progress: %v", err)
	}
	if _, err := c.Noop(ctx); err != nil {
		t.Errorf("Noop after the guard released: %v", err)
	}
}

// Two goroutines on one Client: exactly one gets ErrConcurrentUse, and
// -race finds nothing.
func TestConcurrentUseTwoGoroutines(t *testing.T) {
	inNoop, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	s := newServer(t, smtptest.Config{Hook: func(ev smtptest.HookEvent) smtptest.Action {
		if ev.Kind == smtptest.HookCommand && ev.Verb == "NOOP" {
			once.Do(func() { close(inNoop); <-release })
		}
		return smtptest.Action{}
	}})
	c := connect(t, transports[1], s, nil)
	ctx := ctxTimeout(t)
	errs := make(chan error, 2)
	go func() { _, err := c.Noop(ctx); errs <- err }()
	<-inNoop
	go func() {
		_, err := c.SendMail(ctx, "a@b", []string{"c@d"}, strings.NewReader("x\r\n"), nil)
		errs <- err
	}()
	second := <-errs // the guard answers at once, while the first call waits
	close(release)
	first := <-errs
	if !errors.Is(second, session.ErrConcurrentUse) || first != nil {
		t.Errorf("second call %v, first %v; want ErrConcurrentUse and nil", second, first)
	}
	if n := len(s.Messages()); n != 0 {
		t.Errorf("%d messages stored", n)
	}
}

// Under TLSRequired a NOOP before any greeting greets, tries STARTTLS and,
// when it is not offered, closes: the NOOP never goes out in cleartext.
func TestTLSRequiredNoopBeforeHello(t *testing.T) {
	o := opts()
	o.TLSPolicy = session.TLSRequired
	c, conn := scripted(t, "220 hi\r\n250-mx.test\r\n250 PIPELINING\r\n250 ok\r\n", o)
	_, err := c.Noop(ctxTimeout(t))
	var ns *session.NotSupportedError
	if !errors.As(err, &ns) || ns.Extension != "STARTTLS" {
		t.Errorf("Noop = %v, want a *NotSupportedError for STARTTLS", err)
	}
	if got := conn.Written(); got != "EHLO client.test\r\n" {
		t.Errorf("wire %q: only EHLO may go out in cleartext", got)
	}
}
