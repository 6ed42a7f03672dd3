package protocol_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/postwire/postwire/protocol"
)

// TestReplyStartedBeforeWrite: a reply whose first byte arrived before a
// command was written in full cannot answer that command, even when its
// last byte arrives after the write: the server began it before it could
// have read the command. The same bytes in one Receive, before the write,
// are ErrUnsolicited; they must be however the write falls between them.
func TestReplyStartedBeforeWrite(t *testing.T) {
	r250 := protocol.Reply{Code: 250, Lines: []string{"ok"}}
	tests := []struct {
		name    string
		ext     []string
		steps   []step
		wantEvs int // events before the error
		wantErr error
		reply   protocol.Reply // PeerError.Reply
	}{
		{"idle, NOOP written in the middle", nil, []step{
			recv("25"), send(protocol.Noop()), recv("0 ok\r\n"),
		}, 0, protocol.ErrUnsolicited, r250},
		{"a 250 to the body begun with the 354", nil, []step{
			send(mail("a@b.example")), recv("250 ok\r\n"), send(rcpt("c@d.example")), recv("250 ok\r\n"),
			send(data), recv("354 go\r\n2"), body("x\r\n"), endBody, recv("50 ok\r\n"),
		}, 3, protocol.ErrUnsolicited, r250},
		{"pipelined: RCPT's reply begun before RCPT was written", []string{"PIPELINING"}, []step{
			send(mail("a@b.example")), recv("250 ok\r\n250"), send(rcpt("c@d.example")), recv(" ok\r\n"),
		}, 1, protocol.ErrUnsolicited, r250},
		{"begun after the write: an answer", nil, []step{
			send(protocol.Noop()), recv("25"), recv("0 ok\r\n"),
		}, 1, nil, protocol.Reply{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ehloed(t, protocol.Config{}, tt.ext...)
			got := play(c, tt.steps...)
			if len(got.Events) != tt.wantEvs || !errors.Is(got.Err, tt.wantErr) {
				t.Fatalf("events %v, err %v; want %d events, err %v", got.Events, got.Err, tt.wantEvs, tt.wantErr)
			}
			var pe *protocol.PeerError
			if tt.wantErr != nil && errors.As(got.Err, &pe) {
				if diff := cmp.Diff(tt.reply, pe.Reply); diff != "" {
					t.Errorf("PeerError.Reply (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestCachedReplyNotCorruptedByCaller: identical replies in a row share
// one Reply (no allocation per BDAT chunk), but a caller that writes into
// a Reply's Lines must not change what a later reply says.
func TestCachedReplyNotCorruptedByCaller(t *testing.T) {
	c := ehloed(t, protocol.Config{})
	var got []string
	for i := range 3 {
		r := play(c, send(protocol.Noop()), recv("250-2.0.0 first\r\n250 2.0.0 ok\r\n"))
		if r.Err != nil || len(r.Events) != 1 {
			t.Fatalf("round %d: %v %v", i, r.Events, r.Err)
		}
		lines := r.Events[0].Reply.Lines
		got = append(got, lines...)
		lines[0], lines[1] = "mutated", "by the caller"
	}
	want := []string{"first", "ok", "first", "ok", "first", "ok"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Lines of successive identical replies (-want +got):\n%s", diff)
	}
}

// TestLastParamNotShared: the Params of a BDAT LAST command in an Event
// are the caller's to keep; writing into them must not change the next
// BDAT LAST this client (or any other) sends.
func TestLastParamNotShared(t *testing.T) {
	c := ehloed(t, protocol.Config{}, "CHUNKING")
	txn := []step{send(mail("a@b.example")), recv("250 ok\r\n"), send(rcpt("c@d.example")), recv("250 ok\r\n"), bdat("hi\r\n", true), recv("250 ok\r\n")}
	first := play(c, txn...)
	if first.Err != nil || len(first.Events) != 3 {
		t.Fatalf("%v %v", first.Events, first.Err)
	}
	first.Events[2].Cmd.Params[0] = protocol.Param{Key: "X"}
	other := ehloed(t, protocol.Config{}, "CHUNKING")
	for _, cl := range []*protocol.Client{c, other} {
		r := play(cl, txn...)
		if r.Err != nil || r.Wire != "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nBDAT 4 LAST\r\nhi\r\n" || cl.State() != protocol.StateReady {
			t.Fatalf("after a caller changed an event's Params: wire %q, state %v, err %v", r.Wire, cl.State(), r.Err)
		}
	}
}

// TestChallengeShapes: a SASL challenge is the text of one 334 line (RFC
// 4954 §4), surrounding spaces ignored. A multi-line 3xx is no challenge
// (the base64 decoder would skip the line breaks and join the lines into
// one the server never sent), nor is text with inner spaces.
func TestChallengeShapes(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // the decoded challenge; "" with wantErr
		wantErr  bool
	}{
		{"plain", "334 YWJj\r\n", "abc", false},
		{"spaces around", "334   YWJj  \r\n", "abc", false},
		{"empty", "334 \r\n", "", false},
		{"bare 334", "334\r\n", "", false},
		{"two lines", "334-YWJj\r\n334 ZGVm\r\n", "", true},
		{"inner space", "334 YWJj ZGVm\r\n", "", true},
		{"unpadded", "334 YWI\r\n", "", true},
		{"a prompt", "334 Username:\r\n", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ehloed(t, protocol.Config{}, "AUTH PLAIN")
			got := play(c, send(protocol.Auth("PLAIN", nil)), recv(tt.in))
			if got.Err != nil || len(got.Events) != 1 {
				t.Fatalf("%v %v", got.Events, got.Err)
			}
			ev := got.Events[0]
			if (ev.ChallengeErr != nil) != tt.wantErr || string(ev.Challenge) != tt.want {
				t.Errorf("challenge %q, error %v; want %q, error %v", ev.Challenge, ev.ChallengeErr, tt.want, tt.wantErr)
			}
		})
	}
}
