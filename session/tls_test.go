package session_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/postwire/postwire/protocol"
	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/session/smtptest"
	"github.com/postwire/postwire/transport"
)

// tlsConfigs returns a server config for serverName (and 127.0.0.1) and a
// client config trusting it with ServerName left empty, so that the
// session's default (the host dialled) is what gets checked.
func tlsConfigs(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	server, client, err := smtptest.TLSConfigs(serverName, "127.0.0.1")
	if err != nil {
		t.Fatalf("TLSConfigs: %v", err)
	}
	client.ServerName = ""
	return server, client
}

func TestStartTLS(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr transportKind) {
		srvCfg, cliCfg := tlsConfigs(t)
		s := newServer(t, smtptest.Config{TLS: srvCfg})
		o := opts()
		o.TLSConfig = cliCfg
		c := connect(t, tr, s, o)
		ctx := ctxTimeout(t)
		if err := c.EhloOrHeloIfNeeded(ctx); err != nil {
			t.Fatal(err)
		}
		if !c.HasExtension("starttls") || c.TLS() {
			t.Fatalf("before: STARTTLS advertised %v, TLS %v", c.HasExtension("STARTTLS"), c.TLS())
		}
		if _, err := c.StartTLS(ctx, nil); err != nil {
			t.Fatalf("StartTLS: %v", err)
		}
		if !c.TLS() || c.HasExtension("STARTTLS") || !c.HasExtension("PIPELINING") {
			t.Errorf("after: TLS %v, STARTTLS advertised %v, PIPELINING %v", c.TLS(), c.HasExtension("STARTTLS"), c.HasExtension("PIPELINING"))
		}
		if _, ok := c.Conn().(*tls.Conn); !ok {
			t.Errorf("Conn() is %T, want *tls.Conn", c.Conn())
		}
		if _, err := c.SendMail(ctx, "a@x.test", []string{"b@y.test"}, strings.NewReader("secret\r\n"), nil); err != nil {
			t.Fatalf("SendMail over TLS: %v", err)
		}
		if _, err := c.Quit(ctx); err != nil {
			t.Errorf("Quit: %v", err)
		}
		msgs := s.Messages()
		if len(msgs) != 1 || !msgs[0].TLS {
			t.Errorf("messages = %+v, want one received over TLS", msgs)
		}
		// The client greeted twice: before and after the handshake.
		if n := strings.Count(string(s.Received()), "EHLO client.test\r\n"); n != 2 {
			t.Errorf("EHLO sent %d times, want 2", n)
		}
	})
}

func TestStartTLSFailures(t *testing.T) {
	srvCfg, cliCfg := tlsConfigs(t)
	tests := []struct {
		name    string
		cfg     smtptest.Config
		host    string
		check   func(error) bool
		usable  bool // the connection still works afterwards
		wantErr string
	}{
		{"wrong host name", smtptest.Config{TLS: srvCfg}, "wrong.test",
			func(err error) bool { var he x509.HostnameError; return errors.As(err, &he) }, false, "x509.HostnameError"},
		{"not advertised", smtptest.Config{}, serverName,
			func(err error) bool {
				var ns *session.NotSupportedError
				return errors.As(err, &ns) && ns.Extension == "STARTTLS"
			}, true, "NotSupportedError{STARTTLS}"},
		{"refused", smtptest.Config{TLS: srvCfg, Hook: func(ev smtptest.HookEvent) smtptest.Action {
			if ev.Verb == "STARTTLS" {
				return smtptest.Action{Raw: "454 4.7.0 TLS not available\r\n"}
			}
			return smtptest.Action{}
		}}, serverName,
			func(err error) bool { var re *session.ReplyError; return errors.As(err, &re) && re.Code == 454 }, true, "454 ReplyError"},
		{"injection after 220", smtptest.Config{TLS: srvCfg, Hook: func(ev smtptest.HookEvent) smtptest.Action {
			if ev.Verb == "STARTTLS" {
				return smtptest.Action{After: "250-injected\r\n250 PIPELINING\r\n"}
			}
			return smtptest.Action{}
		}}, serverName,
			func(err error) bool { return errors.Is(err, protocol.ErrTLSInjection) }, false, "ErrTLSInjection"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachTransport(t, func(t *testing.T, tr transportKind) {
				s := newServer(t, tt.cfg)
				o := opts()
				o.TLSConfig = cliCfg
				ctx := ctxTimeout(t)
				c, err := session.NewClient(ctx, tr.connect(t, s), tt.host, o)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				_, err = c.StartTLS(ctx, nil)
				if !tt.check(err) {
					t.Fatalf("StartTLS error = %v (%T), want %s", err, err, tt.wantErr)
				}
				_, err = c.Noop(ctx)
				if tt.usable && err != nil {
					t.Errorf("Noop after a harmless STARTTLS failure: %v", err)
				}
				if !tt.usable && !errors.Is(err, session.ErrClosed) {
					t.Errorf("Noop after a fatal STARTTLS failure = %v, want ErrClosed", err)
				}
			})
		})
	}
}

// serveTLS serves s on a loopback TLS listener (implicit TLS) and returns
// its address; everything stops at the end of the test.
func serveTLS(t *testing.T, s *smtptest.Server, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.ServeConn(conn)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.Close()
		<-done
	})
	return ln.Addr().String()
}

func TestDialTLS(t *testing.T) {
	srvCfg, cliCfg := tlsConfigs(t)
	s := smtptest.NewServer(smtptest.Config{Hostname: serverName})
	addr := serveTLS(t, s, srvCfg)
	ctx := ctxTimeout(t)

	o := opts()
	o.TLSConfig = cliCfg // ServerName empty: 127.0.0.1 from addr is checked
	c, err := session.DialTLS(ctx, addr, o)
	if err != nil {
		t.Fatalf("DialTLS: %v", err)
	}
	if !c.TLS() || c.Greeting().Code != 220 {
		t.Errorf("TLS %v, greeting %v", c.TLS(), c.Greeting())
	}
	if _, err := c.SendMail(ctx, "a@x.test", []string{"b@y.test"}, strings.NewReader("hi\r\n"), nil); err != nil {
		t.Fatalf("SendMail: %v", err)
	}
	if _, err := c.Quit(ctx); err != nil {
		t.Errorf("Quit: %v", err)
	}
	if msgs := s.Messages(); len(msgs) != 1 {
		t.Errorf("stored %d messages, want 1", len(msgs))
	}

	bad := cliCfg.Clone()
	bad.ServerName = "wrong.test"
	o.TLSConfig = bad
	_, err = session.DialTLS(ctx, addr, o)
	var ce *session.ConnectError
	var he x509.HostnameError
	if !errors.As(err, &ce) || !errors.As(err, &he) {
		t.Fatalf("DialTLS with the wrong name = %v, want *ConnectError wrapping x509.HostnameError", err)
	}

	o.TLSConfig = nil // system roots: the self-signed certificate is refused
	_, err = session.DialTLS(ctx, addr, o)
	var ua x509.UnknownAuthorityError
	if !errors.As(err, &ua) {
		t.Fatalf("DialTLS without trusting the certificate = %v, want x509.UnknownAuthorityError", err)
	}
}

func TestDialErrors(t *testing.T) {
	ctx := ctxTimeout(t)
	if _, err := session.Dial(ctx, "bad host:25", nil); err == nil {
		t.Errorf("Dial with a malformed address succeeded")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err := session.Dial(cctx, "127.0.0.1:1", nil)
	var ce *session.ConnectError
	if !errors.As(err, &ce) || !errors.Is(err, context.Canceled) {
		t.Errorf("Dial with a cancelled context = %v, want *ConnectError matching context.Canceled", err)
	}
	if _, err := session.DialLMTP(ctx, "relative/path", nil); err == nil {
		t.Errorf("DialLMTP with a relative path succeeded")
	}
}

// pipeDialer records the address it is asked for and connects to a
// smtptest server over a pipe, optionally behind implicit TLS.
type pipeDialer struct {
	s      *smtptest.Server
	tls    *tls.Config
	addrs  []string
	served chan struct{}
}

func (d *pipeDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.addrs = append(d.addrs, network+" "+addr)
	if d.tls == nil {
		return d.s.Pipe(), nil
	}
	client, server := transport.Pipe()
	go func() {
		defer close(d.served)
		d.s.ServeConn(tls.Server(server, d.tls))
	}()
	return client, nil
}

func TestDialDefaultPorts(t *testing.T) {
	srvCfg, cliCfg := tlsConfigs(t)
	tests := []struct {
		name string
		dial func(ctx context.Context, addr string, o *session.Options) (*session.Client, error)
		addr string
		tls  bool
		lmtp bool
		want string
	}{
		{"Dial", session.Dial, serverName, false, false, "tcp mx.test:25"},
		{"Dial with port", session.Dial, serverName + ":587", false, false, "tcp mx.test:587"},
		{"Dial IPv6", session.Dial, "[::1]", false, false, "tcp [::1]:25"},
		{"DialTLS", session.DialTLS, serverName, true, false, "tcp mx.test:465"},
		{"DialLMTP", session.DialLMTP, serverName, false, true, "tcp mx.test:24"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := smtptest.NewServer(smtptest.Config{Hostname: serverName, LMTP: tt.lmtp})
			d := &pipeDialer{s: s, served: make(chan struct{})}
			if tt.tls {
				d.tls = srvCfg
			}
			o := opts()
			o.Dialer = d
			o.TLSConfig = cliCfg
			ctx := ctxTimeout(t)
			c, err := tt.dial(ctx, tt.addr, o)
			if err != nil {
				s.Close()
				t.Fatalf("dial: %v", err)
			}
			if _, err := c.SendMail(ctx, "a@x.test", []string{"b@y.test"}, strings.NewReader("x\r\n"), nil); err != nil {
				t.Errorf("SendMail: %v", err)
			}
			c.Quit(ctx)
			s.Close()
			if tt.tls {
				<-d.served
			}
			if diff := cmp.Diff([]string{tt.want}, d.addrs); diff != "" {
				t.Errorf("dialled (-want +got):\n%s", diff)
			}
			if c.TLS() != tt.tls || c.LMTP() != tt.lmtp {
				t.Errorf("TLS %v, LMTP %v", c.TLS(), c.LMTP())
			}
		})
	}
}

func TestTLSPolicy(t *testing.T) {
	srvCfg, cliCfg := tlsConfigs(t)
	refuse := func(ev smtptest.HookEvent) smtptest.Action {
		if ev.Verb == "STARTTLS" {
			return smtptest.Action{Raw: "454 4.7.0 TLS not available\r\n"}
		}
		return smtptest.Action{}
	}
	tests := []struct {
		name    string
		policy  session.TLSPolicy
		cfg     smtptest.Config
		wantTLS bool   // the message went over TLS
		wantErr string // "" = success; else the kind of error
	}{
		{"manual", session.TLSManual, smtptest.Config{TLS: srvCfg}, false, ""},
		{"opportunistic, offered", session.TLSOpportunistic, smtptest.Config{TLS: srvCfg}, true, ""},
		{"opportunistic, not offered", session.TLSOpportunistic, smtptest.Config{}, false, ""},
		{"opportunistic, refused", session.TLSOpportunistic, smtptest.Config{TLS: srvCfg, Hook: refuse}, false, ""},
		{"required, offered", session.TLSRequired, smtptest.Config{TLS: srvCfg}, true, ""},
		{"required, not offered", session.TLSRequired, smtptest.Config{}, false, "not supported"},
		{"required, refused", session.TLSRequired, smtptest.Config{TLS: srvCfg, Hook: refuse}, false, "reply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, tt.cfg)
			o := opts()
			o.TLSConfig = cliCfg
			o.TLSPolicy = tt.policy
			c := connect(t, transports[0], s, o)
			ctx := ctxTimeout(t)
			_, err := c.SendMail(ctx, "a@x.test", []string{"b@y.test"}, strings.NewReader("x\r\n"), nil)
			var ns *session.NotSupportedError
			var re *session.ReplyError
			switch tt.wantErr {
			case "":
				if err != nil {
					t.Fatalf("SendMail: %v", err)
				}
				if msgs := s.Messages(); len(msgs) != 1 || msgs[0].TLS != tt.wantTLS {
					t.Errorf("messages %+v, want one with TLS %v", msgs, tt.wantTLS)
				}
			case "not supported":
				if !errors.As(err, &ns) || ns.Extension != "STARTTLS" {
					t.Fatalf("SendMail = %v, want NotSupportedError{STARTTLS}", err)
				}
			case "reply":
				if !errors.As(err, &re) || re.Code != 454 {
					t.Fatalf("SendMail = %v, want the 454 reply", err)
				}
			}
			if tt.wantErr != "" {
				if strings.Contains(string(s.Received()), "MAIL FROM") {
					t.Errorf("MAIL sent in cleartext under TLSRequired:\n%s", s.Received())
				}
				if _, err := c.Noop(ctx); !errors.Is(err, session.ErrClosed) {
					t.Errorf("Noop after a required STARTTLS failed = %v, want ErrClosed", err)
				}
			}
		})
	}
}
