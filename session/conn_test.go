package session_test

import (
	"context"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pion/transport/v3/test"

	"github.com/postwire/postwire/protocol"
	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/session/smtptest"
)

func TestServerDisconnects(t *testing.T) {
	tests := []struct {
		name     string
		kind     smtptest.HookKind
		verb     string
		chunking bool
		unknown  bool // after the whole message: delivery unknown
	}{
		{"EHLO", smtptest.HookCommand, "EHLO", false, false},
		{"MAIL", smtptest.HookCommand, "MAIL", false, false},
		{"RCPT", smtptest.HookCommand, "RCPT", false, false},
		{"DATA", smtptest.HookCommand, "DATA", false, false},
		{"after the final dot", smtptest.HookDataEnd, "", false, true},
		{"BDAT LAST", smtptest.HookDataEnd, "", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachTransport(t, func(t *testing.T, tr transportKind) {
				s := newServer(t, smtptest.Config{DisableChunking: !tt.chunking, Hook: func(ev smtptest.HookEvent) smtptest.Action {
					if ev.Kind == tt.kind && ev.Verb == tt.verb {
						return smtptest.Action{Disconnect: true}
					}
					return smtptest.Action{}
				}})
				c := connect(t, tr, s, nil)
				ctx := ctxTimeout(t)
				res, err := c.SendMail(ctx, "a@x.test", []string{"b@y.test", "c@y.test"}, strings.NewReader("hello\r\n"), nil)
				if !errors.Is(err, session.ErrServerDisconnected) {
					t.Fatalf("SendMail error = %v, want ErrServerDisconnected", err)
				}
				if got := errors.Is(err, session.ErrDeliveryUnknown); got != tt.unknown {
					t.Fatalf("errors.Is(%v, ErrDeliveryUnknown) = %v, want %v", err, got, tt.unknown)
				}
				if res != nil {
					for _, r := range res.Recipients {
						if r.Err == nil {
							t.Errorf("recipient %s reported delivered", r.Recipient)
						}
						if got := errors.Is(r.Err, session.ErrDeliveryUnknown); got != tt.unknown {
							t.Errorf("recipient %s: %v, unknown = %v, want %v", r.Recipient, r.Err, got, tt.unknown)
						}
					}
				}
				if tt.unknown {
					var ue *session.UnknownDeliveryError
					if !errors.As(err, &ue) || len(ue.Recipients) != 2 {
						t.Errorf("error %v: want *UnknownDeliveryError naming both recipients", err)
					}
				}
				if _, err := c.Noop(ctx); !errors.Is(err, session.ErrClosed) {
					t.Errorf("Noop after the disconnect = %v, want ErrClosed", err)
				}
			})
		})
	}
}

func TestReply421MidSession(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr transportKind) {
		s := newServer(t, smtptest.Config{Hook: func(ev smtptest.HookEvent) smtptest.Action {
			if ev.Verb == "RCPT" {
				return smtptest.Action{Raw: "421 4.3.2 shutting down\r\n", Disconnect: true}
			}
			return smtptest.Action{}
		}})
		c := connect(t, tr, s, nil)
		ctx := ctxTimeout(t)
		if _, err := c.Mail(ctx, "a@x.test"); err != nil {
			t.Fatalf("Mail: %v", err)
		}
		_, err := c.Rcpt(ctx, "b@y.test")
		var re *session.ReplyError
		if !errors.As(err, &re) || re.Code != 421 || !errors.Is(err, session.ErrServerDisconnected) {
			t.Fatalf("Rcpt error = %v, want a 421 *ReplyError matching ErrServerDisconnected", err)
		}
		if _, err := c.Noop(ctx); !errors.Is(err, session.ErrClosed) {
			t.Errorf("Noop after 421 = %v, want ErrClosed", err)
		}
	})
}

func TestContextCancel(t *testing.T) {
	sendMail := func(ctx context.Context, c *session.Client) error {
		_, err := c.SendMail(ctx, "a@x.test", []string{"b@y.test"}, strings.NewReader("hello\r\n"), nil)
		return err
	}
	tests := []struct {
		name    string
		hook    func(cancel context.CancelFunc) func(smtptest.HookEvent) smtptest.Action
		body    func(cancel context.CancelFunc) io.Reader // nil: a short body
		greet   bool                                      // cancelled during NewClient
		unknown bool
	}{
		{name: "greeting", greet: true, hook: func(cancel context.CancelFunc) func(smtptest.HookEvent) smtptest.Action {
			return func(ev smtptest.HookEvent) smtptest.Action {
				if ev.Kind == smtptest.HookGreeting {
					cancel()
					return smtptest.Action{Delay: time.Minute}
				}
				return smtptest.Action{}
			}
		}},
		{name: "slow MAIL reply", hook: func(cancel context.CancelFunc) func(smtptest.HookEvent) smtptest.Action {
			return func(ev smtptest.HookEvent) smtptest.Action {
				if ev.Verb == "MAIL" {
					cancel()
					return smtptest.Action{Delay: time.Minute}
				}
				return smtptest.Action{}
			}
		}},
		{name: "during the DATA body", body: func(cancel context.CancelFunc) io.Reader {
			return io.MultiReader(strings.NewReader(strings.Repeat("x", 100<<10)), cancelReader{cancel}, strings.NewReader("tail\r\n"))
		}},
		{name: "waiting for the final reply", unknown: true, hook: func(cancel context.CancelFunc) func(smtptest.HookEvent) smtptest.Action {
			return func(ev smtptest.HookEvent) smtptest.Action {
				if ev.Kind == smtptest.HookDataEnd {
					cancel()
					return smtptest.Action{Delay: time.Minute}
				}
				return smtptest.Action{}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachTransport(t, func(t *testing.T, tr transportKind) {
				defer test.CheckRoutines(t)()
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				cfg := smtptest.Config{DisableChunking: true}
				if tt.hook != nil {
					cfg.Hook = tt.hook(cancel)
				}
				s := smtptest.NewServer(cfg)
				defer s.Close()
				conn := tr.connect(t, s)
				if tt.greet {
					c, err := session.NewClient(ctx, conn, serverName, opts())
					if !errors.Is(err, context.Canceled) || c != nil {
						t.Fatalf("NewClient = %v, %v; want context.Canceled", c, err)
					}
					return
				}
				c, err := session.NewClient(context.Background(), conn, serverName, opts())
				if err != nil {
					t.Fatalf("NewClient: %v", err)
				}
				defer c.Close()
				body := io.Reader(strings.NewReader("hello\r\n"))
				if tt.body != nil {
					body = tt.body(cancel)
				}
				_, err = c.SendMail(ctx, "a@x.test", []string{"b@y.test"}, body, nil)
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("SendMail error = %v, want context.Canceled", err)
				}
				if got := errors.Is(err, session.ErrDeliveryUnknown); got != tt.unknown {
					t.Errorf("errors.Is(%v, ErrDeliveryUnknown) = %v, want %v", err, got, tt.unknown)
				}
				if err := sendMail(context.Background(), c); !errors.Is(err, session.ErrClosed) {
					t.Errorf("SendMail after cancellation = %v, want ErrClosed", err)
				}
			})
		})
	}
}

// cancelReader cancels a context when read, then reports EOF.
type cancelReader struct{ cancel context.CancelFunc }

func (r cancelReader) Read([]byte) (int, error) {
	r.cancel()
	return 0, io.EOF
}

func TestContextDeadlineAndTimeouts(t *testing.T) {
	slowMail := func(ev smtptest.HookEvent) smtptest.Action {
		if ev.Verb == "MAIL" {
			return smtptest.Action{Delay: time.Minute}
		}
		return smtptest.Action{}
	}
	t.Run("context deadline", func(t *testing.T) {
		defer test.CheckRoutines(t)()
		s := smtptest.NewServer(smtptest.Config{Hook: slowMail})
		defer s.Close()
		c, err := session.NewClient(context.Background(), s.Pipe(), serverName, opts())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if _, err := c.Mail(ctx, "a@x.test"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Mail error = %v, want context.DeadlineExceeded", err)
		}
	})
	t.Run("per-command time-out", func(t *testing.T) {
		defer test.CheckRoutines(t)()
		s := smtptest.NewServer(smtptest.Config{Hook: slowMail})
		defer s.Close()
		o := opts()
		o.Timeouts.Mail = 20 * time.Millisecond
		c, err := session.NewClient(context.Background(), s.Pipe(), serverName, o)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, err = c.Mail(context.Background(), "a@x.test")
		if !errors.Is(err, session.ErrTimeout) {
			t.Fatalf("Mail error = %v, want ErrTimeout", err)
		}
	})
	t.Run("Close from another goroutine", func(t *testing.T) {
		defer test.CheckRoutines(t)()
		s := smtptest.NewServer(smtptest.Config{Hook: slowMail})
		defer s.Close()
		c, err := session.NewClient(context.Background(), s.Pipe(), serverName, opts())
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error)
		go func() {
			_, err := c.Mail(context.Background(), "a@x.test")
			done <- err
		}()
		// Close until the call returns: the first Close may come before Mail starts.
		c.Close()
		if err := <-done; !errors.Is(err, session.ErrClosed) {
			t.Fatalf("Mail error = %v, want ErrClosed", err)
		}
	})
}

func TestHostileServer(t *testing.T) {
	tests := []struct {
		name   string
		action smtptest.Action
		o      session.Options
		want   error
	}{
		{"endless multiline reply", smtptest.Action{RawReader: &endless{line: "250-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n"}}, session.Options{}, protocol.ErrReplyTooLong},
		{"endless multiline reply, small cap", smtptest.Action{RawReader: &endless{line: "250-x\r\n"}}, session.Options{MaxReplyLines: 10}, protocol.ErrReplyTooLong},
		{"giant line", smtptest.Action{RawReader: &endless{line: "x"}, Raw: "250 "}, session.Options{}, protocol.ErrLineTooLong},
		{"giant line, small cap", smtptest.Action{Raw: "250 " + strings.Repeat("y", 300) + "\r\n"}, session.Options{MaxLineLength: 128}, protocol.ErrLineTooLong},
		{"malformed", smtptest.Action{Raw: "25O oops\r\n"}, session.Options{}, protocol.ErrMalformedReply},
		{"code mismatch", smtptest.Action{Raw: "250-a\r\n550 b\r\n"}, session.Options{}, protocol.ErrCodeMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, smtptest.Config{Hook: func(ev smtptest.HookEvent) smtptest.Action {
				if ev.Verb == "EHLO" {
					return tt.action
				}
				return smtptest.Action{}
			}})
			o := tt.o
			o.LocalName = "client.test"
			c := connect(t, transports[0], s, &o)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := c.Ehlo(ctxTimeout(t), "")
			runtime.ReadMemStats(&after)
			var pe *protocol.PeerError
			if !errors.As(err, &pe) || !errors.Is(err, tt.want) {
				t.Fatalf("Ehlo error = %v (%T), want *protocol.PeerError wrapping %v", err, err, tt.want)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
				t.Errorf("allocated %d bytes reading a hostile reply", grew)
			}
		})
	}
}

// endless repeats line forever.
type endless struct {
	line string
	off  int
}

func (e *endless) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := copy(p[n:], e.line[e.off:])
		n += k
		e.off = (e.off + k) % len(e.line)
	}
	return n, nil
}
