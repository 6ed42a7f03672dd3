package protocol_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/postwire/postwire/protocol"
)

// TestUnsolicitedReplyKept: the *PeerError for ErrUnsolicited carries the
// reply that arrived unasked (a server refusing the message in the middle
// of the body, as Postfix's smtp-sink -A 0 does), in every state, however
// the bytes were split; the other causes leave PeerError.Reply zero.
func TestUnsolicitedReplyKept(t *testing.T) {
	e571 := protocol.EnhancedCode{Class: 5, Subject: 7, Detail: 1}
	tests := []struct {
		name  string
		steps []step
		want  protocol.PeerError
	}{
		{"during the body", []step{
			send(mail("a@b.example")), recv("250 ok\r\n"), send(rcpt("c@d.example")), recv("250 ok\r\n"),
			send(data), recv("354 go\r\n"), body("half a message\r\n"),
			recv("550 5.7.1 rejected early\r\n"),
		}, protocol.PeerError{State: protocol.StateBody, Offset: 62, Err: protocol.ErrUnsolicited,
			Reply: protocol.Reply{Code: 550, Enhanced: e571, Lines: []string{"rejected early"}}}},
		{"with the 354", []step{
			send(mail("a@b.example")), recv("250 ok\r\n"), send(rcpt("c@d.example")), recv("250 ok\r\n"),
			send(data), recv("354 go\r\n550-5.7.1 rejected\r\n550 5.7.1 early\r\n"),
		}, protocol.PeerError{State: protocol.StateBody, Offset: 62, Err: protocol.ErrUnsolicited,
			Reply: protocol.Reply{Code: 550, Enhanced: e571, Lines: []string{"rejected", "early"}}}},
		{"when ready", []step{recv("250 surprise\r\n")},
			protocol.PeerError{State: protocol.StateReady, Offset: 38, Err: protocol.ErrUnsolicited,
				Reply: protocol.Reply{Code: 250, Lines: []string{"surprise"}}}},
		{"malformed, no reply", []step{
			send(protocol.Noop()), recv("25O bad\r\n"),
		}, protocol.PeerError{State: protocol.StateReady, Offset: 38, Err: protocol.ErrMalformedReply}},
		{"closed in the body, no reply", []step{
			send(mail("a@b.example")), recv("250 ok\r\n"), send(rcpt("c@d.example")), recv("250 ok\r\n"),
			send(data), recv("354 go\r\n"), body("half"), eof,
		}, protocol.PeerError{State: protocol.StateBody, Offset: 62, Err: protocol.ErrUnexpectedClose}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ehloed(t, protocol.Config{})
			got := play(c, tt.steps...)
			var pe *protocol.PeerError
			if !errors.As(got.Err, &pe) {
				t.Fatalf("err = %v, want a *PeerError", got.Err)
			}
			if diff := cmp.Diff(tt.want, *pe, cmp.Comparer(func(a, b error) bool { return a == b })); diff != "" {
				t.Errorf("PeerError (-want +got):\n%s", diff)
			}
			if err := c.Err(); err != got.Err {
				t.Errorf("Err() = %v, want the sticky error", err)
			}
			if got.State != protocol.StateFailed {
				t.Errorf("state %v, want Failed", got.State)
			}
		})
	}
}
