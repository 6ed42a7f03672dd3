package session_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/postwire/postwire/protocol"
	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/session/smtptest"
)

// chaos is a smtptest behaviour that, at random, refuses, delays, answers
// 421 and hangs up, at every stage of a transaction.
type chaos struct {
	mu  sync.Mutex
	rnd *rand.Rand
}

func (c *chaos) roll() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rnd.Float64()
}

func (c *chaos) hook(ev smtptest.HookEvent) smtptest.Action {
	x := c.roll()
	switch {
	case ev.Kind == smtptest.HookCommand && ev.Verb == "MAIL":
		switch {
		case x < 0.04:
			return smtptest.Action{Raw: "421 4.7.0 too many messages\r\n", Disconnect: true}
		case x < 0.06:
			return smtptest.Action{Raw: "451 4.3.0 try later\r\n"}
		}
	case ev.Kind == smtptest.HookCommand && ev.Verb == "RCPT":
		switch {
		case x < 0.02:
			return smtptest.Action{Disconnect: true}
		case x < 0.03:
			return smtptest.Action{Raw: "421 4.3.2 shutting down\r\n", Disconnect: true}
		}
	case ev.Kind == smtptest.HookCommand && (ev.Verb == "DATA" || ev.Verb == "BDAT"):
		if x < 0.02 {
			return smtptest.Action{Disconnect: true}
		}
	case ev.Kind == smtptest.HookDataEnd:
		switch {
		case x < 0.03: // stored, then the reply is cut short
			return smtptest.Action{Raw: "2", Execute: true, Disconnect: true}
		case x < 0.05: // not stored, no reply
			return smtptest.Action{Disconnect: true}
		}
	}
	if x > 0.97 {
		return smtptest.Action{Delay: time.Duration(x*1000) * time.Microsecond}
	}
	return smtptest.Action{}
}

func (c *chaos) data(*smtptest.Message) smtptest.Reply {
	if c.roll() < 0.03 {
		return smtptest.Reply{Code: 554, Enhanced: protocol.EnhancedCode{Class: 5, Subject: 7, Detail: 1}, Text: "spam"}
	}
	return smtptest.Reply{}
}

func rcptFunc(addr string) smtptest.Reply {
	if strings.HasPrefix(addr, "refuse") {
		return smtptest.Reply{Code: 550, Enhanced: protocol.EnhancedCode{Class: 5, Subject: 1, Detail: 1}, Text: "no such user"}
	}
	return smtptest.Reply{}
}

var seqHeader = regexp.MustCompile(`(?m)^X-Seq: (\d+)\r$`)

// TestPoolChaos: 64 goroutines send through a pool of 8 connections to a
// server that misbehaves at random. Every message gets exactly one result;
// the server stores each message at most once; a message is stored when
// its result says delivered and is not when its result says it was not
// (an unknown result may go either way); and no goroutine is left once the
// pool and the server are closed.
func TestPoolChaos(t *testing.T) {
	for _, chunking := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunking=%v", chunking), func(t *testing.T) { testPoolChaos(t, chunking) })
	}
}

func testPoolChaos(t *testing.T, chunking bool) {
	const (
		senders   = 64
		perSender = 12
		total     = senders * perSender
	)
	before := runtime.NumGoroutine()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	ch := &chaos{rnd: rand.New(rand.NewPCG(seed, 1))}
	srv := smtptest.NewServer(smtptest.Config{
		Hostname:        serverName,
		DisableChunking: !chunking,
		Hook:            ch.hook,
		RcptFunc:        rcptFunc,
		DataFunc:        ch.data,
	})
	addr, err := srv.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p, err := session.NewPool(session.PoolOptions{
		Dial: func(ctx context.Context) (*session.Client, error) {
			return session.Dial(ctx, addr.String(), opts())
		},
		MaxConns:           8,
		MaxMessagesPerConn: 25,
		MaxBatch:           6,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxTimeout(t)

	results := make([]session.BatchResult, total)
	envelope := func(seq int) session.Envelope {
		to := []string{fmt.Sprintf("u%d@y.test", seq), "other@y.test"}
		switch seq % 10 {
		case 3:
			to[1] = "refuse1@y.test" // one refused: still delivered
		case 7:
			to = []string{"refuse1@y.test", "refuse2@y.test"}
		}
		body := fmt.Sprintf("X-Seq: %d\r\nSubject: chaos\r\n\r\nmessage %d\r\n", seq, seq)
		return session.Envelope{From: "a@x.test", To: to, Body: strings.NewReader(body)}
	}
	var wg sync.WaitGroup
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			base := g * perSender
			if g%2 == 0 { // one at a time
				for i := range perSender {
					res, err := p.Send(ctx, envelope(base+i))
					results[base+i] = session.BatchResult{Result: res, Err: err}
				}
				return
			}
			for i := 0; i < perSender; i += 4 { // in batches of 4
				envs := make([]session.Envelope, 4)
				for j := range envs {
					envs[j] = envelope(base + i + j)
				}
				copy(results[base+i:], p.SendBatch(ctx, envs))
			}
		}()
	}
	wg.Wait()
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}

	stored := make(map[int]int)
	for _, m := range srv.Messages() {
		sub := seqHeader.FindSubmatch(m.Data)
		if sub == nil {
			t.Fatalf("stored message without X-Seq: %q", m.Data)
		}
		var seq int
		fmt.Sscan(string(sub[1]), &seq)
		stored[seq]++
	}
	var delivered, unknown, refusedRcpt uint64
	for seq, r := range results {
		n := stored[seq]
		switch {
		case n > 1:
			t.Errorf("message %d stored %d times", seq, n)
		case r.Err == nil:
			delivered++
			if n != 1 {
				t.Errorf("message %d: delivered according to its result, stored %d times", seq, n)
			}
			if seq%10 == 3 && r.Result.Refusal("refuse1@y.test") == nil {
				t.Errorf("message %d: the refused recipient is missing from the result: %+v", seq, r.Result)
			} else if seq%10 == 3 {
				refusedRcpt++
			}
		case errors.Is(r.Err, session.ErrDeliveryUnknown):
			unknown++
		case n != 0:
			t.Errorf("message %d: stored although its result says %v", seq, r.Err)
		}
		if seq%10 == 7 && r.Err == nil {
			t.Errorf("message %d: delivered with every recipient refused", seq)
		}
	}
	st := p.Stats()
	t.Logf("stats %+v; %d messages stored", st, len(srv.Messages()))
	if got := st.Sent + st.Refused + st.Unknown + st.Failed; got != total {
		t.Errorf("stats count %d results, want %d", got, total)
	}
	if st.Sent != delivered || st.Unknown != unknown {
		t.Errorf("stats say %d sent and %d unknown; results %d and %d", st.Sent, st.Unknown, delivered, unknown)
	}
	if st.Open != 0 {
		t.Errorf("%d connections open after Close", st.Open)
	}
	// The chaos must have happened for the test to mean anything.
	if st.Retried == 0 || st.Unknown == 0 || st.Refused == 0 || st.Failed == 0 || refusedRcpt == 0 {
		t.Errorf("the server's misbehaviour did not show in the stats: %+v", st)
	}
	srv.Close()
	waitGoroutines(t, before)
}

// waitGoroutines fails the test if more than n goroutines remain once the
// ones ending (the runtime's, the server's conversations) have had a
// moment; it gives up after a few seconds.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPoolDialers: whatever the dial function sets up (STARTTLS and AUTH,
// LMTP over a Unix socket) is what every pooled connection sends over,
// and LMTP's per-recipient results come through as they are.
func TestPoolDialers(t *testing.T) {
	srvTLS, cliTLS := tlsConfigs(t)
	tests := []struct {
		name  string
		setup func(t *testing.T) (*smtptest.Server, func(context.Context) (*session.Client, error))
		want  smtptest.Message // the fields checked of each stored message
		rcpt  []recipientView  // each message's result
	}{{
		name: "STARTTLS and AUTH",
		setup: func(t *testing.T) (*smtptest.Server, func(context.Context) (*session.Client, error)) {
			s := newServer(t, smtptest.Config{TLS: srvTLS, Users: map[string]string{user: password}, RequireTLS: true})
			addr, err := s.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			o := opts()
			o.TLSConfig = cliTLS
			o.TLSPolicy = session.TLSRequired
			return s, func(ctx context.Context) (*session.Client, error) {
				c, err := session.Dial(ctx, addr.String(), o)
				if err != nil {
					return nil, err
				}
				if _, err := c.Login(ctx, user, password); err != nil {
					c.Close()
					return nil, err
				}
				return c, nil
			}
		},
		want: smtptest.Message{TLS: true, AuthUser: user, To: []string{"b@y.test", "c@y.test"}},
		rcpt: []recipientView{{"b@y.test", 250, false, true}, {"c@y.test", 250, false, true}},
	}, {
		name: "LMTP",
		setup: func(t *testing.T) (*smtptest.Server, func(context.Context) (*session.Client, error)) {
			s, path := lmtpServer(t, smtptest.Config{LMTPFunc: func(rcpt string, _ *smtptest.Message) smtptest.Reply {
				if rcpt == "c@y.test" {
					return smtptest.Reply{Code: 452, Enhanced: protocol.EnhancedCode{Class: 4, Subject: 2, Detail: 2}, Text: "mailbox full"}
				}
				return smtptest.Reply{}
			}})
			return s, func(ctx context.Context) (*session.Client, error) { return session.DialLMTP(ctx, path, opts()) }
		},
		want: smtptest.Message{To: []string{"b@y.test", "c@y.test"}},
		rcpt: []recipientView{{"b@y.test", 250, false, true}, {"c@y.test", 452, true, false}},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, dial := tc.setup(t)
			p := newPool(t, session.PoolOptions{Dial: dial, MaxConns: 2})
			ctx := ctxTimeout(t)
			const n = 4
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					env := testEnvelope(i)
					env.To = []string{"b@y.test", "c@y.test"}
					res, err := p.Send(ctx, env)
					if err != nil {
						t.Errorf("message %d: %v", i, err)
						return
					}
					if diff := cmp.Diff(tc.rcpt, recipientsOf(res.Recipients)); diff != "" {
						t.Errorf("message %d: recipients (-want +got):\n%s", i, diff)
					}
				}()
			}
			wg.Wait()
			if err := p.Close(ctx); err != nil {
				t.Fatal(err)
			}
			msgs := srv.Messages()
			if len(msgs) != n {
				t.Fatalf("%d messages stored, want %d", len(msgs), n)
			}
			for _, m := range msgs {
				got := smtptest.Message{TLS: m.TLS, AuthUser: m.AuthUser, To: m.To}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("stored message (-want +got):\n%s", diff)
				}
			}
		})
	}
}
