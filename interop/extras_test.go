//go:build interop

package interop

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/postwire/postwire/auth"
	"github.com/postwire/postwire/session"
)

// TestAiosmtpdCommands: the smtplib-style single commands against aiosmtpd.
func TestAiosmtpdCommands(t *testing.T) {
	addr := mustEnv(t, "POSTWIRE_INTEROP_AIOSMTPD_PLAIN")
	ctx := testContext(t)
	c := dialPlain(t, ctx, addr)
	if got := c.Greeting(); got.Code != 220 || !strings.Contains(got.Text(), "aiosmtpd.interop") {
		t.Errorf("Greeting() = %v", got)
	}
	r, err := c.Ehlo(ctx, "")
	if err != nil || r.Code != 250 || !c.ESMTP() {
		t.Fatalf("Ehlo: %v %v (ESMTP %v)", r, err, c.ESMTP())
	}
	if got := c.Extensions().Greeting(); got != "aiosmtpd.interop" {
		t.Errorf("Extensions().Greeting() = %q", got)
	}
	r, err = c.Verify(ctx, "someone@example.org")
	if err != nil || r.Code != 252 {
		t.Errorf("Verify: %v %v, want 252", r, err)
	}
	r, err = c.Expand(ctx, "list@example.org")
	var re *session.ReplyError
	if !errors.As(err, &re) || re.Code != 502 || r.Code != 502 {
		t.Errorf("Expand: %v %v, want a 502 *ReplyError", r, err)
	}
	r, err = c.Help(ctx, "MAIL")
	if err != nil || r.Code != 250 || !strings.Contains(r.Text(), "MAIL FROM:") {
		t.Errorf("Help(MAIL): %v %v", r, err)
	}
	r, err = c.Docmd(ctx, "HELP NOSUCHCOMMAND")
	if err != nil || r.Code != 501 {
		t.Errorf("Docmd(HELP NOSUCHCOMMAND): %v %v, want the 501 reply and no error", r, err)
	}
	// Mail, Rcpt, Data one by one, as smtplib's low-level calls.
	sender := uniqueSender("aio-steps")
	if r, err := c.Mail(ctx, sender); err != nil || r.Code != 250 {
		t.Fatalf("Mail: %v %v", r, err)
	}
	if r, err := c.Rcpt(ctx, "step@example.org"); err != nil || r.Code != 250 {
		t.Fatalf("Rcpt: %v %v", r, err)
	}
	_, err = c.Rcpt(ctx, "refuse-step@example.org")
	var rcptErr *session.RecipientError
	if !errors.As(err, &rcptErr) || rcptErr.Reply.Code != 550 {
		t.Errorf("Rcpt(refused): %v, want a 550 *RecipientError", err)
	}
	raw := []byte("Subject: steps\r\n\r\n.one dot\r\nbare\nend")
	if r, err := c.Data(ctx, bytes.NewReader(raw)); err != nil || r.Code != 250 {
		t.Fatalf("Data: %v %v", r, err)
	}
	_, stored := aiosmtpdStored(t, "plain", sender)
	checkBytes(t, "Mail/Rcpt/Data", arrived(raw), stored)
	// RSET abandons a transaction: nothing is stored for it.
	if _, err := c.Mail(ctx, uniqueSender("aio-reset")); err != nil {
		t.Fatal(err)
	}
	if r, err := c.Reset(ctx); err != nil || r.Code != 250 {
		t.Errorf("Reset: %v %v", r, err)
	}
	if r, err := c.Noop(ctx); err != nil || r.Code != 250 {
		t.Errorf("Noop: %v %v", r, err)
	}
	if r, err := c.Quit(ctx); err != nil || r.Code != 221 {
		t.Errorf("Quit: %v %v", r, err)
	}
	if _, err := c.Noop(ctx); !errors.Is(err, session.ErrClosed) {
		t.Errorf("Noop after Quit: %v, want ErrClosed", err)
	}
}

// lines reads n bytes of 99-byte text lines ended by bare LF, its size hidden.
type lines struct{ n int }

func (l *lines) Read(p []byte) (int, error) {
	if l.n == 0 {
		return 0, io.EOF
	}
	k := min(len(p), l.n)
	for i := range p[:k] {
		p[i] = 'x'
		if (l.n-i)%100 == 1 {
			p[i] = '\n'
		}
	}
	l.n -= k
	return k, nil
}

// TestAiosmtpdSizeLimit: aiosmtpd advertises SIZE 33554432. A message declared larger is
// refused before anything is sent; one that is larger without saying so is refused by the
// server after the data (552, *DataError); the connection stays usable.
func TestAiosmtpdSizeLimit(t *testing.T) {
	addr := mustEnv(t, "POSTWIRE_INTEROP_AIOSMTPD_PLAIN")
	ctx := testContext(t)
	c := dialPlain(t, ctx, addr)
	_, err := c.SendMail(ctx, uniqueSender("aio-declared-too-big"), []string{"big@example.org"},
		strings.NewReader("small\r\n"), &session.SendOptions{Size: 40 << 20})
	if !errors.Is(err, session.ErrMessageTooLarge) {
		t.Errorf("declared 40 MiB: %v, want ErrMessageTooLarge", err)
	}
	_, err = c.SendMail(ctx, uniqueSender("aio-too-big"), []string{"big@example.org"}, &lines{n: 33 << 20}, nil)
	var de *session.DataError
	if !errors.As(err, &de) || de.Reply.Code != 552 {
		t.Errorf("33 MiB: %v, want a 552 *DataError", err)
	}
	sender := uniqueSender("aio-after-too-big")
	raw := []byte("Subject: after\r\n\r\nstill usable\r\n")
	if _, err := c.SendMail(ctx, sender, []string{"big@example.org"}, bytes.NewReader(raw), nil); err != nil {
		t.Fatalf("SendMail after the 552: %v", err)
	}
	_, stored := aiosmtpdStored(t, "plain", sender)
	checkBytes(t, "after 552", raw, stored)
	if _, err := c.Quit(ctx); err != nil {
		t.Errorf("Quit: %v", err)
	}
}

// TestSinkDSN: smtp-sink advertises DSN; the DSN options must appear on MAIL and RCPT as the
// server recorded them (ENVID and ORCPT xtext-encoded).
func TestSinkDSN(t *testing.T) {
	c, _ := dialSink(t, mustEnv(t, "POSTWIRE_INTEROP_SINK"), nil)
	ctx := testContext(t)
	sender := uniqueSender("sink-dsn")
	rcpts := []string{"d1@example.net", "d+2@example.net"}
	raw := []byte(header("\r\n", sender, rcpts, "DSN") + "dsn\r\n")
	_, err := c.SendMail(ctx, sender, rcpts, bytes.NewReader(raw), &session.SendOptions{
		Return: session.ReturnHeaders, EnvelopeID: "id+with=special chars",
		Notify: []session.DSNNotify{session.NotifySuccess, session.NotifyFailure}, OriginalRecipients: true,
	})
	if err != nil {
		t.Fatalf("SendMail: %v", err)
	}
	r := sinkStored(t, "pipelining", sender)
	checkBytes(t, "DSN", asDumped(raw), r.Message)
	got := sinkEnvelope{r.ClientProto, r.Helo, r.MailArgs, r.RcptArgs}
	want := sinkEnvelope{"ESMTP", "client.postwire.test", "<" + sender + "> RET=HDRS ENVID=id+2Bwith+3Dspecial+20chars",
		[]string{"<d1@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;d1@example.net",
			"<d+2@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;d+2B2@example.net"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("envelope (-want +got):\n%s", d)
	}
	// Extensions smtp-sink lacks are refused before anything is sent.
	for _, o := range []struct {
		ext  string
		to   string
		opts *session.SendOptions
	}{
		{"SMTPUTF8", "ünïcode@example.net", nil},
		{"REQUIRETLS", "r@example.net", &session.SendOptions{RequireTLS: true}},
	} {
		_, err := c.SendMail(ctx, uniqueSender("sink-unsupported"), []string{o.to}, strings.NewReader("x\r\n"), o.opts)
		var nse *session.NotSupportedError
		if !errors.As(err, &nse) || nse.Extension != o.ext {
			t.Errorf("%s: %v, want *NotSupportedError{%s}", o.ext, err, o.ext)
		}
	}
	if _, err := c.Quit(ctx); err != nil {
		t.Errorf("Quit: %v", err)
	}
}

// TestSinkHELO: after an explicit HELO no extension is used; the message still goes through
// and smtp-sink records the SMTP (not ESMTP) protocol.
func TestSinkHELO(t *testing.T) {
	c, wire := dialSink(t, mustEnv(t, "POSTWIRE_INTEROP_SINK"), nil)
	ctx := testContext(t)
	if r, err := c.Helo(ctx, "helo.postwire.test"); err != nil || r.Code != 250 {
		t.Fatalf("Helo: %v %v", r, err)
	}
	if c.ESMTP() || c.HasExtension("PIPELINING") {
		t.Errorf("after HELO: ESMTP %v, PIPELINING %v", c.ESMTP(), c.HasExtension("PIPELINING"))
	}
	sender := uniqueSender("sink-helo")
	rcpts := []string{"h1@example.net", "h2@example.net"}
	raw := []byte(header("\r\n", sender, rcpts, "HELO") + "..dots\r\n.\r\n")
	if _, err := c.SendMail(ctx, sender, rcpts, bytes.NewReader(raw), nil); err != nil {
		t.Fatalf("SendMail: %v", err)
	}
	r := sinkStored(t, "pipelining", sender)
	checkBytes(t, "HELO", asDumped(arrived(raw)), r.Message)
	if d := cmp.Diff(sinkEnvelope{"SMTP", "helo.postwire.test", "<" + sender + ">", rcptArgs(rcpts)},
		sinkEnvelope{r.ClientProto, r.Helo, r.MailArgs, r.RcptArgs}); d != "" {
		t.Errorf("envelope (-want +got):\n%s", d)
	}
	if w := wire.writeWith("MAIL FROM:<" + sender + ">"); bytes.Contains(w, []byte("RCPT")) {
		t.Errorf("pipelined after HELO: %q", head(w))
	}
	if _, err := c.Quit(ctx); err != nil {
		t.Errorf("Quit: %v", err)
	}
}

// TestDovecotSmallChunks: the large message to Dovecot in 4 KiB BDAT chunks (more than a
// thousand chunks, several in flight at once).
func TestDovecotSmallChunks(t *testing.T) {
	sock := mustEnv(t, "POSTWIRE_INTEROP_DOVECOT_SOCKET")
	ctx := testContext(t)
	log := &lineLog{}
	c, err := session.DialLMTP(ctx, sock, &session.Options{LocalName: "client.postwire.test", ChunkSize: 4096, Logger: newLogger(log)})
	if err != nil {
		t.Fatalf("DialLMTP: %v", err)
	}
	defer c.Close()
	sender := uniqueSender("dovecot-chunks")
	raw := largeBody(header("\r\n", sender, []string{"bob@example.org"}, "small chunks"), 5<<20)
	res, err := c.SendMail(ctx, sender, []string{"bob@example.org"}, &oddReader{b: raw}, nil)
	if err != nil {
		t.Fatalf("SendMail: %v", err)
	}
	if d := cmp.Diff([]lmtpOutcome{{"bob@example.org", 250, "2.0.0", false}}, outcomes(res)); d != "" {
		t.Errorf("replies (-want +got):\n%s", d)
	}
	checkBytes(t, "small chunks", arrived(raw), dovecotStored(t, "bob", sender, "bob@example.org"))
	var chunks int
	for _, l := range log.Sent() {
		if strings.HasPrefix(l, "BDAT ") {
			chunks++
		}
	}
	if want := len(arrived(raw))/4096 + 1; chunks != want {
		t.Errorf("sent %d BDAT chunks, want %d", chunks, want)
	}
	if _, err := c.Quit(ctx); err != nil {
		t.Errorf("Quit: %v", err)
	}
}

// TestAiosmtpdEdges: addresses of the less common forms, the null reverse-path, an empty
// message, and a 150 KiB header block with bare LF line endings through SendMessage (more
// than one read of the header before the envelope is known).
func TestAiosmtpdEdges(t *testing.T) {
	addr := mustEnv(t, "POSTWIRE_INTEROP_AIOSMTPD_PLAIN")
	ctx := testContext(t)
	c := dialPlain(t, ctx, addr)

	for _, to := range []string{`"quoted@local"@example.org`, `user@[127.0.0.1]`, `postmaster`, `UPPER.case+tag@Example.ORG`} {
		sender := uniqueSender("aio-addr")
		raw := []byte("Subject: address forms\r\n\r\nto " + to + "\r\n")
		if _, err := c.SendMail(ctx, sender, []string{to}, bytes.NewReader(raw), nil); err != nil {
			t.Errorf("SendMail to %s: %v", to, err)
			continue
		}
		rec, stored := aiosmtpdStored(t, "plain", sender)
		checkBytes(t, to, raw, stored)
		if d := cmp.Diff([]string{to}, rec.RcptTos); d != "" {
			t.Errorf("recipient as the server saw it (-want +got):\n%s", d)
		}
	}

	// The null reverse-path: "MAIL FROM:<>", which aiosmtpd records as "<>" (for other
	// senders it drops the brackets). The record is looked up by its unique recipient.
	token := uniqueSender("aio-null-sender")
	if _, err := c.SendMail(ctx, "", []string{token}, strings.NewReader("Subject: bounce\r\n\r\n"+token+"\r\n"), nil); err != nil {
		t.Errorf("SendMail from <>: %v", err)
	} else {
		rec := aiosmtpdByRecipient(t, token)
		if rec.MailFrom != "<>" {
			t.Errorf("null reverse-path arrived as %q", rec.MailFrom)
		}
	}

	// An empty message: just the terminating dot; aiosmtpd stores zero bytes.
	sender := uniqueSender("aio-empty")
	if _, err := c.SendMail(ctx, sender, []string{"empty@example.org"}, strings.NewReader(""), nil); err != nil {
		t.Fatalf("SendMail with an empty body: %v", err)
	}
	_, stored := aiosmtpdStored(t, "plain", sender)
	checkBytes(t, "empty", nil, stored)

	// A large LF-only header block.
	sender = uniqueSender("aio-big-header")
	var b bytes.Buffer
	b.WriteString("From: <" + sender + ">\nTo: big-header@example.org\nBcc: hidden@example.org\n")
	for i := range 3000 {
		b.WriteString("X-Filler-" + strings.Repeat("x", i%20) + ": 0123456789012345678901234567890123456789\n")
	}
	b.WriteString("\nbody\n.\n")
	res, err := c.SendMessage(ctx, &oddReader{b: b.Bytes()}, nil)
	if err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	checkAccepted(t, res, []string{"big-header@example.org", "hidden@example.org"})
	rec, stored := aiosmtpdStored(t, "plain", sender)
	want := arrived(bytes.Replace(b.Bytes(), []byte("Bcc: hidden@example.org\n"), nil, 1))
	checkBytes(t, "big header", want, stored)
	if d := cmp.Diff([]string{"big-header@example.org", "hidden@example.org"}, rec.RcptTos); d != "" {
		t.Errorf("recipients (-want +got):\n%s", d)
	}
	if _, err := c.Quit(ctx); err != nil {
		t.Errorf("Quit: %v", err)
	}
}

// TestDovecotDuplicateRecipient: a recipient given twice gets two RCPT replies and two
// replies after the data (RFC 2033: one per accepted RCPT); Dovecot stores one copy.
func TestDovecotDuplicateRecipient(t *testing.T) {
	ctx := testContext(t)
	c, err := session.DialLMTP(ctx, mustEnv(t, "POSTWIRE_INTEROP_DOVECOT_SOCKET"), &session.Options{LocalName: "client.postwire.test"})
	if err != nil {
		t.Fatalf("DialLMTP: %v", err)
	}
	defer c.Close()
	sender := uniqueSender("dovecot-dup")
	rcpts := []string{"alice@example.org", "alice@example.org", "bob@example.org"}
	raw := []byte(header("\r\n", sender, rcpts, "duplicate") + "twice to alice\r\n")
	res, err := c.SendMail(ctx, sender, rcpts, bytes.NewReader(raw), nil)
	if err != nil {
		t.Fatalf("SendMail: %v", err)
	}
	want := []lmtpOutcome{{"alice@example.org", 250, "2.0.0", false}, {"alice@example.org", 250, "2.0.0", false}, {"bob@example.org", 250, "2.0.0", false}}
	if d := cmp.Diff(want, outcomes(res)); d != "" {
		t.Errorf("replies (-want +got):\n%s", d)
	}
	// Each reply names its recipient; bob's must be bob's.
	if got := res.Recipients[2].Reply.Text(); !strings.Contains(got, "<bob@example.org>") {
		t.Errorf("bob's reply %q does not name bob", got)
	}
	for _, u := range []string{"alice", "bob"} {
		checkBytes(t, u, raw, dovecotStored(t, u, sender, ""))
	}
	if _, err := c.Quit(ctx); err != nil {
		t.Errorf("Quit: %v", err)
	}
}

// TestAuthRedactedInLog: the debug log of a real AUTH PLAIN and AUTH LOGIN exchange holds
// neither the password nor any base64 form of the credentials.
func TestAuthRedactedInLog(t *testing.T) {
	addr := mustEnv(t, "POSTWIRE_INTEROP_AIOSMTPD_STARTTLS")
	user, pass := mustEnv(t, "POSTWIRE_INTEROP_USER"), mustEnv(t, "POSTWIRE_INTEROP_PASSWORD")
	secrets := []string{
		pass,
		base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass)),
		base64.StdEncoding.EncodeToString([]byte(pass)),
		base64.StdEncoding.EncodeToString([]byte(user)),
	}
	for _, mech := range []string{"PLAIN", "LOGIN"} {
		t.Run(mech, func(t *testing.T) {
			log := &lineLog{}
			ctx := testContext(t)
			c, err := session.Dial(ctx, addr, &session.Options{LocalName: "client.postwire.test", TLSConfig: tlsConfig(t), Logger: newLogger(log)})
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			defer c.Close()
			if _, err := c.StartTLS(ctx, nil); err != nil {
				t.Fatalf("StartTLS: %v", err)
			}
			m := auth.Plain("", user, pass)
			if mech == "LOGIN" {
				m = auth.Login(user, pass)
			}
			if _, err := c.Auth(ctx, m); err != nil {
				t.Fatalf("Auth %s: %v", mech, err)
			}
			lines := log.All()
			var sawAuth bool
			for _, l := range lines {
				sawAuth = sawAuth || strings.Contains(l, "AUTH "+mech)
				for _, s := range secrets {
					if strings.Contains(l, s) {
						t.Errorf("log line %q holds a secret (%q)", l, s)
					}
				}
			}
			if !sawAuth {
				t.Errorf("no AUTH %s line in the log:\n%s", mech, strings.Join(lines, "\n"))
			}
			if _, err := c.Quit(ctx); err != nil {
				t.Errorf("Quit: %v", err)
			}
		})
	}
}
