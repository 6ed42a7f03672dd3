package session_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/postwire/postwire/auth"
	"github.com/postwire/postwire/protocol"
	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/session/smtptest"
	"github.com/postwire/postwire/transport"
)

// Regression tests for TLS-policy and AUTH bugs found while attacking the
// session with hostile servers (see hostile_test.go for scriptConn).

// TLSRequired holds whatever the caller did first: a manual Ehlo or Helo
// before SendMail or Login must not let the message or the credentials go
// out in cleartext when the server does not offer STARTTLS (a MITM
// stripped it) or offers it in lower case.
func TestTLSRequiredAfterManualHello(t *testing.T) {
	const stripped = "220 mx\r\n250-mx\r\n250-PIPELINING\r\n250 AUTH PLAIN LOGIN\r\n" +
		"250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n235 ok\r\n221 bye\r\n"
	const helo = "220 mx\r\n250 mx\r\n250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n221 bye\r\n"
	tests := []struct {
		name   string
		script string
		hello  func(*session.Client) error
		call   func(*session.Client) error
	}{
		{"Ehlo then SendMail", stripped,
			func(c *session.Client) error { _, err := c.Ehlo(ctxTimeout(t), ""); return err },
			func(c *session.Client) error {
				_, err := c.SendMail(ctxTimeout(t), "a@x.test", []string{"b@y.test"}, strings.NewReader("x\r\n"), nil)
				return err
			}},
		{"Ehlo then Login", stripped,
			func(c *session.Client) error { _, err := c.Ehlo(ctxTimeout(t), ""); return err },
			func(c *session.Client) error {
				_, err := c.Login(ctxTimeout(t), "user", "secret")
				return err
			}},
		{"Ehlo then Mail", stripped,
			func(c *session.Client) error { _, err := c.Ehlo(ctxTimeout(t), ""); return err },
			func(c *session.Client) error { _, err := c.Mail(ctxTimeout(t), "a@x.test"); return err }},
		{"Ehlo then Docmd", stripped,
			func(c *session.Client) error { _, err := c.Ehlo(ctxTimeout(t), ""); return err },
			func(c *session.Client) error { _, err := c.Docmd(ctxTimeout(t), "XCLIENT ADDR=192.0.2.7"); return err }},
		{"Docmd first", stripped,
			func(c *session.Client) error { return nil },
			func(c *session.Client) error { _, err := c.Docmd(ctxTimeout(t), "XCLIENT ADDR=192.0.2.7"); return err }},
		{"Helo then SendMail", helo,
			func(c *session.Client) error { _, err := c.Helo(ctxTimeout(t), ""); return err },
			func(c *session.Client) error {
				_, err := c.SendMail(ctxTimeout(t), "a@x.test", []string{"b@y.test"}, strings.NewReader("x\r\n"), nil)
				return err
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := opts()
			o.TLSPolicy = session.TLSRequired
			o.AllowInsecureAuth = true
			c, conn := scripted(t, tt.script, o)
			if err := tt.hello(c); err != nil {
				t.Fatalf("hello: %v", err)
			}
			err := tt.call(c)
			var ns *session.NotSupportedError
			if !errors.As(err, &ns) || ns.Extension != "STARTTLS" {
				t.Fatalf("error = %v, want NotSupportedError{STARTTLS}", err)
			}
			for _, line := range strings.Split(conn.Written(), "\r\n") {
				verb, _, _ := strings.Cut(line, " ")
				switch verb {
				case "", "EHLO", "HELO":
				default:
					t.Errorf("sent %q in cleartext under TLSRequired; wrote:\n%s", line, conn.Written())
				}
			}
			if _, err := c.Noop(ctxTimeout(t)); !errors.Is(err, session.ErrClosed) {
				t.Errorf("Noop after the policy failed = %v, want ErrClosed", err)
			}
		})
	}
}

// Bytes the server sends after its 220 to STARTTLS in the same segment are
// an injection (CVE-2011-0411): the client must stop before the TLS
// handshake, with ErrTLSInjection, not start TLS with whoever sent them.
func TestStartTLSInjectionSameRead(t *testing.T) {
	const script = "220 mx\r\n250-mx\r\n250 STARTTLS\r\n220 2.0.0 go ahead\r\n250-injected\r\n250 AUTH PLAIN\r\n"
	c, conn := scripted(t, script, nil)
	conn.eagerFrom = 2 // the injected reply comes with the 220
	_, err := c.StartTLS(ctxTimeout(t), nil)
	if !errors.Is(err, protocol.ErrTLSInjection) {
		t.Fatalf("StartTLS error = %v (%T), want ErrTLSInjection", err, err)
	}
	if got, want := conn.Written(), "EHLO client.test\r\nSTARTTLS\r\n"; got != want {
		t.Errorf("wrote %q, want %q (no TLS handshake after an injection)", got, want)
	}
	if _, err := c.Noop(ctxTimeout(t)); !errors.Is(err, session.ErrClosed) {
		t.Errorf("Noop after the injection = %v, want ErrClosed", err)
	}
}

// An AUTH exchange follows the core: any 3xx is a challenge (the core is
// then waiting for an answer), and a server that does not end the exchange
// after the client cancels it ("*") leaves nothing usable: the connection
// is closed rather than left where every later command is refused.
func TestAuthIntermediateReplies(t *testing.T) {
	tests := []struct {
		name       string
		script     string
		wantUsable bool
		wantWrite  string
	}{
		{"300 to AUTH is a challenge", "220 mx\r\n250-mx\r\n250 AUTH PLAIN\r\n300 not base64!\r\n501 5.7.0 cancelled\r\n250 ok\r\n", true,
			"EHLO client.test\r\nAUTH PLAIN AHUAcA==\r\n*\r\nNOOP\r\n"},
		{"334 to the cancel", "220 mx\r\n250-mx\r\n250 AUTH PLAIN\r\n334 !!!\r\n334 \r\n250 ok\r\n", false,
			"EHLO client.test\r\nAUTH PLAIN AHUAcA==\r\n*\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := opts()
			o.AllowInsecureAuth = true
			c, conn := scripted(t, tt.script, o)
			ctx := ctxTimeout(t)
			_, err := c.Auth(ctx, auth.Plain("", "u", "p"))
			var ae *session.AuthError
			if !errors.As(err, &ae) {
				t.Fatalf("Auth error = %v (%T), want *AuthError", err, err)
			}
			_, err = c.Noop(ctx)
			if tt.wantUsable && err != nil {
				t.Errorf("Noop after a refused AUTH: %v", err)
			}
			if !tt.wantUsable && !errors.Is(err, session.ErrClosed) {
				t.Errorf("Noop after an AUTH exchange the server would not end = %v, want ErrClosed", err)
			}
			if got := conn.Written(); got != tt.wantWrite {
				t.Errorf("wrote %q, want %q", got, tt.wantWrite)
			}
		})
	}
}

// After the TLS handshake the connection cannot go back to cleartext, so
// TLSOpportunistic must not treat a refused EHLO there as "stay in
// cleartext and carry on" (the core then refuses every command): the
// client greets with HELO, as on a fresh connection, and the message goes
// over TLS.
func TestOpportunisticEhloRefusedAfterTLS(t *testing.T) {
	srvCfg, cliCfg := tlsConfigs(t)
	s := newServer(t, smtptest.Config{TLS: srvCfg, Hook: func(ev smtptest.HookEvent) smtptest.Action {
		if ev.Verb == "EHLO" && ev.Conn.TLS {
			return smtptest.Action{Raw: "502 5.5.1 EHLO not here\r\n"}
		}
		return smtptest.Action{}
	}})
	o := opts()
	o.TLSConfig = cliCfg
	o.TLSPolicy = session.TLSOpportunistic
	c := connect(t, transports[0], s, o)
	ctx := ctxTimeout(t)
	if _, err := c.SendMail(ctx, "a@x.test", []string{"b@y.test"}, strings.NewReader("x\r\n"), nil); err != nil {
		t.Fatalf("SendMail: %v", err)
	}
	if msgs := s.Messages(); len(msgs) != 1 || !msgs[0].TLS {
		t.Errorf("messages %+v, want one sent over TLS", msgs)
	}
}

// A SCRAM exchange the server "accepts" without proving it knows the
// password closes the connection; later calls get ErrClosed wrapping the
// typed *AuthError, not a bare mechanism error.
func TestAuthUnverifiedServerClosesTyped(t *testing.T) {
	o := opts()
	c, _ := scripted(t, "220 mx\r\n250-mx\r\n250 AUTH SCRAM-SHA-256\r\n235 2.7.0 welcome, whoever you are\r\n", o)
	ctx := ctxTimeout(t)
	_, err := c.Login(ctx, "u", "p")
	var ae *session.AuthError
	if !errors.As(err, &ae) || !errors.Is(err, auth.ErrServerSignature) {
		t.Fatalf("Login error = %v, want *AuthError wrapping auth.ErrServerSignature", err)
	}
	_, err = c.Noop(ctx)
	if !errors.Is(err, session.ErrClosed) || !errors.As(err, &ae) {
		t.Errorf("Noop after an unverified server = %v (%T), want ErrClosed wrapping *AuthError", err, err)
	}
}

// A lowercase "starttls" in the EHLO reply counts: TLSRequired starts TLS
// (here the handshake fails, the script being over) and nothing but EHLO
// and STARTTLS goes out in cleartext.
func TestTLSRequiredLowercaseStartTLS(t *testing.T) {
	o := opts()
	o.TLSPolicy = session.TLSRequired
	c, conn := scripted(t, "220 mx\r\n250-mx\r\n250 starttls\r\n220 go ahead\r\n", o)
	_, err := c.SendMail(ctxTimeout(t), "a@x.test", []string{"b@y.test"}, strings.NewReader("x\r\n"), nil)
	var he *transport.HandshakeError
	if !errors.As(err, &he) {
		t.Fatalf("SendMail error = %v (%T), want *transport.HandshakeError", err, err)
	}
	const clear = "EHLO client.test\r\nSTARTTLS\r\n"
	if w := conn.Written(); !strings.HasPrefix(w, clear) || strings.Contains(w[len(clear):], "MAIL") {
		t.Errorf("wrote %q, want %q then only TLS records", w, clear)
	}
}

// When the server refuses both EHLO and HELO after the handshake,
// TLSOpportunistic reports it (*HeloError); it does not carry on as if
// still in cleartext.
func TestOpportunisticHelloRefusedAfterTLS(t *testing.T) {
	srvCfg, cliCfg := tlsConfigs(t)
	s := newServer(t, smtptest.Config{TLS: srvCfg, Hook: func(ev smtptest.HookEvent) smtptest.Action {
		if (ev.Verb == "EHLO" || ev.Verb == "HELO") && ev.Conn.TLS {
			return smtptest.Action{Raw: "554 5.7.1 go away\r\n"}
		}
		return smtptest.Action{}
	}})
	o := opts()
	o.TLSConfig = cliCfg
	o.TLSPolicy = session.TLSOpportunistic
	c := connect(t, transports[0], s, o)
	_, err := c.SendMail(ctxTimeout(t), "a@x.test", []string{"b@y.test"}, strings.NewReader("x\r\n"), nil)
	var he *session.HeloError
	if !errors.As(err, &he) || he.Reply.Code != 554 {
		t.Fatalf("SendMail error = %v (%T), want the *HeloError", err, err)
	}
	if strings.Contains(string(s.Received()), "MAIL FROM") {
		t.Errorf("MAIL sent without a greeting:\n%s", s.Received())
	}
}
