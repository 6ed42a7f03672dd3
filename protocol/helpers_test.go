package protocol_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/postwire/postwire/protocol"
)

// ignoreLedger leaves the ledger's fields out of event comparisons in
// the tables that test parsing and state; ledger_test.go checks them.
var ignoreLedger = cmpopts.IgnoreFields(protocol.Event{}, "Handle", "Done", "RcptHandle")

// drain returns the events NextEvent has ready, stopping at ErrNeedData
// (returned as a nil error) or at the first other error.
func drain(c *protocol.Client) ([]protocol.Event, error) {
	var evs []protocol.Event
	for {
		ev, err := c.NextEvent()
		if errors.Is(err, protocol.ErrNeedData) {
			return evs, nil
		}
		if err != nil {
			return evs, err
		}
		evs = append(evs, ev)
		if ev.Kind == protocol.EventClosed {
			return evs, nil
		}
	}
}

// feedPieces gives c the pieces one Receive at a time, draining events
// after each, and stops at the first error (from Receive or NextEvent).
func feedPieces(c *protocol.Client, pieces []string) ([]protocol.Event, error) {
	var all []protocol.Event
	for _, p := range pieces {
		if c.State() == protocol.StateClosed {
			break
		}
		c.Advance(len(c.Outgoing())) // as a session does: write, then read
		if err := c.Receive([]byte(p)); err != nil {
			return all, err
		}
		evs, err := drain(c)
		all = append(all, evs...)
		if err != nil {
			return all, err
		}
	}
	return all, nil
}

// errString renders an error with everything that must not depend on
// chunking: type, cause, state and offset.
func errString(err error) string {
	var pe *protocol.PeerError
	if errors.As(err, &pe) {
		return fmt.Sprintf("PeerError{%v, %d, %v}", pe.State, pe.Offset, pe.Err)
	}
	if err != nil {
		return fmt.Sprintf("%T: %v", err, err)
	}
	return "<nil>"
}

// splits returns the ways feedChunked tries: whole, one byte at a time,
// and split in two at every boundary (at some 64 boundaries for long inputs).
func splits(in string) [][]string {
	ways := [][]string{{in}}
	var bytewise []string
	for i := range len(in) {
		bytewise = append(bytewise, in[i:i+1])
	}
	ways = append(ways, bytewise)
	step := 1
	if len(in) > 512 { // long inputs: about 64 split points, including the ends
		step = len(in) / 64
	}
	for i := 1; i < len(in); i += step {
		ways = append(ways, []string{in[:i], in[i:]})
	}
	if step > 1 {
		ways = append(ways, []string{in[:len(in)-1], in[len(in)-1:]}, []string{in[:len(in)-2], in[len(in)-2:]})
	}
	return ways
}

// feedChunked feeds in to fresh clients (from setup) whole, byte by byte
// and split at every boundary, fails the test if any way gives different
// events or a different error, and returns the whole-input result.
func feedChunked(t *testing.T, setup func() *protocol.Client, in string) ([]protocol.Event, error) {
	t.Helper()
	var wantEv []protocol.Event
	var wantErr error
	for i, pieces := range splits(in) {
		evs, err := feedPieces(setup(), pieces)
		if i == 0 {
			wantEv, wantErr = evs, err
			continue
		}
		if diff := cmp.Diff(wantEv, evs, cmpopts.EquateEmpty(), cmpopts.EquateErrors()); diff != "" {
			t.Fatalf("events depend on chunking (split %d, %d pieces) (-whole +split):\n%s", i, len(pieces), diff)
		}
		if errString(wantErr) != errString(err) {
			t.Fatalf("error depends on chunking (split %d): whole %s, split %s", i, errString(wantErr), errString(err))
		}
	}
	return wantEv, wantErr
}

// greeted returns a client that has read "220 mx.example ESMTP" and
// nothing else.
func greeted(t testing.TB, cfg protocol.Config) *protocol.Client {
	t.Helper()
	c := protocol.NewClient(cfg)
	mustReceive(t, c, "220 mx.example ESMTP\r\n")
	return c
}

// ehloed returns a client after EHLO, with the given extension lines
// advertised (each without code, e.g. "PIPELINING").
func ehloed(t testing.TB, cfg protocol.Config, ext ...string) *protocol.Client {
	t.Helper()
	c := greeted(t, cfg)
	hello := protocol.Ehlo("client.example")
	if cfg.LMTP {
		hello = protocol.Lhlo("client.example")
	}
	mustSend(t, c, hello)
	mustReceive(t, c, ehloReply(ext...))
	c.Advance(len(c.Outgoing()))
	return c
}

func ehloReply(ext ...string) string {
	lines := append([]string{"mx.example"}, ext...)
	var b strings.Builder
	for i, l := range lines {
		sep := "-"
		if i == len(lines)-1 {
			sep = " "
		}
		b.WriteString("250" + sep + l + "\r\n")
	}
	return b.String()
}

// mustReceive feeds s and drains the events, failing on any error.
func mustReceive(t testing.TB, c *protocol.Client, s string) []protocol.Event {
	t.Helper()
	c.Advance(len(c.Outgoing())) // as a session does: write, then read
	if err := c.Receive([]byte(s)); err != nil {
		t.Fatalf("Receive(%q): %v", s, err)
	}
	evs, err := drain(c)
	if err != nil {
		t.Fatalf("NextEvent after %q: %v", s, err)
	}
	return evs
}

func mustSend(t testing.TB, c *protocol.Client, cmd protocol.Command) {
	t.Helper()
	if _, err := c.Send(cmd); err != nil {
		t.Fatalf("Send(%v): %v", cmd, err)
	}
}

// out returns and consumes the outgoing bytes.
func out(c *protocol.Client) string {
	s := string(c.Outgoing())
	c.Advance(len(s))
	return s
}

func reply(code int, lines ...string) protocol.Reply {
	if len(lines) == 0 {
		lines = []string{""}
	}
	return protocol.Reply{Code: code, Lines: lines}
}

func greetingEv(r protocol.Reply) protocol.Event {
	return protocol.Event{Kind: protocol.EventGreeting, Reply: r}
}

func replyEv(cmd protocol.Command, r protocol.Reply) protocol.Event {
	return protocol.Event{Kind: protocol.EventReply, Cmd: cmd, Reply: r}
}

var cmpOpts = []cmp.Option{cmpopts.EquateEmpty(), cmpopts.EquateErrors(), ignoreLedger}

// sendErr is Send's error alone.
func sendErr(c *protocol.Client, cmd protocol.Command) error {
	_, err := c.Send(cmd)
	return err
}
