package session_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/session/smtptest"
)

// tcpDialer starts listening on loopback and returns a PoolOptions.Dial
// for s that counts its calls.
func tcpDialer(t *testing.T, s *smtptest.Server, calls *atomic.Int64) func(context.Context) (*session.Client, error) {
	t.Helper()
	addr, err := s.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return func(ctx context.Context) (*session.Client, error) {
		if calls != nil {
			calls.Add(1)
		}
		return session.Dial(ctx, addr.String(), opts())
	}
}

func testEnvelope(i int) session.Envelope {
	return session.Envelope{From: "a@x.test", To: []string{"b@y.test"}, Body: strings.NewReader(fmt.Sprintf("Subject: %d\r\n\r\nbody\r\n", i))}
}

// connIDs lists, per stored message, the connection it came over.
func connIDs(s *smtptest.Server) []int {
	var ids []int
	for _, m := range s.Messages() {
		ids = append(ids, m.ConnID)
	}
	return ids
}

// quitted reports, per connection, whether the client sent QUIT.
func quitted(s *smtptest.Server) []bool {
	var q []bool
	for _, c := range s.Conns() {
		q = append(q, bytes.HasSuffix(c.Received, []byte("QUIT\r\n")))
	}
	return q
}

// TestPoolReuse: messages sent one after the other share a connection, up
// to MaxMessagesPerConn, after which the pool QUITs it and dials another.
func TestPoolReuse(t *testing.T) {
	tests := []struct {
		name      string
		perConn   int
		messages  int
		wantConns []int
		wantQuit  []bool
	}{
		{"unlimited", 0, 5, []int{1, 1, 1, 1, 1}, []bool{true}},
		{"MaxMessagesPerConn 2", 2, 5, []int{1, 1, 2, 2, 3}, []bool{true, true, true}},
		{"MaxMessagesPerConn 1", 1, 3, []int{1, 2, 3}, []bool{true, true, true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, smtptest.Config{})
			p := newPool(t, session.PoolOptions{Dial: tcpDialer(t, srv, nil), MaxMessagesPerConn: tc.perConn})
			ctx := ctxTimeout(t)
			for i := range tc.messages {
				if _, err := p.Send(ctx, testEnvelope(i)); err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
			}
			if err := p.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if err := srv.WaitConns(ctx, len(tc.wantQuit)); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantConns, connIDs(srv)); diff != "" {
				t.Errorf("connection per message (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantQuit, quitted(srv)); diff != "" {
				t.Errorf("QUIT per connection (-want +got):\n%s", diff)
			}
			if st := p.Stats(); st.Dials != uint64(len(tc.wantQuit)) || st.Open != 0 {
				t.Errorf("stats %+v, want %d dials and none open", st, len(tc.wantQuit))
			}
		})
	}
}

// TestPoolIdleTimeout: an idle connection is QUIT and closed; the next
// message dials again.
func TestPoolIdleTimeout(t *testing.T) {
	srv := newServer(t, smtptest.Config{})
	p := newPool(t, session.PoolOptions{Dial: tcpDialer(t, srv, nil), IdleTimeout: time.Millisecond})
	ctx := ctxTimeout(t)
	if _, err := p.Send(ctx, testEnvelope(0)); err != nil {
		t.Fatal(err)
	}
	// The server sees the conversation end only if the pool ended it.
	if err := srv.WaitConns(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Open != 0 {
		t.Errorf("%d connections open after the idle time-out", st.Open)
	}
	if _, err := p.Send(ctx, testEnvelope(1)); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{1, 2}, connIDs(srv)); diff != "" {
		t.Errorf("connection per message (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]bool{true, true}, quitted(srv)); diff != "" {
		t.Errorf("QUIT per connection (-want +got):\n%s", diff)
	}
}

// TestPoolDialFailure: failed dials are retried after a back-off; a
// message gets the dial error after three, or its context's error
// (wrapping the dial error) when its context ends first.
func TestPoolDialFailure(t *testing.T) {
	dialErr := errors.New("no route to the test server")
	tests := []struct {
		name      string
		cancelAt  int           // cancel the message's context during this dial (0: never)
		timeout   time.Duration // the message's context's time-out (0: none)
		wantDials int           // 0: one, or two if the machine is slow enough that the deadline's timer runs late
		wantErr   []error
	}{
		{"three dials, then the dial error", 0, 0, 3, []error{dialErr}},
		{"context cancelled during the first dial", 1, 0, 1, []error{context.Canceled, dialErr}},
		{"context cancelled during the second dial", 2, 0, 2, []error{context.Canceled, dialErr}},
		// The first back-off is at least 50 ms: the message is waiting.
		// (ctx.Err turns non-nil only once the deadline's timer has run,
		// which on a loaded machine may be after the back-off.)
		{"deadline during the back-off", 0, 30 * time.Millisecond, 0, []error{context.DeadlineExceeded, dialErr}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(ctxTimeout(t))
			defer cancel()
			if tc.timeout > 0 {
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			var (
				mu    sync.Mutex
				times []time.Time
			)
			p := newPool(t, session.PoolOptions{Dial: func(context.Context) (*session.Client, error) {
				mu.Lock()
				defer mu.Unlock()
				times = append(times, time.Now())
				if len(times) == tc.cancelAt {
					cancel()
				}
				return nil, dialErr
			}})
			_, err := p.Send(ctx, testEnvelope(0))
			for _, want := range tc.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("error %v, want one matching %v", err, want)
				}
			}
			if err := p.Close(ctxTimeout(t)); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if n := len(times); tc.wantDials != 0 && n != tc.wantDials || tc.wantDials == 0 && (n < 1 || n > 2) {
				t.Errorf("%d dials, want %d (0: one or two)", n, tc.wantDials)
			}
			// The back-off is at least half of 100 ms, then of 200 ms.
			for i := 1; i < len(times); i++ {
				if gap, min := times[i].Sub(times[i-1]), 50*time.Millisecond<<(i-1); gap < min {
					t.Errorf("dial %d came %v after the previous one, want at least %v", i+1, gap, min)
				}
			}
			want := session.PoolStats{Failed: 1, Dials: uint64(len(times)), DialErrors: uint64(len(times))}
			if diff := cmp.Diff(want, p.Stats()); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
		})
	}
}

// gate holds the server at the end of each message's data until released.
type gate struct {
	arrived chan struct{} // one value per message held
	release chan struct{}
	once    sync.Once
}

func newGate(t *testing.T) *gate {
	g := &gate{arrived: make(chan struct{}, 100), release: make(chan struct{})}
	t.Cleanup(g.open)
	return g
}

func (g *gate) open() { g.once.Do(func() { close(g.release) }) }

func (g *gate) hook(ev smtptest.HookEvent) smtptest.Action {
	if ev.Kind == smtptest.HookDataEnd {
		g.arrived <- struct{}{}
		<-g.release
	}
	return smtptest.Action{}
}

// closeStarted waits until Close has begun, which the pool shows by
// refusing new messages (sent with a context already ended, so that a
// message queued before that returns at once).
func closeStarted(t *testing.T, p *session.Pool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for {
		if _, err := p.Send(ctx, testEnvelope(-1)); errors.Is(err, session.ErrClosed) {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// TestPoolClose: Close waits for the messages queued and in flight, QUITs
// every connection, and makes Send fail with ErrClosed; when its context
// ends first it closes the connections hard.
func TestPoolClose(t *testing.T) {
	for _, hard := range []bool{false, true} {
		t.Run(fmt.Sprintf("hard=%v", hard), func(t *testing.T) {
			g := newGate(t)
			srv := newServer(t, smtptest.Config{Hook: g.hook})
			p := newPool(t, session.PoolOptions{Dial: tcpDialer(t, srv, nil), MaxConns: 2, MaxBatch: 1})
			ctx := ctxTimeout(t)
			const n = 6
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = p.Send(ctx, testEnvelope(i))
				}()
			}
			<-g.arrived // both connections hold a message at the end of its data
			<-g.arrived
			for p.Stats().Queued < n-2 { // and the others wait
				time.Sleep(time.Millisecond)
			}
			closeCtx, cancel := context.WithCancel(ctx)
			closed := make(chan error, 1)
			go func() { closed <- p.Close(closeCtx) }()
			closeStarted(t, p)
			if hard {
				cancel()
				if err := <-closed; !errors.Is(err, context.Canceled) {
					t.Errorf("Close: %v, want context.Canceled", err)
				}
				g.open()
				wg.Wait()
				var unknown, notSent int
				for _, err := range errs {
					switch {
					case errors.Is(err, session.ErrDeliveryUnknown):
						unknown++
					case errors.Is(err, session.ErrClosed):
						notSent++
					default:
						t.Errorf("error %v, want unknown delivery or ErrClosed", err)
					}
				}
				if unknown != 2 || notSent != n-2 {
					t.Errorf("%d unknown and %d not sent, want 2 and %d", unknown, notSent, n-2)
				}
			} else {
				g.open()
				if err := <-closed; err != nil {
					t.Errorf("Close: %v", err)
				}
				wg.Wait()
				for i, err := range errs {
					if err != nil {
						t.Errorf("message %d: %v", i, err)
					}
				}
				if len(srv.Messages()) != n {
					t.Errorf("%d messages stored, want %d", len(srv.Messages()), n)
				}
				if diff := cmp.Diff([]bool{true, true}, quitted(srv)); diff != "" {
					t.Errorf("QUIT per connection (-want +got):\n%s", diff)
				}
			}
			cancel()
			if st := p.Stats(); st.Open != 0 {
				t.Errorf("%d connections open after Close", st.Open)
			}
			if _, err := p.Send(ctx, testEnvelope(0)); !errors.Is(err, session.ErrClosed) {
				t.Errorf("Send after Close: %v, want ErrClosed", err)
			}
		})
	}
}

// TestPoolOptions: a pool without Dial cannot be made, and a nil context
// is refused.
func TestPoolOptions(t *testing.T) {
	if _, err := session.NewPool(session.PoolOptions{}); err == nil {
		t.Error("NewPool without Dial: no error")
	}
	p := newPool(t, session.PoolOptions{Dial: func(context.Context) (*session.Client, error) { return nil, nil }})
	//lint:ignore SA1012 testing the nil check
	if _, err := p.Send(nil, testEnvelope(0)); !errors.Is(err, session.ErrNilContext) {
		t.Errorf("Send(nil): %v, want ErrNilContext", err)
	}
	if _, err := p.Send(ctxTimeout(t), testEnvelope(0)); err == nil || !strings.Contains(err.Error(), "no Client") {
		t.Errorf("Dial returning nil, nil: %v", err)
	}
}

// TestPoolBatch: messages that wait for a busy connection are handed to
// it together and pipelined behind each other (fewer writes than one
// SendMail each), up to MaxBatch at once.
func TestPoolBatch(t *testing.T) {
	const waiting = 5
	writes := make(map[int]int64)
	for _, maxBatch := range []int{1, 16} {
		t.Run(fmt.Sprintf("MaxBatch=%d", maxBatch), func(t *testing.T) {
			g := newGate(t)
			srv := newServer(t, smtptest.Config{DisableChunking: true, Hook: func(ev smtptest.HookEvent) smtptest.Action {
				if ev.Kind == smtptest.HookDataEnd && ev.Conn.ID == 1 && ev.Message.Size == int64(len("Subject: 0\r\n\r\nbody\r\n")) {
					return g.hook(ev) // hold the first message
				}
				return smtptest.Action{}
			}})
			var conn *countingConn
			p := newPool(t, session.PoolOptions{MaxConns: 1, MaxBatch: maxBatch, Dial: func(ctx context.Context) (*session.Client, error) {
				conn = &countingConn{Conn: srv.Pipe()}
				return session.NewClient(ctx, conn, serverName, opts())
			}})
			ctx := ctxTimeout(t)
			var wg sync.WaitGroup
			send := func(i int) {
				defer wg.Done()
				if _, err := p.Send(ctx, testEnvelope(i)); err != nil {
					t.Errorf("message %d: %v", i, err)
				}
			}
			wg.Add(1 + waiting)
			go send(0)
			<-g.arrived
			for i := 1; i <= waiting; i++ {
				go send(i)
			}
			for p.Stats().Queued < waiting {
				time.Sleep(time.Millisecond)
			}
			before := conn.writes.Load()
			g.open()
			wg.Wait()
			writes[maxBatch] = conn.writes.Load() - before
			if got := connIDs(srv); len(got) != 1+waiting {
				t.Errorf("%d messages stored, want %d", len(got), 1+waiting)
			}
		})
	}
	if writes[16] >= writes[1] {
		t.Errorf("%d writes for %d messages in one batch, %d one at a time", writes[16], waiting, writes[1])
	}
	t.Logf("writes for %d messages: %d one at a time, %d in one batch", waiting, writes[1], writes[16])
}

// TestPoolCancelInBatch: a caller whose context ends while its message is
// being sent, pipelined with another caller's, does not abort the
// connection: both messages are sent and the result says what the server
// did.
func TestPoolCancelInBatch(t *testing.T) {
	hold := map[string]*gate{"Subject: 0": newGate(t), "Subject: 1": newGate(t)}
	srv := newServer(t, smtptest.Config{Hook: func(ev smtptest.HookEvent) smtptest.Action {
		if ev.Kind == smtptest.HookDataEnd {
			if g := hold[string(bytes.SplitN(ev.Message.Data, []byte("\r\n"), 2)[0])]; g != nil {
				return g.hook(ev)
			}
		}
		return smtptest.Action{}
	}})
	p := newPool(t, session.PoolOptions{Dial: tcpDialer(t, srv, nil), MaxConns: 1})
	ctx := ctxTimeout(t)
	ctxA, cancelA := context.WithCancel(ctx)
	defer cancelA()
	errs := make([]error, 3)
	var wg sync.WaitGroup
	send := func(ctx context.Context, i int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = p.Send(ctx, testEnvelope(i))
		}()
	}
	send(ctx, 0)
	<-hold["Subject: 0"].arrived // the connection is busy: the next two wait together
	send(ctxA, 1)
	send(ctx, 2)
	for p.Stats().Queued < 2 {
		time.Sleep(time.Millisecond)
	}
	hold["Subject: 0"].open()
	<-hold["Subject: 1"].arrived // message 1 is in flight, message 2 behind it
	cancelA()
	hold["Subject: 1"].open()
	wg.Wait()
	if diff := cmp.Diff([]error{nil, nil, nil}, errs, cmpopts.EquateErrors()); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{1, 1, 1}, connIDs(srv)); diff != "" {
		t.Errorf("connection per stored message (-want +got):\n%s", diff)
	}
}
