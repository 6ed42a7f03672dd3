package session_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/postwire/postwire/session"
)

// poolRawServer is a scripted SMTP server on loopback that speaks raw bytes
// and shares no code with the client or smtptest: it greets, answers
// every command line with a fixed default unless answer says otherwise,
// and records the bodies it read. It offers no extensions, so the client
// waits for each reply before the next command.
type poolRawServer struct {
	t      *testing.T
	ln     net.Listener
	answer func(conn int, verb string) (reply string, hangUp bool)
	wg     sync.WaitGroup

	mu     sync.Mutex
	conns  int
	bodies []rawBody
}

// rawBody is a message body the raw server read, and on which connection.
type rawBody struct {
	Conn int
	Body string
}

// rawDefaults are the replies to each verb when answer gives "".
var rawDefaults = map[string]string{
	"EHLO": "250 raw.test\r\n",
	"MAIL": "250 2.1.0 ok\r\n",
	"RCPT": "250 2.1.5 ok\r\n",
	"DATA": "354 go ahead\r\n",
	".":    "250 2.0.0 queued\r\n",
	"RSET": "250 2.0.0 reset\r\n",
	"NOOP": "250 2.0.0 ok\r\n",
	"QUIT": "221 2.0.0 bye\r\n",
}

// newPoolRawServer listens on 127.0.0.1 and serves until the test ends.
// answer may be nil (always the defaults).
func newPoolRawServer(t *testing.T, answer func(conn int, verb string) (string, bool)) *poolRawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &poolRawServer{t: t, ln: ln, answer: answer}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *poolRawServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns++
		n := s.conns
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			s.converse(n, c)
		}()
	}
}

// converse runs one connection: a line at a time, DATA's body up to its
// final dot (answered as the verb ".").
func (s *poolRawServer) converse(n int, c net.Conn) {
	r := bufio.NewReader(c)
	if _, err := c.Write([]byte("220 raw.test ESMTP\r\n")); err != nil {
		return
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		verb := strings.ToUpper(strings.Fields(line + " x")[0])
		if !s.reply(n, c, verb) {
			return
		}
		if verb != "DATA" {
			continue
		}
		var body strings.Builder
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if l == ".\r\n" {
				break
			}
			body.WriteString(strings.TrimPrefix(l, "."))
		}
		s.mu.Lock()
		s.bodies = append(s.bodies, rawBody{Conn: n, Body: body.String()})
		s.mu.Unlock()
		if !s.reply(n, c, ".") {
			return
		}
	}
}

// reply answers verb; false when the connection is to end.
func (s *poolRawServer) reply(n int, c net.Conn, verb string) bool {
	reply, hangUp := "", false
	if s.answer != nil {
		reply, hangUp = s.answer(n, verb)
	}
	if reply == "-" { // say nothing, keep listening
		return true
	}
	if reply == "" && !hangUp {
		reply = rawDefaults[verb]
		if reply == "" {
			reply = "500 5.5.2 unknown command\r\n"
		}
	}
	if _, err := c.Write([]byte(reply)); err != nil {
		return false
	}
	return !hangUp && verb != "QUIT"
}

// results returns the number of connections and the bodies read so far.
func (s *poolRawServer) results() (int, []rawBody) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns, append([]rawBody(nil), s.bodies...)
}

// dialer returns a PoolOptions.Dial for s.
func (s *poolRawServer) dialer(o *session.Options) func(context.Context) (*session.Client, error) {
	return func(ctx context.Context) (*session.Client, error) {
		return session.Dial(ctx, s.ln.Addr().String(), o)
	}
}

// TestPoolRawServer checks the pool's re-send rule against a server
// scripted byte by byte: a 421 to MAIL is sent again on a new connection,
// a message whose final reply never came is not, and neither is one whose
// connection failed after its MAIL.
func TestPoolRawServer(t *testing.T) {
	const body = "Subject: t\r\n\r\nhello\r\n"
	mail421 := func(conn int, verb string) (string, bool) {
		if verb == "MAIL" {
			return "421 4.7.0 too many messages on this connection\r\n", true
		}
		return "", false
	}
	tests := []struct {
		name      string
		answer    func(conn int, verb string) (string, bool)
		checkIdle bool          // CheckIdle tiny: NOOP before every reuse
		mailWait  time.Duration // Options.Timeouts.Mail
		wantErr   []error
		wantConns int
		wantBody  []rawBody
		wantStats session.PoolStats
	}{{
		name: "421 to MAIL is sent again on a new connection",
		answer: func(conn int, verb string) (string, bool) {
			if conn == 1 {
				return mail421(conn, verb)
			}
			return "", false
		},
		wantErr:   []error{nil},
		wantConns: 2,
		wantBody:  []rawBody{{2, body}},
		wantStats: session.PoolStats{Sent: 1, Retried: 1, Dials: 2},
	}, {
		name:      "421 to every MAIL: re-sends are bounded",
		answer:    mail421,
		wantErr:   []error{session.ErrServerDisconnected},
		wantConns: 3,
		wantStats: session.PoolStats{Refused: 1, Retried: 2, Dials: 3},
	}, {
		name: "no reply after the data: unknown, never sent again",
		answer: func(conn int, verb string) (string, bool) {
			return "", verb == "."
		},
		wantErr:   []error{session.ErrDeliveryUnknown},
		wantConns: 1,
		wantBody:  []rawBody{{1, body}},
		wantStats: session.PoolStats{Unknown: 1, Dials: 1},
	}, {
		name: "hang-up after MAIL: not sent again",
		answer: func(conn int, verb string) (string, bool) {
			return "", verb == "RCPT"
		},
		wantErr:   []error{session.ErrServerDisconnected},
		wantConns: 1,
		wantStats: session.PoolStats{Failed: 1, Dials: 1},
	}, {
		name: "no reply to MAIL: time-out, not sent again, the next message goes on a new connection",
		answer: func(conn int, verb string) (string, bool) {
			if conn == 1 && verb == "MAIL" {
				return "-", false
			}
			return "", false
		},
		mailWait:  50 * time.Millisecond,
		wantErr:   []error{session.ErrTimeout, nil},
		wantConns: 2,
		wantBody:  []rawBody{{2, body}},
		wantStats: session.PoolStats{Sent: 1, Failed: 1, Dials: 2},
	}, {
		name: "connection dropped while idle: NOOP finds out, the next message goes on a new one",
		answer: func(conn int, verb string) (string, bool) {
			if verb == "." {
				return "250 2.0.0 queued\r\n", true // then close in silence
			}
			return "", false
		},
		checkIdle: true,
		wantErr:   []error{nil, nil},
		wantConns: 2,
		wantBody:  []rawBody{{1, body}, {2, body}},
		wantStats: session.PoolStats{Sent: 2, Dials: 2},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newPoolRawServer(t, tc.answer)
			co := opts()
			co.Timeouts.Mail = tc.mailWait
			o := session.PoolOptions{Dial: srv.dialer(co), MaxConns: 1}
			if tc.checkIdle {
				o.CheckIdle = 1 // nanosecond: before every reuse
			}
			p := newPool(t, o)
			ctx := ctxTimeout(t)
			for i, want := range tc.wantErr {
				_, err := p.Send(ctx, session.Envelope{From: "a@x.test", To: []string{"b@y.test"}, Body: strings.NewReader(body)})
				if want == nil && err != nil || want != nil && !errors.Is(err, want) {
					t.Errorf("message %d: error %v, want %v", i, err, want)
				}
			}
			if err := p.Close(ctx); err != nil {
				t.Fatalf("Close: %v", err)
			}
			conns, bodies := srv.results()
			if conns != tc.wantConns {
				t.Errorf("%d connections, want %d", conns, tc.wantConns)
			}
			if diff := cmp.Diff(tc.wantBody, bodies); diff != "" {
				t.Errorf("bodies (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantStats, p.Stats()); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
		})
	}
}

// newPool returns a pool closed (hard) at the end of the test.
func newPool(t *testing.T, o session.PoolOptions) *session.Pool {
	t.Helper()
	p, err := session.NewPool(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		p.Close(ctx)
	})
	return p
}
