package smtptest_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pion/transport/v3/test"

	"github.com/postwire/postwire/session/smtptest"
)

// upgrade runs the client side of the TLS handshake on c's conn.
func (c *client) upgrade(cfg *tls.Config) *tls.ConnectionState {
	c.t.Helper()
	if n := c.r.Buffered(); n != 0 {
		c.t.Fatalf("%d bytes buffered before the handshake", n)
	}
	tc := tls.Client(c.conn, cfg)
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("client handshake: %v", err)
	}
	c.conn = tc
	c.r = bufio.NewReader(tc)
	cs := tc.ConnectionState()
	return &cs
}

func TestStartTLS(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	serverTLS, clientTLS, err := smtptest.TLSConfigs()
	if err != nil {
		t.Fatal(err)
	}
	for _, how := range []string{"tcp", "pipe"} {
		t.Run(how, func(t *testing.T) {
			s := startServer(t, smtptest.Config{TLS: serverTLS, RequireTLS: true})
			c := dial(t, s, how)
			c.reply()
			if ehlo := c.cmd("EHLO c"); !strings.Contains(ehlo, "250 STARTTLS\r\n") {
				t.Errorf("STARTTLS not advertised: %q", ehlo)
			}
			got, want := c.converse([]step{
				{"STARTTLS now", "501 5.5.4"},
				{"MAIL FROM:<a@x>", "530 5.7.0"},
				{"STARTTLS", "220 2.0.0"},
			})
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			cs := c.upgrade(clientTLS) // verifies the certificate for "localhost"
			if cs.Version != tls.VersionTLS13 {
				t.Errorf("TLS version %x", cs.Version)
			}
			got, want = c.converse([]step{
				{"MAIL FROM:<a@x>", "503 5.5.1"}, // EHLO forgotten
				{"EHLO c", "250"},
				{"STARTTLS", "503 5.5.1"},
				{"MAIL FROM:<a@x>", "250 2.1.0"},
				{"RCPT TO:<b@x>", "250 2.1.5"},
				{"DATA", "354"},
				{"secret\r\n.", "250 2.0.0"},
			})
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if ehlo := c.cmd("EHLO c"); strings.Contains(ehlo, "STARTTLS") {
				t.Errorf("STARTTLS advertised under TLS: %q", ehlo)
			}
			msgs := s.Messages()
			if len(msgs) != 1 || !msgs[0].TLS || string(msgs[0].Data) != "secret\r\n" {
				t.Errorf("Messages = %+v", msgs)
			}
			// Received holds the decrypted conversation, not TLS records.
			wantRecv := "EHLO c\r\nSTARTTLS now\r\nMAIL FROM:<a@x>\r\nSTARTTLS\r\n" +
				"MAIL FROM:<a@x>\r\nEHLO c\r\nSTARTTLS\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\nsecret\r\n.\r\nEHLO c\r\n"
			if diff := cmp.Diff(wantRecv, string(s.Received())); diff != "" {
				t.Errorf("Received (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStartTLSDiscardsPipelinedInput(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	serverTLS, clientTLS, err := smtptest.TLSConfigs()
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, smtptest.Config{TLS: serverTLS})
	c := newClient(t, s.Pipe())
	c.reply()
	c.cmd("EHLO c")
	// A client must not pipeline after STARTTLS; whatever it sent is dropped
	// before the handshake (the server-side CVE-2011-0411 defence).
	c.write("STARTTLS\r\nMAIL FROM:<evil@x>\r\n")
	if got := code(c.reply()); got != "220 2.0.0" {
		t.Fatalf("STARTTLS: %s", got)
	}
	c.upgrade(clientTLS)
	if got := code(c.cmd("RCPT TO:<b@x>")); got != "503 5.5.1" {
		t.Errorf("injected MAIL was executed: RCPT got %s", got)
	}
}

func TestCertificate(t *testing.T) {
	cert, pool, err := smtptest.NewCertificate("mx.test", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"mx.test", "192.0.2.1"} {
		if _, err := cert.Leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: pool}); err != nil {
			t.Errorf("Verify(%s): %v", name, err)
		}
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{DNSName: "other.test", Roots: pool}); err == nil {
		t.Errorf("Verify(other.test) succeeded")
	}
	_, client, err := smtptest.TLSConfigs()
	if err != nil || client.ServerName != "localhost" || client.RootCAs == nil {
		t.Errorf("TLSConfigs client %+v, %v", client, err)
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestAuth(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	users := map[string]string{"alice": "secret"}
	tests := []struct {
		name     string
		steps    []step
		wantUser string
	}{
		{"PLAIN initial response", []step{
			{"AUTH PLAIN " + b64("\x00alice\x00secret"), "235 2.7.0"},
			{"AUTH PLAIN " + b64("\x00alice\x00secret"), "503 5.5.1"},
		}, "alice"},
		{"PLAIN with challenge", []step{
			{"AUTH PLAIN", "334"},
			{b64("alice\x00alice\x00secret"), "235 2.7.0"},
		}, "alice"},
		{"PLAIN bad password", []step{
			{"AUTH PLAIN " + b64("\x00alice\x00wrong"), "535 5.7.8"},
			{"AUTH plain " + b64("\x00bob\x00secret"), "535 5.7.8"},
		}, ""},
		{"LOGIN", []step{
			{"AUTH LOGIN", "334"},
			{b64("alice"), "334"},
			{b64("secret"), "235 2.7.0"},
		}, "alice"},
		{"LOGIN cancelled", []step{
			{"AUTH LOGIN " + b64("alice"), "334"},
			{"*", "501 5.0.0"},
			{"NOOP", "250 2.0.0"},
		}, ""},
		{"bad base64", []step{
			{"AUTH PLAIN !!!", "501 5.5.2"},
			{"AUTH LOGIN", "334"},
			{"!!!", "501 5.5.2"},
		}, ""},
		{"malformed PLAIN", []step{
			{"AUTH PLAIN " + b64("no-nuls"), "501 5.5.2"},
		}, ""},
		{"unknown mechanism", []step{
			{"AUTH FOO", "504 5.5.4"},
			{"AUTH SCRAM-SHA-256-PLUS", "504 5.5.4"}, // no TLS 1.3: not offered
			{"AUTH", "501 5.5.4"},
		}, ""},
		{"during a transaction", []step{
			{"MAIL FROM:<a@x>", "250 2.1.0"},
			{"AUTH PLAIN " + b64("\x00alice\x00secret"), "503 5.5.1"},
		}, ""},
		{"empty initial response", []step{
			{"AUTH PLAIN =", "501 5.5.2"},
		}, ""},
		{"line too long inside the exchange", []step{
			{"AUTH LOGIN", "334"},
			{strings.Repeat("A", 5000), "500 5.5.2"},
			{"NOOP", "250 2.0.0"},
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, smtptest.Config{Users: users})
			c := newClient(t, s.Pipe())
			c.reply()
			if ehlo := c.cmd("EHLO c"); !strings.Contains(ehlo, "250 AUTH CRAM-MD5 LOGIN OAUTHBEARER PLAIN SCRAM-SHA-1 SCRAM-SHA-256 XOAUTH2\r\n") {
				t.Errorf("EHLO: %q", ehlo)
			}
			got, want := c.converse(tt.steps)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			c.write("RSET\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\nx\r\n.\r\n")
			for range 5 {
				c.reply()
			}
			if msgs := s.Messages(); len(msgs) != 1 || msgs[0].AuthUser != tt.wantUser {
				t.Errorf("Messages = %+v, want AuthUser %q", msgs, tt.wantUser)
			}
		})
	}
}

func TestAuthLoginChallenges(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	s := startServer(t, smtptest.Config{Users: map[string]string{"u": "p"}, AuthMechanisms: []string{"LOGIN"}})
	c := newClient(t, s.Pipe())
	c.reply()
	c.cmd("EHLO c")
	got := []string{c.cmd("AUTH LOGIN"), c.cmd(b64("u")), c.cmd(b64("p"))}
	want := []string{"334 " + b64("Username:") + "\r\n", "334 " + b64("Password:") + "\r\n", "235 2.7.0 authentication successful\r\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestAuthPlusOverTLS13(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	serverTLS, clientTLS, err := smtptest.TLSConfigs()
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, smtptest.Config{TLS: serverTLS, Users: map[string]string{"u": "p"}, AuthOnlyAfterTLS: true})
	c := newClient(t, s.Pipe())
	c.reply()
	if ehlo := c.cmd("EHLO c"); strings.Contains(ehlo, "AUTH") {
		t.Errorf("AUTH offered before TLS: %q", ehlo)
	}
	if got := code(c.cmd("AUTH PLAIN " + b64("\x00u\x00p"))); got != "530 5.7.0" {
		t.Errorf("AUTH before TLS: %s", got)
	}
	c.cmd("STARTTLS")
	c.upgrade(clientTLS)
	if ehlo := c.cmd("EHLO c"); !strings.Contains(ehlo, " SCRAM-SHA-256-PLUS ") {
		t.Errorf("PLUS not offered under TLS 1.3: %q", ehlo)
	}
	if got := code(c.cmd("AUTH PLAIN " + b64("\x00u\x00p"))); got != "235 2.7.0" {
		t.Errorf("AUTH under TLS: %s", got)
	}
}

func TestImplicitTLS(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	serverTLS, clientTLS, err := smtptest.TLSConfigs()
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, smtptest.Config{TLS: serverTLS, ImplicitTLS: true})
	c := dial(t, s, "tcp")
	c.upgrade(clientTLS)
	if got := c.reply(); got != "220 smtptest.local ESMTP smtptest\r\n" {
		t.Errorf("greeting %q", got)
	}
	if ehlo := c.cmd("EHLO c"); strings.Contains(ehlo, "STARTTLS") {
		t.Errorf("STARTTLS offered on SMTPS: %q", ehlo)
	}
	c.write("MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n")
	c.reply()
	c.reply()
	c.reply()
	c.cmd("tls\r\n.")
	if msgs := s.Messages(); len(msgs) != 1 || !msgs[0].TLS {
		t.Errorf("Messages = %+v", msgs)
	}
}

func TestStartTLSInjection(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	serverTLS, _, err := smtptest.TLSConfigs()
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, smtptest.Config{TLS: serverTLS, Hook: onVerb(smtptest.HookCommand, "STARTTLS", smtptest.Action{After: "250 injected\r\n"})})
	c := dial(t, s, "tcp")
	c.reply()
	c.cmd("EHLO c")
	if got := c.cmd("STARTTLS"); got != "220 2.0.0 ready to start TLS\r\n" {
		t.Errorf("STARTTLS: %q", got)
	}
	// The injected bytes arrive before any handshake message.
	if got := c.reply(); got != "250 injected\r\n" {
		t.Errorf("after 220: %q", got)
	}
	c.conn.Close()
	waitConns(t, s, 1)
	if r := s.Conns()[0]; r.Err == nil || !strings.Contains(r.Err.Error(), "TLS handshake") {
		t.Errorf("conversation ended with %v, want a handshake error", r.Err)
	}
}
