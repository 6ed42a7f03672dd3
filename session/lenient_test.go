package session_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/postwire/postwire/codec"
	"github.com/postwire/postwire/session/smtptest"
)

// TestSendMessageLenientHeaders (issue 8): headers smtplib's send_message
// sends are sent, with the envelope smtplib would use; a null sender
// spelled "<>" is MAIL FROM:<>; what would corrupt the command line is
// refused before anything is sent.
func TestSendMessageLenientHeaders(t *testing.T) {
	tests := []struct {
		name    string
		header  []string
		from    string
		to      []string
		err     error
		bccGone bool
	}{
		{name: "bare local part in Resent-To",
			header: []string{"From: a@example.com", "To: b@example.org", "Resent-Date: Mon, 23 Nov 2026 09:00:00 +0000",
				"Resent-From: fwd@example.com", "Resent-To: a@example.com, Jeff"},
			from: "fwd@example.com", to: []string{"a@example.com", "Jeff"}},
		{name: "dots in display name, trailing comma, group, Bcc",
			header: []string{"From: John Q. Public <jqp@example.com>", "To: Team: x@example.org, Jeff;,",
				"Bcc: Doe, John <jd@example.net>"},
			from: "jqp@example.com", to: []string{"x@example.org", "Jeff", "Doe", "jd@example.net"}, bccGone: true},
		{name: "From <> is the null reverse-path",
			header: []string{"From: Mail Delivery System <>", "To: b@example.org"},
			from:   "", to: []string{"b@example.org"}},
		{name: "space inside a lenient address",
			header: []string{"From: a@example.com", "To: Jeff, John Public jqp@example.com"},
			err:    codec.ErrAddressBrackets},
		{name: "two addresses in one item",
			header: []string{"From: a@example.com", "To: a@example.com <b@example.org>"},
			err:    codec.ErrHeaderSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, smtptest.Config{})
			c := connect(t, transports[0], s, nil)
			msg := strings.Join(tt.header, "\r\n") + "\r\n\r\nbody\r\n"
			_, err := c.SendMessage(ctxTimeout(t), strings.NewReader(msg), nil)
			if diff := cmp.Diff(tt.err, err, cmpopts.EquateErrors()); diff != "" {
				t.Fatalf("SendMessage error mismatch (-want +got):\n%s", diff)
			}
			if tt.err != nil {
				if strings.Contains(string(s.Received()), "MAIL FROM") {
					t.Errorf("MAIL went out before the refusal:\n%s", s.Received())
				}
				return
			}
			msgs := s.Messages()
			if len(msgs) != 1 {
				t.Fatalf("server got %d messages, want 1", len(msgs))
			}
			got := struct {
				From string
				To   []string
			}{msgs[0].From, msgs[0].To}
			want := struct {
				From string
				To   []string
			}{tt.from, tt.to}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("envelope mismatch (-want +got):\n%s", diff)
			}
			if tt.bccGone && strings.Contains(string(msgs[0].Data), "Bcc") {
				t.Errorf("Bcc transmitted:\n%s", msgs[0].Data)
			}
		})
	}
}
