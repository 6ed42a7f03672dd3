package session_test

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/postwire/postwire/protocol"
	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/session/smtptest"
	"github.com/postwire/postwire/transport"
)

// TestPipeliningWrites counts the client's writes (flushes) and round
// trips: with PIPELINING the envelope goes out in one write.
func TestPipeliningWrites(t *testing.T) {
	tests := []struct {
		name       string
		cfg        smtptest.Config
		o          session.Options
		wantWrites int64 // EHLO, ..., QUIT
		wantRTT    int64
	}{
		// EHLO | MAIL RCPT RCPT DATA | body . | QUIT
		{"DATA, pipelined", smtptest.Config{DisableChunking: true}, session.Options{}, 4, 4},
		// EHLO | MAIL | RCPT | RCPT | DATA | body . | QUIT
		{"DATA, lock-step", smtptest.Config{DisableChunking: true, DisablePipelining: true}, session.Options{}, 7, 7},
		// EHLO | MAIL RCPT RCPT BDAT LAST | QUIT: the whole message in one flight
		{"BDAT, pipelined", smtptest.Config{}, session.Options{}, 3, 3},
		// EHLO | MAIL RCPT RCPT | BDAT LAST | QUIT: above OptimisticLimit the envelope replies come first
		{"BDAT, pipelined, envelope first", smtptest.Config{}, session.Options{OptimisticLimit: -1}, 4, 4},
		// EHLO | MAIL | RCPT | RCPT | BDAT LAST | QUIT
		{"BDAT, lock-step", smtptest.Config{DisablePipelining: true}, session.Options{}, 6, 6},
		// the client refuses to pipeline although the server offers it
		{"DATA, pipelining disabled", smtptest.Config{DisableChunking: true}, session.Options{DisablePipelining: true}, 7, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, tt.cfg)
			counted := &countingConn{Conn: s.Pipe()}
			lat := transport.NewLatencyConn(counted, 0)
			o := tt.o
			o.LocalName = "client.test"
			ctx := ctxTimeout(t)
			c, err := session.NewClient(ctx, lat, serverName, &o)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.SendMail(ctx, "a@x.test", []string{"b@y.test", "c@y.test"}, strings.NewReader("hello\r\n"), nil); err != nil {
				t.Fatalf("SendMail: %v", err)
			}
			if _, err := c.Quit(ctx); err != nil {
				t.Fatalf("Quit: %v", err)
			}
			if got := counted.writes.Load(); got != tt.wantWrites {
				t.Errorf("writes = %d, want %d", got, tt.wantWrites)
			}
			if got := lat.RoundTrips(); got != tt.wantRTT {
				t.Errorf("round trips = %d, want %d", got, tt.wantRTT)
			}
		})
	}
}

func TestSendBatch(t *testing.T) {
	refuse := func(addr string) smtptest.Reply {
		if strings.HasPrefix(addr, "bad@") {
			return smtptest.Reply{Code: 550, Enhanced: protocol.EnhancedCode{Class: 5, Subject: 1, Detail: 1}, Text: "no"}
		}
		return smtptest.Reply{Code: 250, Text: "ok"}
	}
	batch := func() []session.Envelope {
		return []session.Envelope{
			{From: "a@x.test", To: []string{"one@y.test"}, Body: strings.NewReader("first\r\n")},
			{From: "a@x.test", To: []string{"bad@y.test"}, Body: strings.NewReader("refused\r\n")},
			{From: "a@x.test", To: []string{"two@y.test", "bad@y.test"}, Body: strings.NewReader("second\r\n")},
			{From: "a@x.test", To: []string{"three@y.test"}, Body: strings.NewReader("third\r\n"), Options: &session.SendOptions{RequireTLS: true}},
			{From: "b@x.test", To: []string{"four@y.test"}, Body: strings.NewReader("fourth\r\n")},
		}
	}
	type resultView struct {
		Refused []refusedView
		Err     string // kind of error
	}
	kind := func(err error) string {
		var rr *session.RecipientsRefusedError
		var ns *session.NotSupportedError
		switch {
		case err == nil:
			return ""
		case errors.As(err, &rr):
			return "recipients refused"
		case errors.As(err, &ns):
			return "not supported: " + ns.Extension
		}
		return fmt.Sprintf("other: %v", err)
	}
	want := []resultView{
		{nil, ""},
		{[]refusedView{{"bad@y.test", 550}}, "recipients refused"},
		{[]refusedView{{"bad@y.test", 550}}, ""},
		{nil, "not supported: REQUIRETLS"},
		{nil, ""},
	}
	wantStored := []stored{
		{"a@x.test", nil, []string{"one@y.test"}, [][]string{nil}, "first\r\n", false},
		{"a@x.test", nil, []string{"two@y.test"}, [][]string{nil}, "second\r\n", false},
		{"b@x.test", nil, []string{"four@y.test"}, [][]string{nil}, "fourth\r\n", false},
	}
	tests := []struct {
		name       string
		cfg        smtptest.Config
		wantWrites int64
	}{
		// EHLO | env1 | .1 env2 | RSET env3 | .3 env5 | .5 — message 4 is refused locally
		{"pipelined", smtptest.Config{DisableChunking: true, RcptFunc: refuse}, 6},
		{"lock-step", smtptest.Config{DisableChunking: true, DisablePipelining: true, RcptFunc: refuse}, 0},
		{"chunking", smtptest.Config{RcptFunc: refuse}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, tt.cfg)
			counted := &countingConn{Conn: s.Pipe()}
			ctx := ctxTimeout(t)
			c, err := session.NewClient(ctx, counted, serverName, opts())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			results := c.SendBatch(ctx, batch())
			var got []resultView
			for _, r := range results {
				v := resultView{Err: kind(r.Err)}
				if r.Result != nil {
					v.Refused = refusedOf(r.Result.Refused)
				}
				got = append(got, v)
			}
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("results (-want +got):\n%s", diff)
			}
			if tt.wantWrites > 0 {
				if n := counted.writes.Load(); n != tt.wantWrites {
					t.Errorf("writes = %d, want %d", n, tt.wantWrites)
				}
			}
			ws := wantStored
			if !tt.cfg.DisableChunking {
				ws = nil
				for _, m := range wantStored {
					m.Chunked = true
					ws = append(ws, m)
				}
			}
			if diff := cmp.Diff(ws, storedOf(s.Messages()), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("stored (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSendBatchDisconnect: the connection drops after the second
// message's data; the first is delivered, the second unknown, the rest
// not sent.
func TestSendBatchDisconnect(t *testing.T) {
	n := 0
	s := newServer(t, smtptest.Config{DisableChunking: true, Hook: func(ev smtptest.HookEvent) smtptest.Action {
		if ev.Kind == smtptest.HookDataEnd {
			n++
			if n == 2 {
				return smtptest.Action{Disconnect: true}
			}
		}
		return smtptest.Action{}
	}})
	c := connect(t, transports[0], s, nil)
	var msgs []session.Envelope
	for i := range 4 {
		msgs = append(msgs, session.Envelope{From: "a@x.test", To: []string{fmt.Sprintf("r%d@y.test", i)}, Body: strings.NewReader("m\r\n")})
	}
	res := c.SendBatch(ctxTimeout(t), msgs)
	if res[0].Err != nil {
		t.Errorf("message 0: %v", res[0].Err)
	}
	if !errors.Is(res[1].Err, session.ErrDeliveryUnknown) {
		t.Errorf("message 1: %v, want ErrDeliveryUnknown", res[1].Err)
	}
	for i := 2; i < 4; i++ {
		if res[i].Err == nil || errors.Is(res[i].Err, session.ErrDeliveryUnknown) {
			t.Errorf("message %d: %v, want a plain failure", i, res[i].Err)
		}
		if !errors.Is(res[i].Err, session.ErrServerDisconnected) && !errors.Is(res[i].Err, session.ErrClosed) {
			t.Errorf("message %d: %v, want disconnected/closed", i, res[i].Err)
		}
	}
}

// TestPipeliningLatency shows the round trips saved on a slow link.
func TestPipeliningLatency(t *testing.T) {
	s := newServer(t, smtptest.Config{DisableChunking: true})
	lat := transport.NewLatencyConn(s.Pipe(), time.Millisecond)
	ctx := ctxTimeout(t)
	c, err := session.NewClient(ctx, lat, serverName, opts())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var msgs []session.Envelope
	for range 10 {
		msgs = append(msgs, session.Envelope{From: "a@x.test", To: []string{"b@y.test", "c@y.test"}, Body: strings.NewReader("m\r\n")})
	}
	for i, r := range c.SendBatch(ctx, msgs) {
		if r.Err != nil {
			t.Fatalf("message %d: %v", i, r.Err)
		}
	}
	// EHLO, then one round trip per message, then the last end of data.
	if got := lat.RoundTrips(); got != 12 {
		t.Errorf("round trips for 10 pipelined messages = %d, want 12", got)
	}
}

// TestSendBatchPipeliningDisabled: when the caller disables pipelining
// the batch must go in lock-step even though the server offers
// PIPELINING: the next MAIL waits for the previous message's final reply.
func TestSendBatchPipeliningDisabled(t *testing.T) {
	batch := func() []session.Envelope {
		var b []session.Envelope
		for _, body := range []string{"one\r\n", "two\r\n", "three\r\n"} {
			b = append(b, session.Envelope{From: "a@x.test", To: []string{"b@y.test"}, Body: strings.NewReader(body)})
		}
		return b
	}
	for _, tt := range []struct {
		name string
		cfg  smtptest.Config
		o    session.Options
	}{
		{"server without PIPELINING", smtptest.Config{DisableChunking: true, DisablePipelining: true}, session.Options{}},
		{"client disables it", smtptest.Config{DisableChunking: true}, session.Options{DisablePipelining: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, tt.cfg)
			counted := &countingConn{Conn: s.Pipe()}
			lat := transport.NewLatencyConn(counted, 0)
			o := tt.o
			o.LocalName = "client.test"
			ctx := ctxTimeout(t)
			c, err := session.NewClient(ctx, lat, serverName, &o)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for i, r := range c.SendBatch(ctx, batch()) {
				if r.Err != nil {
					t.Fatalf("message %d: %v", i, r.Err)
				}
			}
			// EHLO, then per message MAIL | RCPT | DATA | body and dot.
			if got, want := lat.RoundTrips(), int64(1+3*4); got != want {
				t.Errorf("round trips = %d, want %d (lock-step)", got, want)
			}
			if got := len(s.Messages()); got != 3 {
				t.Errorf("stored %d messages, want 3", got)
			}
		})
	}
}

// SendBatch with PIPELINING and CHUNKING keeps a window of messages in
// flight: 64 messages cost a few round trips (one per window, not one
// per message), and a single SendMail one round trip.
func TestBatchWindowRoundTrips(t *testing.T) {
	for _, tt := range []struct {
		name    string
		msgs    int
		window  int
		maxRTTs int64 // after the greeting and EHLO
	}{
		{"one message", 1, 0, 1},
		{"64 messages, window 16", 64, 0, 4},
		{"64 messages, window 8", 64, 8, 8},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, smtptest.Config{})
			lat := transport.NewLatencyConn(s.Pipe(), 0)
			ctx := ctxTimeout(t)
			c, err := session.NewClient(ctx, lat, serverName, &session.Options{LocalName: "client.test", BatchWindow: tt.window})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.EhloOrHeloIfNeeded(ctx); err != nil {
				t.Fatal(err)
			}
			before := lat.RoundTrips()
			var envs []session.Envelope
			for i := range tt.msgs {
				envs = append(envs, session.Envelope{From: "a@x.test", To: []string{"b@y.test"},
					Body: strings.NewReader("Subject: " + strconv.Itoa(i) + "\r\n\r\nhi\r\n")})
			}
			for i, r := range c.SendBatch(ctx, envs) {
				if r.Err != nil {
					t.Fatalf("message %d: %v", i, r.Err)
				}
			}
			t.Logf("%d messages: %d round trips", tt.msgs, lat.RoundTrips()-before)
			if got := lat.RoundTrips() - before; got > tt.maxRTTs {
				t.Errorf("%d messages took %d round trips, want at most %d", tt.msgs, got, tt.maxRTTs)
			}
			if n := len(s.Messages()); n != tt.msgs {
				t.Errorf("%d messages stored, want %d", n, tt.msgs)
			}
		})
	}
}

// An empty batch sends nothing and returns no results (it used to index
// the last message of none).
func TestSendBatchEmpty(t *testing.T) {
	s := newServer(t, smtptest.Config{})
	c := connect(t, transports[0], s, nil)
	if got := c.SendBatch(ctxTimeout(t), nil); len(got) != 0 {
		t.Fatalf("SendBatch(nil) = %v, want no results", got)
	}
	if _, err := c.Noop(ctxTimeout(t)); err != nil {
		t.Fatalf("Noop after an empty batch: %v", err)
	}
	if n := len(s.Messages()); n != 0 {
		t.Fatalf("%d messages stored", n)
	}
}
