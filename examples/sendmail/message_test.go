package main

import (
	"bytes"
	"io"
	"mime"
	"net/mail"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/postwire/postwire/examples/internal/cli"
	"github.com/postwire/postwire/session/smtptest"
)

// storedOne returns the one message the server stored, parsed.
func storedOne(t *testing.T, srv *smtptest.Server) (*mail.Message, string) {
	t.Helper()
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages stored, want 1", len(msgs))
	}
	m, err := mail.ReadMessage(bytes.NewReader(msgs[0].Data))
	if err != nil {
		t.Fatalf("the stored message does not parse: %v\n%s", err, msgs[0].Data)
	}
	body, err := io.ReadAll(m.Body)
	if err != nil {
		t.Fatal(err)
	}
	return m, string(body)
}

// -subject and -body build a test message with swaks's headers; standard
// input is left alone.
func TestTestMessage(t *testing.T) {
	idPattern := regexp.MustCompile(`^<[0-9a-f]{24}@example\.com>$`)
	tests := []struct {
		name        string
		flags       []string
		wantSubject *regexp.Regexp
		wantBody    string
	}{
		{"subject and body", []string{"-subject", "hello wörld", "-body", "line one\nline two\r\n.dot"},
			regexp.MustCompile(`^hello wörld$`), "line one\r\nline two\r\n.dot\r\n"},
		{"subject only", []string{"-subject", "hello"}, regexp.MustCompile(`^hello$`), "This is a test mailing\r\n"},
		{"body only", []string{"-body", "hi"}, regexp.MustCompile(`^test [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} `), "hi\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := start(t, smtptest.Config{}, false, "tcp")
			args := append([]string{"-server", f.addr, "-from", "carol@example.com", "-to", "dave@example.net,erin@example.org"}, tt.flags...)
			got := runSendmailFrom(t, args, failingReader{t}, "")
			if got.Code != cli.ExitOK || got.Stderr != "" {
				t.Fatalf("status %d, stderr %q", got.Code, got.Stderr)
			}
			m, body := storedOne(t, f.srv)
			if _, err := m.Header.Date(); err != nil {
				t.Errorf("Date: %v", err)
			}
			header := map[string]string{"From": m.Header.Get("From"), "To": m.Header.Get("To")}
			wantHeader := map[string]string{"From": "carol@example.com", "To": "dave@example.net, erin@example.org"}
			if diff := cmp.Diff(wantHeader, header); diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
			if id := m.Header.Get("Message-ID"); !idPattern.MatchString(id) {
				t.Errorf("Message-ID %q, want %s", id, idPattern)
			}
			subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
			if err != nil || !tt.wantSubject.MatchString(subject) {
				t.Errorf("Subject %q (%v), want %s", subject, err, tt.wantSubject)
			}
			if diff := cmp.Diff(tt.wantBody, body); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

// Two test messages never share a Message-ID.
func TestMessageIDUnique(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := messageID("a@example.com")
		if seen[id] {
			t.Fatalf("Message-ID %s given twice", id)
		}
		seen[id] = true
	}
	if id := messageID("no-domain"); !strings.HasSuffix(id, "@localhost>") {
		t.Errorf("messageID without a domain = %q, want @localhost", id)
	}
}

// An empty message gets a warning; it is sent as it is with -from and -to,
// and has no headers to take an envelope from without them.
func TestEmptyMessage(t *testing.T) {
	const warning = "sendmail: warning: the message on standard input is empty\n"
	f := start(t, smtptest.Config{}, false, "tcp")
	got := runSendmail(t, []string{"-server", f.addr, "-from", "carol@example.com", "-to", "dave@example.net"}, "", "")
	want := outcome{Code: cli.ExitOK, Stdout: "dave@example.net: accepted: 250 2.0.0 OK: message queued\n", Stderr: warning}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("with -to, outcome mismatch (-want +got):\n%s", diff)
	}
	if msgs := f.srv.Messages(); len(msgs) != 1 || msgs[0].Size != 0 {
		t.Errorf("stored %+v, want one empty message", msgs)
	}

	got = runSendmail(t, []string{"-server", f.addr}, "", "")
	want = outcome{Code: cli.ExitDataErr, Stderr: warning + "sendmail: " + f.addr + ": message header has no sender address\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("without -to, outcome mismatch (-want +got):\n%s", diff)
	}
}
