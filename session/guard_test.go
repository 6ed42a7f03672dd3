package session_test

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"

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
