package fuzz

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/postwire/postwire/protocol"
)

// Small limits, so that the fuzzer reaches them.
var fuzzConfig = protocol.Config{MaxLineLength: 512, MaxReplyLines: 16}

// protoRun is what one run over the fuzzed server bytes produced; it must
// not depend on how the bytes were split.
type protoRun struct {
	Events []protocol.Event
	Err    string // "" or the failure: type, cause, state, offset
	Wire   string // what the client queued (FuzzConversation)
}

func describe(err error) string {
	var pe *protocol.PeerError
	if errors.As(err, &pe) {
		return fmt.Sprintf("PeerError{%v %d %v}", pe.State, pe.Offset, pe.Err)
	}
	return fmt.Sprintf("%T %v", err, err)
}

// feedServer gives c the bytes in pieces of at most chunk, calling
// onEvent after every event, then an EOF. It stops at the first error,
// which must be a *protocol.PeerError, and checks that the buffered input
// stays within the configured bounds.
func feedServer(t *testing.T, c *protocol.Client, in []byte, chunk int, onEvent func(protocol.Event)) protoRun {
	var r protoRun
	bound := fuzzConfig.MaxLineLength * fuzzConfig.MaxReplyLines
	fail := func(err error) protoRun {
		var pe *protocol.PeerError
		if !errors.As(err, &pe) {
			t.Fatalf("failure is %T (%v), want *protocol.PeerError", err, err)
		}
		if c.State() != protocol.StateFailed || c.Err() != err {
			t.Fatalf("PeerError not sticky: state %v, Err() %v", c.State(), c.Err())
		}
		r.Err = describe(err)
		return r
	}
	drainEvents := func() error {
		for {
			ev, err := c.NextEvent()
			if errors.Is(err, protocol.ErrNeedData) {
				return nil
			}
			if err != nil {
				var ue *protocol.UsageError
				if errors.As(err, &ue) && errors.Is(err, protocol.ErrClosed) {
					return nil // closed and the close was reported
				}
				return err
			}
			r.Events = append(r.Events, ev)
			if onEvent != nil {
				onEvent(ev)
			}
		}
	}
	c.Advance(len(c.Outgoing())) // everything queued was written before the server speaks
	for len(in) > 0 {
		n := min(chunk, len(in))
		if err := c.Receive(in[:n]); err != nil {
			return fail(err)
		}
		in = in[n:]
		if err := drainEvents(); err != nil {
			return fail(err)
		}
		if b := c.Buffered(); b > bound {
			t.Fatalf("%d bytes buffered, bound %d", b, bound)
		}
	}
	c.ReceiveEOF()
	if err := drainEvents(); err != nil {
		return fail(err)
	}
	return r
}

// FuzzReplies feeds arbitrary server bytes to a client waiting for the
// greeting, and to one that has sent EHLO and a pipelined envelope.
// Invariants (after h11's fuzz harness): no panic; every failure is a
// sticky *protocol.PeerError; the whole input and the input one byte at a
// time give the same events and the same error; memory stays bounded.
func FuzzReplies(f *testing.F) {
	f.Add([]byte("220 hi\r\n250-x\r\n250 PIPELINING\r\n250 ok\r\n250 ok\r\n354 go\r\n"))
	f.Add([]byte("220-a\r\n220 b\r\n250 2.0.0 ok\n"))
	f.Add([]byte("220 x\r\n250-" + string(bytes.Repeat([]byte("y"), 520)) + "\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		setups := []func() *protocol.Client{
			func() *protocol.Client { return protocol.NewClient(fuzzConfig) },
			func() *protocol.Client {
				c := protocol.NewClient(fuzzConfig)
				c.Receive([]byte("220 mx\r\n"))
				c.NextEvent()
				c.Send(protocol.Ehlo("client.example"))
				c.Advance(len(c.Outgoing()))
				c.Receive([]byte("250-mx\r\n250-CHUNKING\r\n250-STARTTLS\r\n250 PIPELINING\r\n"))
				c.NextEvent()
				for _, cmd := range []protocol.Command{protocol.Mail("a@b.example"), protocol.Rcpt("c@d.example"), protocol.Rcpt("e@d.example")} {
					if _, err := c.Send(cmd); err != nil {
						t.Fatal(err)
					}
				}
				if _, err := c.SendChunk([]byte("x\r\n"), true); err != nil {
					t.Fatal(err)
				}
				if _, err := c.Send(protocol.Quit()); err != nil {
					t.Fatal(err)
				}
				return c
			},
			func() *protocol.Client {
				c := protocol.NewClient(protocol.Config{LMTP: true, MaxLineLength: fuzzConfig.MaxLineLength, MaxReplyLines: fuzzConfig.MaxReplyLines})
				c.Receive([]byte("220 mx\r\n"))
				c.NextEvent()
				c.Send(protocol.Lhlo("client.example"))
				c.Advance(len(c.Outgoing()))
				return c
			},
		}
		for i, setup := range setups {
			whole := feedServer(t, setup(), in, len(in)+1, nil)
			bytewise := feedServer(t, setup(), in, 1, nil)
			if diff := cmp.Diff(whole, bytewise, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("setup %d: result depends on chunking (-whole +bytewise):\n%s", i, diff)
			}
		}
	})
}

// conversation is a scripted client: EHLO, then MAIL, two RCPT and DATA
// (pipelined when offered), a body, QUIT. It reacts to every event, so the
// commands it sends depend only on the events.
type conversation struct {
	t         *testing.T
	c         *protocol.Client
	endSent   int // EndBody calls
	successes int // positive replies to VerbEndData
	quitSent  bool
}

func (cv *conversation) send(cmd protocol.Command) bool {
	if cv.c.Check(cmd) != nil {
		return false
	}
	if _, err := cv.c.Send(cmd); err != nil {
		cv.t.Fatalf("Send(%v) after Check passed: %v", cmd, err)
	}
	return true
}

func (cv *conversation) act(ev protocol.Event) {
	c := cv.c
	if ev.Kind == protocol.EventReply && ev.Cmd.Verb == protocol.VerbEndData && ev.Reply.Positive() {
		cv.successes++
	}
	if c.Pending() > 0 && !c.Extensions().Has("PIPELINING") {
		return
	}
	switch c.State() {
	case protocol.StateHello:
		cv.send(protocol.Ehlo("client.example"))
	case protocol.StateReady:
		if cv.endSent > 0 {
			cv.quitSent = cv.quitSent || cv.send(protocol.Quit())
			return
		}
		if cv.send(protocol.Mail("a@b.example")) {
			cv.send(protocol.Rcpt("c@d.example"))
			cv.send(protocol.Rcpt("e@d.example"))
			cv.send(protocol.Data())
		}
	case protocol.StateMail:
		if c.Pending() == 0 {
			cv.send(protocol.Rset())
		}
	case protocol.StateRcpt:
		cv.send(protocol.Data())
	case protocol.StateBody:
		if err := c.SendBody([]byte("Subject: x\n\n.dot\r\nend")); err != nil {
			cv.t.Fatalf("SendBody in Body: %v", err)
		}
		if _, err := c.EndBody(); err != nil {
			cv.t.Fatalf("EndBody in Body: %v", err)
		}
		cv.endSent++
	case protocol.StateTLS:
		if err := c.TLSDone(); err != nil {
			cv.t.Fatalf("TLSDone: %v", err)
		}
		cv.send(protocol.Ehlo("client.example"))
	}
}

// FuzzConversation drives the scripted conversation with arbitrary server
// bytes, in pieces of a fuzzed size (the client writes between pieces, so
// the chunking decides what the server's bytes can answer: unlike
// FuzzReplies, the run may differ with it). Invariants: no panic; failures
// are *protocol.PeerError; no reply is attributed to a command that was not
// written in full when the reply arrived; the client never reports
// end-of-data success unless it sent the end of data and parsed a 2xx reply
// to it, and never more successes than ends of data (SMTP).
func FuzzConversation(f *testing.F) {
	f.Add([]byte("220 mx\r\n250-mx\r\n250 PIPELINING\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n221 bye\r\n"))
	f.Add([]byte("220 mx\r\n250 mx\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n221 bye\r\n"))
	f.Add([]byte("220 mx\r\n250 mx\r\n250 ok\r\n550 no\r\n550 no\r\n354 go\r\n554 no recipients\r\n221 bye\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, chunk := range []int{len(in) + 1, 1, 1 + len(in)%7} {
			cv := &conversation{t: t, c: protocol.NewClient(fuzzConfig)}
			var wire bytes.Buffer
			r := feedServer(t, cv.c, in, chunk, func(ev protocol.Event) {
				if ev.Kind == protocol.EventReply && ev.Cmd.Verb == protocol.VerbEndData && cv.endSent == 0 {
					t.Fatalf("end-of-data reply before EndBody: %+v", ev)
				}
				if ev.Handle != protocol.NoHandle && !cv.c.Written(ev.Handle) {
					t.Fatalf("reply attributed to command %d, not yet written: %+v", ev.Handle, ev)
				}
				cv.act(ev)
				wire.Write(cv.c.Outgoing())
				cv.c.Advance(len(cv.c.Outgoing()))
			})
			r.Wire = wire.String()
			var got int
			for _, ev := range r.Events {
				if ev.Kind == protocol.EventReply && ev.Cmd.Verb == protocol.VerbEndData && ev.Reply.Positive() {
					got++
				}
			}
			if got != cv.successes || cv.successes > cv.endSent {
				t.Fatalf("%d successes reported, %d positive end-of-data replies, %d ends sent", cv.successes, got, cv.endSent)
			}
			if cv.successes > 0 && !bytes.Contains(in, []byte("\n2")) && !bytes.HasPrefix(in, []byte("2")) {
				t.Fatalf("success without a 2xx line in the input")
			}
			if cv.endSent > 0 && !bytes.Contains([]byte(r.Wire), []byte("\r\n.\r\n")) {
				t.Fatalf("end of data counted but no terminator sent: %q", r.Wire)
			}
			if cv.c.State() == protocol.StateClosed && len(cv.c.Outgoing()) != 0 {
				t.Fatalf("bytes queued after close: %q", cv.c.Outgoing())
			}
		}
	})
}
