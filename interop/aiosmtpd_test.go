//go:build interop

package interop

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/postwire/postwire/auth"
	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/transport"
)

// sendFunc sends m over c, failing the test on an error. sendWays has the two ways a message
// goes out: SendMail (envelope given) and SendMessage (envelope from the headers); both must
// store the same bytes.
type sendFunc func(t *testing.T, c *session.Client, sender string, rcpts []string, m message) *session.SendResult

var sendWays = []struct {
	name string
	send sendFunc
}{
	{"SendMail", func(t *testing.T, c *session.Client, sender string, rcpts []string, m message) *session.SendResult {
		t.Helper()
		res, err := c.SendMail(testContext(t), sender, rcpts, m.body(), &session.SendOptions{EightBitMIME: m.eightBit})
		if err != nil {
			t.Fatalf("SendMail: %v", err)
		}
		return res
	}},
	{"SendMessage", func(t *testing.T, c *session.Client, sender string, rcpts []string, m message) *session.SendResult {
		t.Helper()
		res, err := c.SendMessage(testContext(t), m.body(), &session.SendOptions{EightBitMIME: m.eightBit})
		if err != nil {
			t.Fatalf("SendMessage: %v", err)
		}
		return res
	}},
}

// wantMailOptions is the MAIL parameters the session must choose for m: SIZE when the body's
// length is known (a *bytes.Reader) and the server offers SIZE, BODY=8BITMIME when asked.
func wantMailOptions(m message, size bool, extra ...string) []string {
	var o []string
	if size && !m.large {
		// RFC 1870: the octets as transmitted (line endings made CRLF), which is
		// exactly what arrives.
		o = append(o, "SIZE="+strconv.Itoa(len(m.want)))
	}
	if m.eightBit {
		o = append(o, "BODY=8BITMIME")
	}
	return sorted(append(o, extra...))
}

func checkAccepted(t *testing.T, res *session.SendResult, rcpts []string) {
	t.Helper()
	if len(res.Refused) != 0 {
		t.Errorf("refused recipients: %v", res.Refused)
	}
	if !res.Reply.Positive() {
		t.Errorf("final reply %v, want 2xx", res.Reply)
	}
	var got []string
	for _, r := range res.Recipients {
		if r.Err != nil {
			t.Errorf("recipient %s: %v", r.Recipient, r.Err)
		}
		got = append(got, r.Recipient)
	}
	if d := cmp.Diff(rcpts, got); d != "" {
		t.Errorf("SendResult.Recipients (-want +got):\n%s", d)
	}
}

// TestAiosmtpdCorpus sends every corpus message with SendMail and with SendMessage over one
// plain connection and checks what aiosmtpd stored: the bytes exactly, the envelope, and the
// MAIL parameters.
func TestAiosmtpdCorpus(t *testing.T) {
	addr := mustEnv(t, "POSTWIRE_INTEROP_AIOSMTPD_PLAIN")
	ctx := testContext(t)
	c := dialPlain(t, ctx, addr)
	if err := c.EhloOrHeloIfNeeded(ctx); err != nil {
		t.Fatalf("EHLO: %v", err)
	}
	for kw, want := range map[string]bool{"SMTPUTF8": true, "8BITMIME": true, "SIZE": true, "STARTTLS": false, "PIPELINING": false, "CHUNKING": false} {
		if got := c.HasExtension(kw); got != want {
			t.Errorf("HasExtension(%s) = %v, want %v", kw, got, want)
		}
	}
	if size, ok := c.Extensions().Size(); !ok || size != 32<<20 {
		t.Errorf("Extensions().Size() = %d, %v; want %d", size, ok, 32<<20)
	}
	rcpts := []string{"rcpt1@example.org", "rcpt2@example.org"}
	for _, way := range sendWays {
		for i := range corpus("x@x", rcpts, true) {
			sender := uniqueSender("aio-" + way.name)
			m := corpus(sender, rcpts, true)[i]
			t.Run(way.name+"/"+m.name, func(t *testing.T) {
				res := way.send(t, c, sender, rcpts, m)
				checkAccepted(t, res, rcpts)
				rec, stored := aiosmtpdStored(t, "plain", sender)
				checkBytes(t, m.name, m.want, stored)
				got := aioRecord{MailFrom: rec.MailFrom, MailOptions: sorted(rec.MailOptions), RcptTos: rec.RcptTos}
				want := aioRecord{MailFrom: sender, MailOptions: wantMailOptions(m, true), RcptTos: rcpts}
				if d := cmp.Diff(want, got); d != "" {
					t.Errorf("envelope (-want +got):\n%s", d)
				}
			})
		}
	}
	if _, err := c.Quit(ctx); err != nil {
		t.Errorf("Quit: %v", err)
	}
}

// TestAiosmtpdSMTPUTF8 sends with internationalised addresses: the session must add
// SMTPUTF8 (and BODY=8BITMIME) by itself.
func TestAiosmtpdSMTPUTF8(t *testing.T) {
	addr := mustEnv(t, "POSTWIRE_INTEROP_AIOSMTPD_PLAIN")
	ctx := testContext(t)
	c := dialPlain(t, ctx, addr)
	sender := "jösé-" + strings.TrimSuffix(uniqueSender("utf8"), "@postwire.test") + "@bücher.example"
	rcpts := []string{"日本語@例え.jp", "ascii@example.org", "χρήστης@παράδειγμα.δοκιμή"}
	for _, way := range sendWays {
		t.Run(way.name, func(t *testing.T) {
			sender := way.name + "-" + sender
			raw := header("\r\n", sender, rcpts, "SMTPUTF8 Grüße", "MIME-Version: 1.0",
				"Content-Type: text/plain; charset=utf-8") + "Unicode everywhere: ✉️ → 📬\r\n"
			m := message{name: "smtputf8", raw: []byte(raw), want: arrived([]byte(raw))}
			res := way.send(t, c, sender, rcpts, m)
			checkAccepted(t, res, rcpts)
			rec, stored := aiosmtpdStored(t, "plain", sender)
			checkBytes(t, m.name, m.want, stored)
			got := aioRecord{MailFrom: rec.MailFrom, MailOptions: sorted(rec.MailOptions), RcptTos: rec.RcptTos, SMTPUTF8: rec.SMTPUTF8}
			want := aioRecord{MailFrom: sender, MailOptions: wantMailOptions(m, true, "BODY=8BITMIME", "SMTPUTF8"), RcptTos: rcpts, SMTPUTF8: true}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("envelope (-want +got):\n%s", d)
			}
		})
	}
	if _, err := c.Quit(ctx); err != nil {
		t.Errorf("Quit: %v", err)
	}
}

// TestAiosmtpdRefusedRecipient: one recipient of three refused at RCPT; the message goes to
// the other two, and the refusal is reported with the server's reply.
func TestAiosmtpdRefusedRecipient(t *testing.T) {
	addr := mustEnv(t, "POSTWIRE_INTEROP_AIOSMTPD_PLAIN")
	ctx := testContext(t)
	c := dialPlain(t, ctx, addr)

	sender := uniqueSender("aio-refused")
	rcpts := []string{"first@example.org", "refuse-me@example.org", "last@example.org"}
	raw := []byte(header("\r\n", sender, rcpts, "one refused") + "body\r\n")
	res, err := c.SendMail(ctx, sender, rcpts, bytes.NewReader(raw), nil)
	if err != nil {
		t.Fatalf("SendMail: %v", err)
	}
	type refusal struct {
		Recipient string
		Code      int
		Enhanced  string
	}
	var got []refusal
	for _, r := range res.Refused {
		got = append(got, refusal{r.Recipient, r.Reply.Code, r.Reply.Enhanced.String()})
	}
	if d := cmp.Diff([]refusal{{"refuse-me@example.org", 550, "5.1.1"}}, got); d != "" {
		t.Errorf("Refused (-want +got):\n%s", d)
	}
	if r := res.Refusal("refuse-me@example.org"); r == nil || r.Code != 550 {
		t.Errorf("Refusal(refuse-me) = %v, want the 550", r)
	}
	rec, stored := aiosmtpdStored(t, "plain", sender)
	checkBytes(t, "one refused", raw, stored)
	if d := cmp.Diff([]string{"first@example.org", "last@example.org"}, rec.RcptTos); d != "" {
		t.Errorf("recipients stored (-want +got):\n%s", d)
	}

	// Every recipient refused: *RecipientsRefusedError, and the connection stays usable.
	sender2 := uniqueSender("aio-all-refused")
	_, err = c.SendMail(ctx, sender2, []string{"refuse-a@example.org", "refuse-b@example.org"}, strings.NewReader("x\r\n"), nil)
	var rre *session.RecipientsRefusedError
	if !errors.As(err, &rre) {
		t.Fatalf("SendMail to refused recipients: %v, want *RecipientsRefusedError", err)
	}
	if len(rre.Refused) != 2 || rre.Recipient("refuse-b@example.org") == nil || rre.Recipient("refuse-b@example.org").Code != 550 {
		t.Errorf("RecipientsRefusedError = %+v", rre.Refused)
	}
	if _, err := c.Noop(ctx); err != nil {
		t.Errorf("NOOP after refused transaction: %v", err)
	}
	if _, err := c.Quit(ctx); err != nil {
		t.Errorf("Quit: %v", err)
	}
}

// TestAiosmtpdBatch sends several messages on one connection with SendBatch.
func TestAiosmtpdBatch(t *testing.T) {
	addr := mustEnv(t, "POSTWIRE_INTEROP_AIOSMTPD_PLAIN")
	ctx := testContext(t)
	c := dialPlain(t, ctx, addr)
	rcpts := []string{"batch@example.org"}
	var envs []session.Envelope
	var msgs []message
	for i, m := range corpus("x@x", rcpts, true) {
		if m.large {
			continue
		}
		sender := uniqueSender("aio-batch")
		m = corpus(sender, rcpts, true)[i]
		msgs = append(msgs, m)
		envs = append(envs, session.Envelope{From: sender, To: rcpts, Body: m.body(), Options: &session.SendOptions{EightBitMIME: m.eightBit}})
	}
	// A message whose only recipient is refused, in the middle: it fails alone.
	mid := len(envs) / 2
	refused := session.Envelope{From: uniqueSender("aio-batch-refused"), To: []string{"refuse-batch@example.org"}, Body: strings.NewReader("x\r\n")}
	envs = append(envs[:mid], append([]session.Envelope{refused}, envs[mid:]...)...)
	msgs = append(msgs[:mid], append([]message{{name: "refused"}}, msgs[mid:]...)...)
	results := c.SendBatch(ctx, envs)
	if len(results) != len(envs) {
		t.Fatalf("SendBatch returned %d results for %d messages", len(results), len(envs))
	}
	for i, r := range results {
		if i == mid {
			var rre *session.RecipientsRefusedError
			if !errors.As(r.Err, &rre) || rre.Recipient("refuse-batch@example.org") == nil {
				t.Errorf("refused message in the batch: %v, want *RecipientsRefusedError", r.Err)
			}
			continue
		}
		if r.Err != nil {
			t.Errorf("message %d (%s): %v", i, msgs[i].name, r.Err)
			continue
		}
		_, stored := aiosmtpdStored(t, "plain", envs[i].From)
		checkBytes(t, "batch "+msgs[i].name, msgs[i].want, stored)
	}
	if _, err := c.Quit(ctx); err != nil {
		t.Errorf("Quit: %v", err)
	}
}

// TestAiosmtpdStartTLSAuth: STARTTLS verified against the test CA, then AUTH (PLAIN chosen
// by Login, LOGIN through Auth), then the corpus; the server records TLS and the login.
func TestAiosmtpdStartTLSAuth(t *testing.T) {
	addr := mustEnv(t, "POSTWIRE_INTEROP_AIOSMTPD_STARTTLS")
	user, pass := mustEnv(t, "POSTWIRE_INTEROP_USER"), mustEnv(t, "POSTWIRE_INTEROP_PASSWORD")

	t.Run("Login", func(t *testing.T) {
		ctx := testContext(t)
		c, err := session.Dial(ctx, addr, &session.Options{LocalName: "client.postwire.test", TLSConfig: tlsConfig(t)})
		if err != nil {
			t.Fatalf("Dial: %v", err)
		}
		defer c.Close()
		if err := c.EhloOrHeloIfNeeded(ctx); err != nil {
			t.Fatal(err)
		}
		if !c.HasExtension("STARTTLS") || c.HasExtension("AUTH") {
			t.Errorf("before TLS: STARTTLS %v AUTH %v, want true false", c.HasExtension("STARTTLS"), c.HasExtension("AUTH"))
		}
		// AUTH is not offered in cleartext.
		if _, err := c.Login(ctx, user, pass); !errors.Is(err, session.ErrNotSupported) {
			t.Errorf("Login before STARTTLS: %v, want ErrNotSupported", err)
		}
		// The server insists on STARTTLS before MAIL.
		_, err = c.SendMail(ctx, uniqueSender("aio-cleartext"), []string{"x@example.org"}, strings.NewReader("x\r\n"), nil)
		var sre *session.SenderRefusedError
		if !errors.As(err, &sre) || sre.Reply.Code != 530 {
			t.Errorf("SendMail before STARTTLS: %v, want *SenderRefusedError 530", err)
		}
		if _, err := c.StartTLS(ctx, nil); err != nil {
			t.Fatalf("StartTLS: %v", err)
		}
		if !c.TLS() || c.HasExtension("STARTTLS") {
			t.Errorf("after StartTLS: TLS() %v, STARTTLS offered %v", c.TLS(), c.HasExtension("STARTTLS"))
		}
		if d := cmp.Diff([]string{"LOGIN", "PLAIN"}, sorted(c.Extensions().Auth())); d != "" {
			t.Errorf("AUTH mechanisms (-want +got):\n%s", d)
		}
		if _, err := c.Login(ctx, user, pass); err != nil {
			t.Fatalf("Login: %v", err)
		}
		if !c.Authenticated() {
			t.Error("Authenticated() = false after Login")
		}
		rcpts := []string{"tls@example.org"}
		for i := range corpus("x@x", rcpts, true) {
			sender := uniqueSender("aio-tls")
			m := corpus(sender, rcpts, true)[i]
			t.Run(m.name, func(t *testing.T) {
				res := sendWays[i%2].send(t, c, sender, rcpts, m)
				checkAccepted(t, res, rcpts)
				rec, stored := aiosmtpdStored(t, "starttls", sender)
				checkBytes(t, m.name, m.want, stored)
				if !rec.TLS || rec.Login == nil || *rec.Login != user {
					t.Errorf("server saw tls=%v login=%v, want true %q", rec.TLS, rec.Login, user)
				}
			})
		}
		if _, err := c.Quit(ctx); err != nil {
			t.Errorf("Quit: %v", err)
		}
	})

	t.Run("AuthLOGIN", func(t *testing.T) {
		ctx := testContext(t)
		c, err := session.Dial(ctx, addr, &session.Options{LocalName: "client.postwire.test", TLSConfig: tlsConfig(t)})
		if err != nil {
			t.Fatalf("Dial: %v", err)
		}
		defer c.Close()
		if _, err := c.StartTLS(ctx, nil); err != nil {
			t.Fatalf("StartTLS: %v", err)
		}
		// A wrong password: 535, and the connection can try again.
		_, err = c.Auth(ctx, auth.Login(user, "wrong"))
		var ae *session.AuthError
		var re *session.ReplyError
		if !errors.As(err, &ae) || !errors.As(err, &re) || re.Code != 535 {
			t.Fatalf("Auth with a wrong password: %v, want *AuthError with a 535", err)
		}
		if _, err := c.Auth(ctx, auth.Login(user, pass)); err != nil {
			t.Fatalf("Auth LOGIN: %v", err)
		}
		sender := uniqueSender("aio-login")
		raw := []byte(header("\r\n", sender, []string{"l@example.org"}, "AUTH LOGIN") + "authenticated with LOGIN\r\n")
		if _, err := c.SendMail(ctx, sender, []string{"l@example.org"}, bytes.NewReader(raw), nil); err != nil {
			t.Fatalf("SendMail: %v", err)
		}
		rec, stored := aiosmtpdStored(t, "starttls", sender)
		checkBytes(t, "AUTH LOGIN", raw, stored)
		if rec.Login == nil || *rec.Login != user || !rec.TLS {
			t.Errorf("server saw tls=%v login=%v", rec.TLS, rec.Login)
		}
		if _, err := c.Quit(ctx); err != nil {
			t.Errorf("Quit: %v", err)
		}
	})

	t.Run("TLSRequiredPolicy", func(t *testing.T) {
		// transport.Dial + NewClient, with the session doing STARTTLS by itself.
		ctx := testContext(t)
		conn, err := transport.Dial(ctx, "tcp", addr, transport.Options{})
		if err != nil {
			t.Fatalf("transport.Dial: %v", err)
		}
		if !transport.IsLoopback(conn) {
			t.Errorf("IsLoopback(%v) = false", conn.RemoteAddr())
		}
		c, err := session.NewClient(ctx, conn, "127.0.0.1", &session.Options{
			LocalName: "client.postwire.test", TLSConfig: tlsConfig(t), TLSPolicy: session.TLSRequired})
		if err != nil {
			t.Fatalf("NewClient: %v", err)
		}
		defer c.Close()
		if _, err := c.Login(ctx, user, pass); err != nil {
			t.Fatalf("Login: %v", err)
		}
		if !c.TLS() {
			t.Fatal("TLSRequired: connection not encrypted")
		}
		sender := uniqueSender("aio-policy")
		raw := []byte(header("\r\n", sender, []string{"p@example.org"}, "TLS policy") + "upgraded by policy\r\n")
		if _, err := c.SendMail(ctx, sender, []string{"p@example.org"}, bytes.NewReader(raw), nil); err != nil {
			t.Fatalf("SendMail: %v", err)
		}
		rec, stored := aiosmtpdStored(t, "starttls", sender)
		checkBytes(t, "TLS policy", raw, stored)
		if !rec.TLS {
			t.Error("server saw no TLS")
		}
		if _, err := c.Quit(ctx); err != nil {
			t.Errorf("Quit: %v", err)
		}
	})

	t.Run("ServerNameFromHost", func(t *testing.T) {
		// Dialled as "localhost:port": the certificate is checked against the DNS name
		// localhost (it holds it); as "127.0.0.1:port" (the other subtests) against the IP.
		_, port, _ := strings.Cut(addr, ":")
		ctx := testContext(t)
		c, err := session.Dial(ctx, "localhost:"+port, &session.Options{LocalName: "client.postwire.test", TLSConfig: tlsConfig(t)})
		if err != nil {
			t.Fatalf("Dial: %v", err)
		}
		defer c.Close()
		if _, err := c.StartTLS(ctx, nil); err != nil {
			t.Fatalf("StartTLS: %v", err)
		}
		if got := c.Conn().(*tls.Conn).ConnectionState().ServerName; got != "localhost" {
			t.Errorf("ServerName = %q, want localhost", got)
		}
		// A name the certificate does not hold is refused.
		cfg := tlsConfig(t)
		cfg.ServerName = "mail.example.org"
		c2 := dialPlain(t, ctx, addr)
		var he x509.HostnameError
		if _, err := c2.StartTLS(ctx, cfg); !errors.As(err, &he) {
			t.Errorf("StartTLS as mail.example.org: %v, want x509.HostnameError", err)
		}
	})

	t.Run("UnknownCA", func(t *testing.T) {
		// Without the test CA the certificate must be refused: postwire verifies by default.
		ctx := testContext(t)
		c := dialPlain(t, ctx, addr)
		_, err := c.StartTLS(ctx, nil)
		var ua x509.UnknownAuthorityError
		var he *transport.HandshakeError
		if !errors.As(err, &ua) || !errors.As(err, &he) {
			t.Errorf("StartTLS without the CA: %v, want *transport.HandshakeError with x509.UnknownAuthorityError", err)
		}
	})
}

// TestAiosmtpdSMTPS: implicit TLS (DialTLS) with AUTH.
func TestAiosmtpdSMTPS(t *testing.T) {
	addr := mustEnv(t, "POSTWIRE_INTEROP_AIOSMTPD_SMTPS")
	user, pass := mustEnv(t, "POSTWIRE_INTEROP_USER"), mustEnv(t, "POSTWIRE_INTEROP_PASSWORD")
	ctx := testContext(t)
	c, err := session.DialTLS(ctx, addr, &session.Options{LocalName: "client.postwire.test", TLSConfig: tlsConfig(t)})
	if err != nil {
		t.Fatalf("DialTLS: %v", err)
	}
	defer c.Close()
	if !c.TLS() {
		t.Error("TLS() = false on a DialTLS connection")
	}
	if _, err := c.Login(ctx, user, pass); err != nil {
		t.Fatalf("Login: %v", err)
	}
	rcpts := []string{"smtps@example.org"}
	for i := range corpus("x@x", rcpts, true) {
		sender := uniqueSender("aio-smtps")
		m := corpus(sender, rcpts, true)[i]
		t.Run(m.name, func(t *testing.T) {
			res := sendWays[i%2].send(t, c, sender, rcpts, m)
			checkAccepted(t, res, rcpts)
			rec, stored := aiosmtpdStored(t, "smtps", sender)
			checkBytes(t, m.name, m.want, stored)
			if !rec.TLS || rec.Login == nil || *rec.Login != user {
				t.Errorf("server saw tls=%v login=%v, want true %q", rec.TLS, rec.Login, user)
			}
		})
	}
	if _, err := c.Quit(ctx); err != nil {
		t.Errorf("Quit: %v", err)
	}
}

// TestAiosmtpdBccRemoved: SendMessage takes Bcc recipients into the envelope and removes the
// Bcc header from what is transmitted, folded continuation line included.
func TestAiosmtpdBccRemoved(t *testing.T) {
	addr := mustEnv(t, "POSTWIRE_INTEROP_AIOSMTPD_PLAIN")
	ctx := testContext(t)
	c := dialPlain(t, ctx, addr)
	sender := uniqueSender("aio-bcc")
	raw := "From: <" + sender + ">\r\nTo: to@example.org\r\nCc: Carbon <cc@example.org>\r\n" +
		"Bcc: hidden1@example.org,\r\n hidden2@example.org\r\nSubject: bcc\r\n\r\nbody\r\n"
	want := "From: <" + sender + ">\r\nTo: to@example.org\r\nCc: Carbon <cc@example.org>\r\n" +
		"Subject: bcc\r\n\r\nbody\r\n"
	res, err := c.SendMessage(ctx, strings.NewReader(raw), nil)
	if err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	rcpts := []string{"to@example.org", "cc@example.org", "hidden1@example.org", "hidden2@example.org"}
	checkAccepted(t, res, rcpts)
	rec, stored := aiosmtpdStored(t, "plain", sender)
	checkBytes(t, "bcc", []byte(want), stored)
	if d := cmp.Diff(rcpts, rec.RcptTos); d != "" {
		t.Errorf("envelope recipients (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"SIZE=" + strconv.Itoa(len(want))}, rec.MailOptions); d != "" {
		t.Errorf("MAIL parameters (-want +got):\n%s", d)
	}
	if _, err := c.Quit(ctx); err != nil {
		t.Errorf("Quit: %v", err)
	}
}
