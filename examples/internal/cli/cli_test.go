package cli_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/postwire/postwire/auth"
	"github.com/postwire/postwire/examples/internal/cli"
	"github.com/postwire/postwire/protocol"
	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/session/smtptest"
	"github.com/postwire/postwire/transport"
)

func TestTranscript(t *testing.T) {
	var buf bytes.Buffer
	log := cli.Logger(&buf)
	log.Debug("smtp", "direction", "recv", "line", "220 mx.example ESMTP")
	log.Debug("smtp", "direction", "send", "line", "EHLO client.example")
	log.Debug("smtp", "direction", "note", "line", "TLS handshake")
	log.With("direction", "send").Debug("smtp", "line", "QUIT")
	log.Info("something else", "n", 3)
	log.WithGroup("g").Warn("grouped", "k", "v")
	want := "S: 220 mx.example ESMTP\n" +
		"C: EHLO client.example\n" +
		"   [TLS handshake]\n" +
		"C: QUIT\n" +
		"something else n=3\n" +
		"grouped k=v\n"
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("transcript mismatch (-want +got):\n%s", diff)
	}
}

// The handler may be shared by goroutines; each record stays one line.
func TestTranscriptConcurrent(t *testing.T) {
	var buf bytes.Buffer
	log := cli.Logger(&buf)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() { // not wg.Go, which would need Go 1.25 (see go.mod)
			defer wg.Done()
			for j := range 50 {
				log.Debug("smtp", "direction", "send", "line", fmt.Sprintf("NOOP %d %d", i, j))
			}
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 400 {
		t.Fatalf("%d lines, want 400", len(lines))
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "C: NOOP ") {
			t.Fatalf("garbled line %q", l)
		}
	}
}

// A real session's transcript, with AUTH redacted.
func TestTranscriptSession(t *testing.T) {
	ctx := context.Background()
	srv := smtptest.NewServer(smtptest.Config{Users: map[string]string{"u": "hunter2-hunter2"}, AuthMechanisms: []string{"PLAIN"}})
	defer srv.Close()
	var buf bytes.Buffer
	c, err := session.NewClient(ctx, srv.Pipe(), "mx.example", &session.Options{
		LocalName: "client.example", Logger: cli.Logger(&buf), AllowInsecureAuth: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Login(ctx, "u", "hunter2-hunter2"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Quit(ctx); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"S: 220 smtptest.local ESMTP smtptest\n", "C: EHLO client.example\n", "C: AUTH PLAIN [redacted]\n", "S: 235 2.7.0 ", "C: QUIT\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("transcript lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hunter2") {
		t.Errorf("the password appears in the transcript:\n%s", out)
	}
}

func TestDescribe(t *testing.T) {
	reply := func(code int, enh protocol.EnhancedCode, text string) *session.ReplyError {
		return &session.ReplyError{Command: "X", Code: code, Enhanced: enh, Text: text}
	}
	r535 := reply(535, protocol.EnhancedCode{Class: 5, Subject: 7, Detail: 8}, "bad credentials")
	r550 := reply(550, protocol.EnhancedCode{Class: 5, Subject: 1, Detail: 1}, "no such user")
	refused := &session.ConnectError{Addr: "mx:25", Err: &transport.DialError{Network: "tcp", Addr: "mx:25",
		Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"auth reply", &session.AuthError{Mechanism: "SCRAM-SHA-256", Err: r535},
			"authentication failed: 535 5.7.8 bad credentials"},
		{"auth insecure", &session.AuthError{Err: &auth.ChooseError{Offered: []string{"PLAIN"}, Skipped: []auth.SkippedMechanism{{Name: "PLAIN", Err: auth.ErrInsecure}}}},
			"authentication refused: the password would travel unencrypted (use STARTTLS or implicit TLS)"},
		{"auth no mechanism", &session.AuthError{Err: &auth.ChooseError{Offered: []string{"GSSAPI", "NTLM"}}},
			"authentication failed: no usable mechanism among those the server offers (GSSAPI NTLM)"},
		{"auth signature", &session.AuthError{Mechanism: "SCRAM-SHA-1", Err: auth.ErrServerSignature},
			"authentication failed: the server did not prove it knows the password (SCRAM-SHA-1)"},
		{"server named", &cli.ServerError{Addr: "mx.example.com:25", Err: &session.AuthError{Err: r535}},
			"mx.example.com:25: authentication failed: 535 5.7.8 bad credentials"},
		{"connection refused", refused, "cannot connect: connection refused"},
		{"greeting refused", &session.ConnectError{Addr: "mx:25", Err: reply(554, protocol.EnhancedCode{}, "no service")},
			"the server refused the connection: 554 no service"},
		{"not supported", fmt.Errorf("wrapped: %w", &session.NotSupportedError{Extension: "STARTTLS"}),
			"the server does not offer STARTTLS"},
		{"handshake", &transport.HandshakeError{ServerName: "mx.example", Err: errors.New("tls: bad certificate")},
			"TLS handshake with mx.example failed: tls: bad certificate"},
		{"sender", &session.SenderRefusedError{Sender: "a@example.com", Reply: reply(553, protocol.EnhancedCode{}, "no\nreally")},
			"sender <a@example.com> refused: 553 no / really"},
		{"recipients", &session.RecipientsRefusedError{Refused: []session.RecipientError{
			{Recipient: "x@example.net", Reply: r550}, {Recipient: "y@example.net", Reply: r550}}},
			"all recipients refused: <x@example.net> 550 5.1.1 no such user; <y@example.net> 550 5.1.1 no such user"},
		{"data", &session.DataError{Reply: reply(554, protocol.EnhancedCode{Class: 5, Subject: 7, Detail: 1}, "spam")},
			"message refused: 554 5.7.1 spam"},
		{"helo", &session.HeloError{Reply: reply(501, protocol.EnhancedCode{}, "bad name")}, "greeting refused: 501 bad name"},
		{"unknown delivery", &session.UnknownDeliveryError{Err: session.ErrServerDisconnected},
			"delivery status unknown, the message may have been delivered: the server closed the connection unexpectedly"},
		{"421", reply(421, protocol.EnhancedCode{Class: 4, Subject: 3, Detail: 2}, "shutting down"),
			"the server closed the connection: 421 4.3.2 shutting down"},
		{"timeout", fmt.Errorf("%w: %w", session.ErrTimeout, os.ErrDeadlineExceeded), "timed out waiting for the server"},
		{"deadline", context.DeadlineExceeded, "timed out waiting for the server"},
		{"cancelled", context.Canceled, "interrupted"},
		{"peer", &protocol.PeerError{Err: protocol.ErrTLSInjection},
			"the server broke the protocol: bytes received between STARTTLS and the TLS handshake"},
		{"usage", &protocol.UsageError{Err: protocol.ErrLineBreak}, "invalid input: line break in command argument"},
		{"plain reply", r550, "550 5.1.1 no such user"},
		{"address", &transport.AddressError{Addr: "a b", Err: transport.ErrBadHost}, `invalid address "a b": invalid host`},
		{"other", errors.New("session: something odd"), "something odd"},
		{"joined", &session.AuthError{Mechanism: "X", Err: errors.Join(errors.New("auth: one"), errors.New("session: two"))},
			"authentication failed: one; two"},
		{"multiline reply", &session.DataError{Reply: &session.ReplyError{Code: 554, Text: "line one\nline two"}},
			"message refused: 554 line one / line two"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, cli.Describe(tt.err)); diff != "" {
				t.Errorf("Describe mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReply(t *testing.T) {
	if got, want := cli.Reply(nil), "(no reply)"; got != want {
		t.Errorf("Reply(nil) = %q, want %q", got, want)
	}
	if got, want := cli.Reply(&session.ReplyError{Code: 250}), "250"; got != want {
		t.Errorf("Reply(250) = %q, want %q", got, want)
	}
}

func ExampleDescribe() {
	err := &cli.ServerError{Addr: "mx.example.com:25", Err: &session.AuthError{
		Mechanism: "SCRAM-SHA-256",
		Err:       &session.ReplyError{Code: 535, Enhanced: protocol.EnhancedCode{Class: 5, Subject: 7, Detail: 8}, Text: "bad credentials"},
	}}
	fmt.Println("sendmail: " + cli.Describe(err))
	// Output:
	// sendmail: mx.example.com:25: authentication failed: 535 5.7.8 bad credentials
}

var _ slog.Handler = (*cli.Transcript)(nil)
