//go:build interop

package interop

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/transport"
)

// sinkEnvelope is what smtp-sink recorded of a transaction.
type sinkEnvelope struct {
	Proto, Helo, Mail string
	Rcpt              []string
}

func rcptArgs(rcpts []string) []string {
	var out []string
	for _, r := range rcpts {
		out = append(out, "<"+r+">")
	}
	return out
}

func mailArgs(sender string, m message) string {
	if m.eightBit {
		return "<" + sender + "> BODY=8BITMIME"
	}
	return "<" + sender + ">"
}

// dialSink connects to an smtp-sink through transport.Dial, recording the writes.
func dialSink(t *testing.T, addr string, o *session.Options) (*session.Client, *wireLog) {
	t.Helper()
	ctx := testContext(t)
	conn, err := transport.Dial(ctx, "tcp", addr, transport.Options{})
	if err != nil {
		t.Fatalf("transport.Dial: %v", err)
	}
	wire := &wireLog{Conn: conn}
	if o == nil {
		o = &session.Options{}
	}
	o.LocalName = "client.postwire.test"
	c, err := session.NewClient(ctx, wire, "smtp-sink.interop", o)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, wire
}

// TestSinkPipelining: the corpus to smtp-sink with PIPELINING; MAIL, RCPTs and DATA must go
// out in one write, and the dump must hold the message and the envelope.
func TestSinkPipelining(t *testing.T) {
	c, wire := dialSink(t, mustEnv(t, "POSTWIRE_INTEROP_SINK"), nil)
	ctx := testContext(t)
	rcpts := []string{"a@example.net", "b@example.net"}
	for _, way := range sendWays {
		for i := range corpus("x@x", rcpts, true) {
			sender := uniqueSender("sink-" + way.name)
			m := corpus(sender, rcpts, true)[i]
			t.Run(way.name+"/"+m.name, func(t *testing.T) {
				res := way.send(t, c, sender, rcpts, m)
				checkAccepted(t, res, rcpts)
				r := sinkStored(t, "pipelining", sender)
				checkBytes(t, m.name, asDumped(m.want), r.Message)
				want := sinkEnvelope{"ESMTP", "client.postwire.test", mailArgs(sender, m), rcptArgs(rcpts)}
				if d := cmp.Diff(want, sinkEnvelope{r.ClientProto, r.Helo, r.MailArgs, r.RcptArgs}); d != "" {
					t.Errorf("envelope (-want +got):\n%s", d)
				}
				w := wire.writeWith("MAIL FROM:<" + sender + ">")
				for _, s := range []string{"RCPT TO:<a@example.net>", "RCPT TO:<b@example.net>", "DATA\r\n"} {
					if !bytes.Contains(w, []byte(s)) {
						t.Errorf("pipelined write %q lacks %q", head(w), s)
					}
				}
			})
		}
	}
	if _, err := c.Quit(ctx); err != nil {
		t.Errorf("Quit: %v", err)
	}
}

// TestSinkBatch: SendBatch over PIPELINING; each message's MAIL follows the previous
// message's final dot in the same write (RFC 2920 section 3.1).
func TestSinkBatch(t *testing.T) {
	c, wire := dialSink(t, mustEnv(t, "POSTWIRE_INTEROP_SINK"), nil)
	ctx := testContext(t)
	rcpts := []string{"batch@example.net"}
	var envs []session.Envelope
	var msgs []message
	for i, m := range corpus("x@x", rcpts, true) {
		if m.large {
			continue
		}
		sender := uniqueSender("sink-batch")
		m = corpus(sender, rcpts, true)[i]
		msgs = append(msgs, m)
		envs = append(envs, session.Envelope{From: sender, To: rcpts, Body: m.body(), Options: &session.SendOptions{EightBitMIME: m.eightBit}})
	}
	results := c.SendBatch(ctx, envs)
	if len(results) != len(envs) {
		t.Fatalf("SendBatch: %d results for %d messages", len(results), len(envs))
	}
	for i, r := range results {
		if r.Err != nil {
			t.Errorf("%s: %v", msgs[i].name, r.Err)
			continue
		}
		got := sinkStored(t, "pipelining", envs[i].From)
		checkBytes(t, msgs[i].name, asDumped(msgs[i].want), got.Message)
		if i > 0 {
			w := wire.writeWith("MAIL FROM:<" + envs[i].From + ">")
			if !bytes.Contains(w, []byte("\r\n.\r\nMAIL FROM:<"+envs[i].From+">")) {
				t.Errorf("message %d: MAIL not in the same write as the previous final dot: %q", i, head(w))
			}
		}
	}
	if _, err := c.Quit(ctx); err != nil {
		t.Errorf("Quit: %v", err)
	}
}

// TestSinkNoPipelining: smtp-sink -p -8 (no PIPELINING, no 8BITMIME): one command per
// round trip, and an 8-bit message asked for with EightBitMIME is refused before sending.
func TestSinkNoPipelining(t *testing.T) {
	c, wire := dialSink(t, mustEnv(t, "POSTWIRE_INTEROP_SINK_NOPIPE"), nil)
	ctx := testContext(t)
	if err := c.EhloOrHeloIfNeeded(ctx); err != nil {
		t.Fatal(err)
	}
	if c.HasExtension("PIPELINING") || c.HasExtension("8BITMIME") {
		t.Fatalf("smtp-sink -p -8 advertises PIPELINING %v 8BITMIME %v", c.HasExtension("PIPELINING"), c.HasExtension("8BITMIME"))
	}
	rcpts := []string{"a@example.net", "b@example.net"}
	for _, way := range sendWays {
		for i := range corpus("x@x", rcpts, false) {
			sender := uniqueSender("sink-nopipe-" + way.name)
			m := corpus(sender, rcpts, false)[i]
			t.Run(way.name+"/"+m.name, func(t *testing.T) {
				res := way.send(t, c, sender, rcpts, m)
				checkAccepted(t, res, rcpts)
				r := sinkStored(t, "nopipe", sender)
				checkBytes(t, m.name, asDumped(m.want), r.Message)
				if d := cmp.Diff(rcptArgs(rcpts), r.RcptArgs); d != "" {
					t.Errorf("RCPT args (-want +got):\n%s", d)
				}
				w := wire.writeWith("MAIL FROM:<" + sender + ">")
				if bytes.Contains(w, []byte("RCPT")) {
					t.Errorf("MAIL and RCPT in one write without PIPELINING: %q", head(w))
				}
			})
		}
	}
	sender := uniqueSender("sink-nopipe-8bit")
	m := corpus(sender, rcpts, true)
	var eight message
	for _, x := range m {
		if x.eightBit {
			eight = x
		}
	}
	_, err := c.SendMail(ctx, sender, rcpts, eight.body(), &session.SendOptions{EightBitMIME: true})
	var nse *session.NotSupportedError
	if !errors.As(err, &nse) || nse.Extension != "8BITMIME" || !errors.Is(err, session.ErrNotSupported) {
		t.Errorf("EightBitMIME without 8BITMIME: %v, want *NotSupportedError{8BITMIME}", err)
	}
	if w := wire.writeWith(sender); w != nil {
		t.Errorf("something was sent for the refused 8-bit message: %q", head(w))
	}
	if _, err := c.Quit(ctx); err != nil {
		t.Errorf("Quit: %v", err)
	}
}

// TestSinkRejectRCPT: smtp-sink -f RCPT refuses every recipient with 500 5.3.0: the
// session reports *RecipientsRefusedError, resets, and the connection stays usable.
func TestSinkRejectRCPT(t *testing.T) {
	c, wire := dialSink(t, mustEnv(t, "POSTWIRE_INTEROP_SINK_REJECT"), nil)
	ctx := testContext(t)
	sender := uniqueSender("sink-reject")
	rcpts := []string{"x@example.net", "y@example.net"}
	_, err := c.SendMail(ctx, sender, rcpts, strings.NewReader("Subject: x\r\n\r\nx\r\n"), nil)
	var rre *session.RecipientsRefusedError
	if !errors.As(err, &rre) {
		t.Fatalf("SendMail: %v, want *RecipientsRefusedError", err)
	}
	type refusal struct {
		Recipient string
		Code      int
		Enhanced  string
	}
	var got []refusal
	for _, r := range rre.Refused {
		got = append(got, refusal{r.Recipient, r.Reply.Code, r.Reply.Enhanced.String()})
	}
	if d := cmp.Diff([]refusal{{"x@example.net", 500, "5.3.0"}, {"y@example.net", 500, "5.3.0"}}, got); d != "" {
		t.Errorf("refusals (-want +got):\n%s", d)
	}
	if w := wire.writeWith("DATA\r\n"); w != nil {
		t.Errorf("DATA sent although every recipient was refused: %q", head(w))
	}
	if _, err := c.Noop(ctx); err != nil {
		t.Errorf("NOOP afterwards: %v", err)
	}
	if _, err := c.Quit(ctx); err != nil {
		t.Errorf("Quit: %v", err)
	}
}

// TestSinkLMTP: smtp-sink -L on a Unix socket: one reply per recipient after the data.
func TestSinkLMTP(t *testing.T) {
	sock := mustEnv(t, "POSTWIRE_INTEROP_SINK_LMTP")
	ctx := testContext(t)
	c, err := session.DialLMTP(ctx, sock, &session.Options{LocalName: "client.postwire.test"})
	if err != nil {
		t.Fatalf("DialLMTP: %v", err)
	}
	defer c.Close()
	rcpts := []string{"l1@example.net", "l2@example.net", "l3@example.net"}
	for i := range corpus("x@x", rcpts, true) {
		sender := uniqueSender("sink-lmtp")
		m := corpus(sender, rcpts, true)[i]
		way := sendWays[i%2]
		t.Run(way.name+"/"+m.name, func(t *testing.T) {
			res := way.send(t, c, sender, rcpts, m)
			// smtp-sink answers each LMTP recipient "250 2.2.0 Ok".
			want := []lmtpOutcome{{"l1@example.net", 250, "2.2.0", false}, {"l2@example.net", 250, "2.2.0", false}, {"l3@example.net", 250, "2.2.0", false}}
			if d := cmp.Diff(want, outcomes(res)); d != "" {
				t.Errorf("per-recipient replies (-want +got):\n%s", d)
			}
			r := sinkStored(t, "lmtp", sender)
			checkBytes(t, m.name, asDumped(m.want), r.Message)
			if d := cmp.Diff(sinkEnvelope{"LMTP", "client.postwire.test", mailArgs(sender, m), rcptArgs(rcpts)},
				sinkEnvelope{r.ClientProto, r.Helo, r.MailArgs, r.RcptArgs}); d != "" {
				t.Errorf("envelope (-want +got):\n%s", d)
			}
		})
	}
	if _, err := c.Quit(ctx); err != nil {
		t.Errorf("Quit: %v", err)
	}
}
