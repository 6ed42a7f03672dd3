package session_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/session/smtptest"
)

// mailLimit is a server hook that does what Exim does after
// smtp_accept_max_per_connection messages: it answers the next MAIL with
// 421 and closes the connection, reading nothing more.
type mailLimit struct {
	max   int
	mu    sync.Mutex
	mails map[int]int // MAIL commands per connection
}

func (l *mailLimit) hook(ev smtptest.HookEvent) smtptest.Action {
	if ev.Kind != smtptest.HookCommand || ev.Verb != "MAIL" {
		return smtptest.Action{}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mails[ev.Conn.ID]++
	if l.mails[ev.Conn.ID] > l.max {
		return smtptest.Action{Raw: "421 4.7.0 too many messages in this connection\r\n", Disconnect: true}
	}
	return smtptest.Action{}
}

func newLimitServer(t *testing.T, max int, chunking bool) (*smtptest.Server, string) {
	t.Helper()
	l := &mailLimit{max: max, mails: map[int]int{}}
	srv := smtptest.NewServer(smtptest.Config{Hostname: serverName, DisableChunking: !chunking, Hook: l.hook})
	addr, err := srv.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv, addr.String()
}

// The messages pipelined behind a 421 to MAIL were never processed: they
// get no result and an error matching ErrClosed (as the messages not yet
// started do), not ErrDeliveryUnknown, although their end of data was
// written.
func TestBatchBehind421(t *testing.T) {
	for _, chunking := range []bool{true, false} {
		t.Run(fmt.Sprintf("chunking=%v", chunking), func(t *testing.T) {
			srv, addr := newLimitServer(t, 2, chunking)
			ctx := ctxTimeout(t)
			c, err := session.Dial(ctx, addr, opts())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var envs []session.Envelope
			for i := range 6 {
				envs = append(envs, session.Envelope{From: fmt.Sprintf("m%d@x.test", i), To: []string{"b@y.test"},
					Body: strings.NewReader(fmt.Sprintf("Subject: %d\r\n\r\nbody %d\r\n", i, i))})
			}
			var got []string
			for _, r := range c.SendBatch(ctx, envs) {
				var sr *session.SenderRefusedError
				switch {
				case r.Err == nil:
					got = append(got, "sent")
				case errors.As(r.Err, &sr):
					got = append(got, fmt.Sprintf("sender %d", sr.Reply.Code))
				case r.Result == nil && errors.Is(r.Err, session.ErrClosed) && !errors.Is(r.Err, session.ErrDeliveryUnknown):
					got = append(got, "not sent")
				default:
					got = append(got, fmt.Sprintf("result %v, error %v", r.Result != nil, r.Err))
				}
			}
			want := []string{"sent", "sent", "sender 421", "not sent", "not sent", "not sent"}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("results (-want +got):\n%s", d)
			}
			if n := len(srv.Messages()); n != 2 {
				t.Errorf("server stored %d messages, want 2", n)
			}
		})
	}
}

// A pool of one connection against a server that closes every connection
// with 421 after 10 messages: every message is sent, each stored once,
// none unknown; the pool re-dials and re-sends what the 421s reached.
func TestPoolServerMessageLimit(t *testing.T) {
	const goroutines, each, limit = 16, 10, 10
	for _, chunking := range []bool{true, false} {
		t.Run(fmt.Sprintf("chunking=%v", chunking), func(t *testing.T) {
			srv, addr := newLimitServer(t, limit, chunking)
			p, err := session.NewPool(session.PoolOptions{MaxConns: 1,
				Dial: func(ctx context.Context) (*session.Client, error) { return session.Dial(ctx, addr, opts()) }})
			if err != nil {
				t.Fatal(err)
			}
			ctx := ctxTimeout(t)
			var wg sync.WaitGroup
			errs := make(chan error, goroutines*each)
			for g := range goroutines {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range each {
						from := fmt.Sprintf("g%d-%d@x.test", g, i)
						_, err := p.Send(ctx, session.Envelope{From: from, To: []string{"b@y.test"},
							Body: strings.NewReader("Subject: limit\r\n\r\n" + from + "\r\n")})
						if err != nil {
							errs <- fmt.Errorf("%s: %w", from, err)
						}
					}
				}()
			}
			wg.Wait()
			if err := p.Close(ctx); err != nil {
				t.Errorf("Close: %v", err)
			}
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			stored := map[string]int{}
			for _, m := range srv.Messages() {
				stored[m.From]++
			}
			for from, n := range stored {
				if n != 1 {
					t.Errorf("message from %s stored %d times", from, n)
				}
			}
			if len(stored) != goroutines*each {
				t.Errorf("%d messages stored, want %d", len(stored), goroutines*each)
			}
			st := p.Stats()
			if st.Sent != goroutines*each || st.Unknown+st.Failed+st.Refused != 0 ||
				st.Retried < 1 || st.Dials < goroutines*each/limit {
				t.Errorf("Stats %+v: want all %d sent, at least one re-send and %d dials", st, goroutines*each, goroutines*each/limit)
			}
		})
	}
}
