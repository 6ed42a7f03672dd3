package protocol_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/postwire/postwire/protocol"
)

// The ledger: handles count up, events name them, Done marks the last
// reply of an LMTP end of data, and Written/Owed say what the server can
// have read and what is still owed.
func TestLedgerHandles(t *testing.T) {
	c := ehloed(t, protocol.Config{LMTP: true}, "PIPELINING", "CHUNKING") // LHLO is handle 1
	var hs []protocol.Handle
	for _, cmd := range []protocol.Command{mail("a@b.example"), rcpt("x@d.example"), rcpt("bad@d.example"), rcpt("y@d.example")} {
		h, err := c.Send(cmd)
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
	last, err := c.SendChunk([]byte("hi\r\n"), true)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]protocol.Handle{2, 3, 4, 5}, hs); diff != "" || last != 6 || c.Last() != 6 {
		t.Fatalf("handles %v, last %d (-want +got):\n%s", hs, last, diff)
	}
	if c.Written(2) || !c.Owed(2) || !c.Owed(last) {
		t.Fatalf("before Advance: Written(2)=%v Owed(2)=%v Owed(last)=%v", c.Written(2), c.Owed(2), c.Owed(last))
	}
	out := c.Outgoing()
	c.Advance(len(out) - 1) // all but the chunk's last byte
	if !c.Written(5) || c.Written(last) {
		t.Fatalf("after a partial write: Written(5)=%v Written(last)=%v", c.Written(5), c.Written(last))
	}
	c.Advance(1)
	evs := mustReceive(t, c, "250 ok\r\n250 ok\r\n550 no\r\n250 ok\r\n250 2.0.0 x saved\r\n452 4.2.2 y full\r\n")
	type got struct {
		H, RcptH protocol.Handle
		Rcpt     string
		Code     int
		Done     bool
	}
	var g []got
	for _, ev := range evs {
		g = append(g, got{ev.Handle, ev.RcptHandle, ev.Rcpt, ev.Reply.Code, ev.Done})
	}
	want := []got{
		{2, 0, "", 250, true}, {3, 0, "", 250, true}, {4, 0, "", 550, true}, {5, 0, "", 250, true},
		{6, 3, "x@d.example", 250, false}, {6, 5, "y@d.example", 452, true},
	}
	if diff := cmp.Diff(want, g); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
	if c.Owed(last) || c.Pending() != 0 {
		t.Fatalf("after the last LMTP reply: Owed=%v Pending=%d", c.Owed(last), c.Pending())
	}
}

// A reply that arrives before its command was written is unsolicited,
// whatever is queued: it never answers the queued command.
func TestEarlyReplyNeverAnswersUnwrittenCommand(t *testing.T) {
	c := ehloed(t, protocol.Config{}, "PIPELINING")
	mustSend(t, c, mail("a@b.example"))
	// Not written yet (no Advance): the server cannot be answering it.
	if err := c.Receive([]byte("250 ok\r\n")); err != nil {
		t.Fatal(err)
	}
	_, err := c.NextEvent()
	var pe *protocol.PeerError
	if !errors.As(err, &pe) || !errors.Is(err, protocol.ErrUnsolicited) || pe.Reply.Code != 250 {
		t.Fatalf("early reply: %v, want ErrUnsolicited keeping the reply", err)
	}
	if len(c.Outgoing()) != 0 {
		t.Fatalf("the MAIL would still go out after the violation: %q", c.Outgoing())
	}
}

// The replies before a violation are delivered, then the error; the
// result does not depend on how the bytes were split.
func TestUnsolicitedAfterValidReply(t *testing.T) {
	setup := func() *protocol.Client {
		c := ehloed(t, protocol.Config{}, "PIPELINING")
		mustSend(t, c, protocol.Noop())
		c.Advance(len(c.Outgoing()))
		return c
	}
	evs, err := feedChunked(t, setup, "250 ok\r\n250 extra\r\n")
	if len(evs) != 1 || evs[0].Reply.Code != 250 || evs[0].Handle != 2 || !errors.Is(err, protocol.ErrUnsolicited) {
		t.Fatalf("NOOP answered twice: %v, %v", evs, err)
	}
}

// 334 challenges arrive decoded; text that is not base64 is a
// *ChallengeError in the event, not a failure (LOGIN's "334 Username:").
func TestChallengeDecoding(t *testing.T) {
	c := ehloed(t, protocol.Config{}, "AUTH LOGIN")
	got := play(c, send(protocol.Auth("LOGIN", nil)), recv("334 Username:\r\n"))
	if got.Err != nil || len(got.Events) != 1 {
		t.Fatalf("%v %v", got.Events, got.Err)
	}
	ev := got.Events[0]
	var ce *protocol.ChallengeError
	if !errors.As(ev.ChallengeErr, &ce) || !errors.Is(ev.ChallengeErr, protocol.ErrMalformedChallenge) || ce.Text != "Username:" || ev.Challenge != nil {
		t.Fatalf("challenge %q, error %v; want a *ChallengeError", ev.Challenge, ev.ChallengeErr)
	}
	got = play(c, send(protocol.AuthResponse([]byte("u"))), recv("334 \r\n"))
	if ev := got.Events[0]; ev.ChallengeErr != nil || ev.Challenge == nil || len(ev.Challenge) != 0 {
		t.Fatalf("empty challenge: %q, %v", ev.Challenge, ev.ChallengeErr)
	}
}

// TLSDone refuses while bytes after the 220 are buffered.
func TestTLSDoneRefusesBufferedBytes(t *testing.T) {
	c := ehloed(t, protocol.Config{}, "STARTTLS")
	got := play(c, send(protocol.StartTLS()), recv("220 go\r\n250 inj"))
	if len(got.Events) != 1 || got.Events[0].Kind != protocol.EventStartTLS {
		t.Fatalf("events %v", got.Events)
	}
	if err := c.TLSDone(); !errors.Is(err, protocol.ErrTLSInjection) {
		t.Fatalf("TLSDone with bytes buffered = %v, want ErrTLSInjection", err)
	}
}
