package session_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/postwire/postwire/protocol"
	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/session/smtptest"
)

// panicHandler is a slog.Handler that panics while armed: the caller's
// code running inside a Client call.
type panicHandler struct{ armed *atomic.Bool }

func (h panicHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h panicHandler) Handle(context.Context, slog.Record) error {
	if h.armed.Load() {
		panic("handler panics")
	}
	return nil
}
func (h panicHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h panicHandler) WithGroup(string) slog.Handler      { return h }

// TestPanicInCallLeavesClientUsable: a panic inside a call (here from the
// caller's own log handler) that the caller recovers must not leave the
// Client marked busy: the next call is not ErrConcurrentUse.
func TestPanicInCallLeavesClientUsable(t *testing.T) {
	calls := []struct {
		name string
		call func(c *session.Client)
	}{
		{"Extensions", func(c *session.Client) { c.Extensions() }},
		{"HasExtension", func(c *session.Client) { c.HasExtension("PIPELINING") }},
		{"Noop", func(c *session.Client) { c.Noop(context.Background()) }},
		{"EhloOrHeloIfNeeded", func(c *session.Client) { c.EhloOrHeloIfNeeded(context.Background()) }},
	}
	for _, tt := range calls {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, smtptest.Config{})
			var armed atomic.Bool
			o := opts()
			o.Logger = slog.New(panicHandler{&armed})
			c := connect(t, transports[0], s, o)
			func() {
				defer func() {
					if recover() == nil {
						t.Fatal("the handler did not panic")
					}
				}()
				armed.Store(true)
				tt.call(c)
			}()
			armed.Store(false)
			if _, err := c.Noop(context.Background()); errors.Is(err, session.ErrConcurrentUse) {
				t.Fatalf("after a recovered panic in %s: %v", tt.name, err)
			}
		})
	}
}

// TestQueuedUnasked421Surfaces: an unasked 421 that arrived in the same
// read as a reply (or as the greeting) closes the core at once; the next
// call must report that 421 (ErrClosed wrapping its *ReplyError) and close
// the connection, not fail with the core's usage error ("NOOP in Closed")
// while the connection stays open.
func TestQueuedUnasked421Surfaces(t *testing.T) {
	tests := []struct {
		name   string
		script string
		eager  int
		call   func(context.Context, *session.Client) error
	}{
		{"after a NOOP reply", "220 mx\r\n250 mx\r\n250 ok\r\n421 4.3.2 shutting down\r\n", 2, func(ctx context.Context, c *session.Client) error {
			if _, err := c.Noop(ctx); err != nil {
				return errors.New("first NOOP: " + err.Error())
			}
			_, err := c.Noop(ctx)
			return err
		}},
		{"with the greeting, then Quit", "220 mx\r\n421 4.3.2 shutting down\r\n", 0, func(ctx context.Context, c *session.Client) error {
			_, err := c.Quit(ctx)
			return err
		}},
		{"with the greeting, then SendMail", "220 mx\r\n421 4.3.2 shutting down\r\n", 0, func(ctx context.Context, c *session.Client) error {
			_, err := c.SendMail(ctx, "a@x.test", []string{"b@y.test"}, strings.NewReader("x\r\n"), nil)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := newScriptConn(tt.script)
			conn.eagerFrom = tt.eager
			conn.eager = tt.eager == 0
			c, err := session.NewClient(ctxTimeout(t), conn, serverName, opts())
			if err != nil {
				t.Fatalf("NewClient: %v", err)
			}
			defer c.Close()
			err = tt.call(ctxTimeout(t), c)
			var re *session.ReplyError
			var ue *protocol.UsageError
			if !errors.Is(err, session.ErrClosed) || !errors.As(err, &re) || re.Code != 421 || errors.As(err, &ue) {
				t.Fatalf("err = %v, want ErrClosed wrapping the 421", err)
			}
			if c.Connected() {
				t.Error("still connected after the 421")
			}
		})
	}
}
