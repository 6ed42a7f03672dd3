package session_test

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/postwire/postwire/protocol"
	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/session/smtptest"
)

// earlyBodySize is large enough that the client is still writing the body
// when the server hangs up: far more than the socket and pipe buffers.
const earlyBodySize = 8 << 20

// TestEarlyReplyDuringBody: the server refuses the message while the body
// is still being written (Postfix's smtp-sink -A 0: 354, then at once 550
// and a close). The write fails; the client must still read the 550 the
// server sent and report it as a *DataError, which also matches
// ErrServerDisconnected, and never as success or unknown delivery.
func TestEarlyReplyDuringBody(t *testing.T) {
	refusal := "550 5.7.1 rejected early\r\n"
	want := &session.ReplyError{Code: 550, Enhanced: protocol.EnhancedCode{Class: 5, Subject: 7, Detail: 1}, Text: "rejected early"}
	tests := []struct {
		name    string
		cfg     smtptest.Config
		verb    string // the command whose hook refuses
		raw     string
		command string // ReplyError.Command expected
		useData bool   // Mail/Rcpt/Data instead of SendMail
		// hungUp: whether the error matches ErrServerDisconnected too
		// ("yes": a write always fails first). Without pipelining the
		// client reads the BDAT refusal before writing the next chunk: a
		// plain *DataError, then RSET meets the closed connection. With
		// pipelined chunks the client may read the refusal while waiting
		// for its window of chunk replies, before any write fails.
		hungUp string
	}{
		{"DATA SendMail", smtptest.Config{DisableChunking: true}, "DATA", "354 go\r\n" + refusal, "end of data", false, "yes"},
		{"DATA lock-step", smtptest.Config{DisableChunking: true, DisablePipelining: true}, "DATA", "354 go\r\n" + refusal, "end of data", false, "yes"},
		{"Data", smtptest.Config{DisableChunking: true}, "DATA", "354 go\r\n" + refusal, "end of data", true, "yes"},
		{"BDAT pipelined", smtptest.Config{}, "BDAT", refusal, "BDAT", false, "either"},
		{"BDAT lock-step", smtptest.Config{DisablePipelining: true}, "BDAT", refusal, "BDAT", false, "no"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachTransport(t, func(t *testing.T, tr transportKind) {
				cfg := tt.cfg
				cfg.Hook = func(ev smtptest.HookEvent) smtptest.Action {
					if ev.Kind == smtptest.HookCommand && ev.Verb == tt.verb {
						return smtptest.Action{Raw: tt.raw, Disconnect: true}
					}
					return smtptest.Action{}
				}
				s := newServer(t, cfg)
				o := opts()
				o.ChunkSize = 1 << 20 // four chunks may await replies: 4 MiB in flight
				if tt.hungUp == "no" {
					o.ChunkSize = 64 << 10
				}
				c := connect(t, tr, s, o)
				ctx := ctxTimeout(t)
				var err error
				if tt.useData {
					if _, err := c.Mail(ctx, "a@x.test"); err != nil {
						t.Fatalf("Mail: %v", err)
					}
					if _, err := c.Rcpt(ctx, "b@y.test"); err != nil {
						t.Fatalf("Rcpt: %v", err)
					}
					_, err = c.Data(ctx, &patternReader{n: earlyBodySize})
				} else {
					var res *session.SendResult
					res, err = c.SendMail(ctx, "a@x.test", []string{"b@y.test"}, &patternReader{n: earlyBodySize}, nil)
					if res != nil && len(res.Recipients) == 1 && res.Recipients[0].Err == nil {
						t.Errorf("recipient reported delivered: %+v", res.Recipients[0])
					}
				}
				if err == nil {
					t.Fatal("the refused message was reported as sent")
				}
				if errors.Is(err, session.ErrDeliveryUnknown) {
					t.Fatalf("err = %v; the end of the body never left, delivery is known to have failed", err)
				}
				// A server that hung up is seen as such, or, when its refusal
				// came in the same read as an earlier reply, as a reply no
				// written command asked for (the core matches on arrival).
				gone := errors.Is(err, session.ErrServerDisconnected) || errors.Is(err, protocol.ErrUnsolicited)
				if got := gone; tt.hungUp != "either" && got != (tt.hungUp == "yes") {
					t.Errorf("err = %v; matches ErrServerDisconnected: %v, want %v", err, got, tt.hungUp)
				}
				var de *session.DataError
				if !errors.As(err, &de) {
					t.Fatalf("err = %v (%T), want a *DataError with the server's 550", err, err)
				}
				w := *want
				w.Command, w.Verb = tt.command, protocol.VerbBdat
				if tt.command == "end of data" {
					w.Verb = protocol.VerbEndData
				}
				if diff := cmp.Diff(&w, de.Reply); diff != "" {
					t.Errorf("DataError.Reply (-want +got):\n%s", diff)
				}
				if _, err := c.Noop(ctx); !errors.Is(err, session.ErrClosed) {
					t.Errorf("Noop after the hang-up = %v, want ErrClosed", err)
				}
			})
		})
	}
}

// TestChunkRefusedLockStep: without pipelining a refused BDAT chunk is
// read before the next chunk is sent; the transaction fails with that
// refusal (not with the core's refusal of the next BDAT), RSET follows and
// the connection stays usable.
func TestChunkRefusedLockStep(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr transportKind) {
		var refused atomic.Bool
		s := newServer(t, smtptest.Config{DisablePipelining: true, Hook: func(ev smtptest.HookEvent) smtptest.Action {
			if ev.Kind == smtptest.HookCommand && ev.Verb == "BDAT" && !refused.Swap(true) {
				return smtptest.Action{Raw: "552 5.3.4 chunk refused\r\n"}
			}
			return smtptest.Action{}
		}})
		o := opts()
		o.ChunkSize = 1 << 10
		c := connect(t, tr, s, o)
		ctx := ctxTimeout(t)
		_, err := c.SendMail(ctx, "a@x.test", []string{"b@y.test"}, &patternReader{n: 8 << 10}, nil)
		var de *session.DataError
		if !errors.As(err, &de) || de.Reply.Code != 552 || de.Err != nil {
			t.Fatalf("SendMail = %v, want a 552 *DataError without a connection failure", err)
		}
		if errors.Is(err, session.ErrServerDisconnected) {
			t.Errorf("SendMail = %v matches ErrServerDisconnected", err)
		}
		if _, err := c.SendMail(ctx, "a@x.test", []string{"b@y.test"}, &patternReader{n: 8 << 10}, nil); err != nil {
			t.Fatalf("second SendMail: %v", err)
		}
		if got := len(s.Messages()); got != 1 {
			t.Errorf("%d messages stored, want 1", got)
		}
	})
}

// TestEarlyHangUpDuringBody: the other things a server can do after its
// 354 while the body is being written: an unasked 421 before closing is
// the reason too (a *DataError carrying it); closing without a word leaves
// only ErrServerDisconnected.
func TestEarlyHangUpDuringBody(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want *session.ReplyError // nil: no *DataError
	}{
		{"421", "354 go\r\n421 4.3.2 shutting down\r\n", &session.ReplyError{Command: "end of data", Verb: protocol.VerbEndData, Code: 421,
			Enhanced: protocol.EnhancedCode{Class: 4, Subject: 3, Detail: 2}, Text: "shutting down"}},
		{"silent", "354 go\r\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachTransport(t, func(t *testing.T, tr transportKind) {
				s := newServer(t, smtptest.Config{DisableChunking: true, Hook: func(ev smtptest.HookEvent) smtptest.Action {
					if ev.Kind == smtptest.HookCommand && ev.Verb == "DATA" {
						return smtptest.Action{Raw: tt.raw, Disconnect: true}
					}
					return smtptest.Action{}
				}})
				c := connect(t, tr, s, nil)
				ctx := ctxTimeout(t)
				_, err := c.SendMail(ctx, "a@x.test", []string{"b@y.test"}, &patternReader{n: earlyBodySize}, nil)
				if !errors.Is(err, session.ErrServerDisconnected) || errors.Is(err, session.ErrDeliveryUnknown) {
					t.Fatalf("SendMail = %v, want ErrServerDisconnected (and a known failure)", err)
				}
				var de *session.DataError
				if !errors.As(err, &de) {
					de = nil
				}
				var got *session.ReplyError
				if de != nil {
					got = de.Reply
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("DataError.Reply (-want +got):\n%s", diff)
				}
			})
		})
	}
}
