//go:build interop

package interop

// Postfix and Exim through session.Pool: many goroutines, a few connections, each message
// stored exactly once.

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/postwire/postwire/session"
)

// poolDial returns a PoolOptions.Dial that connects as the other MTA tests do: Dial,
// STARTTLS (verified against the test CA), Login. Every second connection sends by DATA
// (DisableChunking), the others by BDAT.
func poolDial(t *testing.T, addr string, dials *atomic.Int64) func(context.Context) (*session.Client, error) {
	user, pass := mustEnv(t, "POSTWIRE_INTEROP_USER"), mustEnv(t, "POSTWIRE_INTEROP_PASSWORD")
	tlsConf := tlsConfig(t)
	return func(ctx context.Context) (*session.Client, error) {
		n := dials.Add(1)
		c, err := session.Dial(ctx, addr, &session.Options{LocalName: "client.postwire.test",
			TLSConfig: tlsConf, DisableChunking: n%2 == 0})
		if err != nil {
			return nil, err
		}
		if _, err := c.StartTLS(ctx, nil); err != nil {
			c.Close()
			return nil, fmt.Errorf("StartTLS: %w", err)
		}
		if _, err := c.Login(ctx, user, pass); err != nil {
			c.Close()
			return nil, fmt.Errorf("Login: %w", err)
		}
		return c, nil
	}
}

// poolLog records the pool's own log records (dials, re-sends, closed connections).
type poolLog struct {
	mu      sync.Mutex
	records []string
}

func (l *poolLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *poolLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *poolLog) WithGroup(string) slog.Handler            { return l }
func (l *poolLog) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	l.records = append(l.records, b.String())
	l.mu.Unlock()
	return nil
}

// resends returns the records of messages the pool sent again.
func (l *poolLog) resends() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.records {
		if strings.HasPrefix(r, "pool: re-sending message") {
			out = append(out, r)
		}
	}
	return out
}

// TestMTAPool sends through a session.Pool from 64 goroutines, every message from its own
// sender: 2,000 messages over 8 connections (STARTTLS and AUTH on each, half by BDAT and
// half by DATA), through Postfix and through Exim; and through Exim 1,100 messages over one
// connection, which Exim closes with a 421 to the 1,001st MAIL (smtp_accept_max_per_connection),
// so the pool must dial again and re-send what the 421 refused. Every message must get a nil
// error and be stored exactly once, byte for byte.
func TestMTAPool(t *testing.T) {
	const goroutines = 64
	cases := []struct {
		name       string
		conns, n   int
		only       string // the one server to run against, or ""
		exim1000th bool   // the case crosses Exim's 1,000 messages per connection
	}{
		{name: "8 connections", conns: 8, n: 2000},
		{name: "1 connection", conns: 1, n: 1100, only: "Exim", exim1000th: true},
	}
	for _, s := range mtas(t) {
		for _, tc := range cases {
			if tc.only != "" && tc.only != s.name {
				continue
			}
			t.Run(s.name+"/"+tc.name, func(t *testing.T) {
				ctx := testContext(t)
				var dials atomic.Int64
				log := &poolLog{}
				p, err := session.NewPool(session.PoolOptions{Dial: poolDial(t, s.addr, &dials),
					MaxConns: tc.conns, Logger: slog.New(log)})
				if err != nil {
					t.Fatal(err)
				}
				envs, want := batchEnvelopes(s.name+"-pool", tc.n, "pool@example.org")
				results := make([]session.BatchResult, len(envs))
				start := time.Now()
				var wg sync.WaitGroup
				for g := range goroutines {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := g; i < len(envs); i += goroutines {
							res, err := p.Send(ctx, envs[i])
							results[i] = session.BatchResult{Result: res, Err: err}
						}
					}()
				}
				wg.Wait()
				if err := p.Close(ctx); err != nil {
					t.Errorf("Close: %v", err)
				}
				elapsed := time.Since(start)
				st := p.Stats()
				intact := s.checkBatch(t, envs, results, want, s.proto(true, true, false))
				t.Logf("%s, pool of %d: %d messages sent from %d goroutines in %v (%.0f/s), %d stored byte-identical; stats %+v",
					s.name, tc.conns, len(envs), goroutines, elapsed.Round(time.Millisecond),
					float64(len(envs))/elapsed.Seconds(), intact, st)
				if st.Sent != uint64(tc.n) || st.Refused+st.Unknown+st.Failed != 0 || st.Open != 0 || st.Queued != 0 {
					t.Errorf("Stats after Close: %+v, want Sent %d and nothing refused, unknown, failed, open or queued", st, tc.n)
				}
				if st.Dials != uint64(dials.Load()) || st.DialErrors != 0 {
					t.Errorf("Stats: %d dials, %d failed; Dial was called %d times", st.Dials, st.DialErrors, dials.Load())
				}
				if !tc.exim1000th {
					return
				}
				// 1,100 messages over one connection at a time: Exim's 421 to the
				// 1,001st MAIL ends the first, and that message (with any pipelined
				// behind it) goes again on a second connection.
				if st.Retried < 1 || st.Dials < 2 {
					t.Errorf("Stats: %d re-sends over %d dials, want at least 1 re-send and 2 dials", st.Retried, st.Dials)
				}
				resends := log.resends()
				saw421 := false
				for _, r := range resends {
					saw421 = saw421 || strings.Contains(r, "421")
				}
				if !saw421 {
					t.Errorf("no re-send after a 421 in the pool's log: %q", resends)
				}
			})
		}
	}
}
